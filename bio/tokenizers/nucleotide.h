// Character-level nucleotide tokenizers: strand's own "char" vocabulary and the Caduceus one.
//
// Both read DNA or RNA one byte per token, case-insensitively, through a 256-entry table (the
// encode hot path is one vectorised table lookup per byte). Offsets are [i, i + 1). Decoding
// writes upper-case letters. Instances are immutable; every const member is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libseq/tokenize/byte_kernels.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio {

/// For a vocabulary whose non-special tokens are nucleotide strings: complement[id] is the id of
/// the reverse complement of token id (bio::reverse_complement, IUPAC-aware, DNA letters), and
/// special tokens map to themselves. Throws InternalError when a complement is not in the
/// vocabulary (a vocabulary that is not closed under reverse complement has no such map).
std::vector<tokenize::TokenId> nucleotide_complement_map(const tokenize::Tokenizer& tokenizer);

/// What "char" does with the IUPAC ambiguity codes R Y S W K M B D H V.
enum class AmbiguityPolicy {
  ToN,      ///< "n" (default): each becomes N, the one unknown-base token
  Keep,     ///< "keep": each has its own id (after N, or after U when kept)
  Unknown,  ///< "unk": each becomes <unk>
};

struct CharTokenizerOptions {
  AmbiguityPolicy iupac = AmbiguityPolicy::ToN;
  /// false (default): U/u gets T's id, so DNA and RNA of one sequence encode alike and decode as
  /// DNA. true: U has its own id (10) and decodes as U.
  bool keep_u = false;
  /// Record soft-masking (lower-case letters, e.g. RepeatMasker output in genome FASTA) in
  /// Encoding::soft_mask; ids are case-insensitive either way.
  bool soft_mask = false;
};

/// "char": one token per byte.
///
/// Vocabulary (ids):
///   0 <pad>  1 <unk>  2 <cls>  3 <eos>  4 <mask>  5 A  6 C  7 G  8 T  9 N
///   then, in this order when enabled: U (keep_u), R Y S W K M B D H V (iupac = keep).
/// encode adds <cls> before and <eos> after the content. Bytes that are not IUPAC nucleotide
/// codes (gaps '-' '.', digits, '*', non-ASCII, ...) become <unk>, one per byte, so offsets and
/// lengths always match the text.
/// Normalisation seen through decode: upper case; U -> T unless keep_u; ambiguity codes -> N
/// (iupac = n) or dropped as <unk> (iupac = unk, when skipping special tokens).
/// Complement map (complement_ids): A<->T, C<->G, N<->N, kept ambiguity codes to their IUPAC
/// complements (R<->Y, K<->M, B<->V, D<->H, S, W self). With keep_u there is none: A would pair
/// with both T and U, and a complement map must be its own inverse (RC-equivariant models rely
/// on that).
class CharTokenizer final : public tokenize::Tokenizer {
 public:
  explicit CharTokenizer(CharTokenizerOptions options = {});

  std::string type() const override { return "char"; }
  /// {"iupac": "n"|"keep"|"unk", "keep_u": bool, "soft_mask": bool}
  nlohmann::json options() const override;
  bool records_soft_mask() const override { return options_.soft_mask; }
  std::optional<std::vector<tokenize::TokenId>> complement_ids() const override;
  const CharTokenizerOptions& char_options() const noexcept { return options_; }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  CharTokenizerOptions options_;
  tokenize::ByteTable table_;
  std::vector<tokenize::TokenId> complement_;
};

/// "caduceus": the character vocabulary of the released Caduceus models
/// (kuleshov-group/caduceus-{ph,ps}_seqlen-131k_d_model-256_n_layer-16, CaduceusTokenizer):
///   0 [CLS]  1 [SEP]  2 [BOS]  3 [MASK]  4 [PAD]  5 [RESERVED]  6 [UNK]  7 A  8 C  9 G  10 T  11 N
///   12..15 [UNUSED12]..[UNUSED15]
/// The checkpoints' embedding has vocab_size 16 (12 padded to a multiple of 8 by
/// pad_vocab_size_multiple), so vocab_size() is 16 and ids 12-15 are special tokens that encode
/// never produces; their complement is themselves, as in the released complement_map.
/// Like CaduceusTokenizer, encode upper-cases the text, maps every byte other than A C G T N
/// (U and ambiguity codes included) to [UNK], adds no prefix and appends [SEP] (the eos role).
/// Complement map: 7<->10, 8<->9, every other id to itself (the config's complement_map).
/// CaduceusTokenizer pads on the left by default: batches that must match it exactly use
/// BatchOptions::padding_side = Side::Left.
class CaduceusTokenizer final : public tokenize::Tokenizer {
 public:
  CaduceusTokenizer();

  std::string type() const override { return "caduceus"; }
  nlohmann::json options() const override { return nlohmann::json::object(); }
  std::optional<std::vector<tokenize::TokenId>> complement_ids() const override { return complement_; }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  tokenize::ByteTable table_;
  std::vector<tokenize::TokenId> complement_;
};

}  // namespace strand::bio
