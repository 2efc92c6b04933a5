// "codon" / "codon:frame=F,table=T": codons in one reading frame, with single-base fallback.
//
// The hybrid layout suggested for Life-Code-style models (specials + 64 codons + single bases for
// what is not a whole codon); the vocabulary is strand's own:
//   0 <pad>  1 <unk>  2 <cls>  3 <eos>  4 <mask>
//   5..68    the 64 codons in lexicographic A,C,G,T order: id = 5 + 16a + 4b + c with
//            A=0, C=1, G=2, T=3 (AAA=5, AAC=6, ..., TTT=68)
//   69 A  70 C  71 G  72 T  73 N   single bases
//
// encode reads DNA or RNA (U as T), case-insensitively:
//   - the first `frame` bytes (0, 1 or 2) are single-base tokens, then the text is cut into
//     codons from byte `frame` on, and the 1 or 2 bytes left at the end are single-base tokens;
//   - a codon holding any byte other than A C G T/U is written as three single-base tokens
//     instead, so a stretch of Ns never shifts the frame;
//   - as a single-base token, an IUPAC ambiguity code (N R Y ...) becomes N and any other byte
//     (gap, digit, '*', ...) becomes <unk>.
// <cls> is prepended and <eos> appended. Offsets: a codon spans its 3 bytes, a single base 1.
// decode writes the bases of each token (upper case, T for U); a decoded sequence has the same
// length as the text.
//
// Complement map: each codon to its reverse complement and A<->T, C<->G, N<->N; specials to
// themselves. reverse_complement_ids(encode(s)) decodes to the reverse complement of s; its
// codons lie in the reverse strand's frame that ends where the forward frame began.
//
// Amino-acid view: amino_acid(id) and translate(ids) use the NCBI genetic code `table`
// (default 1, the standard code).
// Immutable; every const member is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bio/genetic_code.h"
#include "libseq/tokenize/byte_kernels.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio {

struct CodonTokenizerOptions {
  int frame = 0;  ///< 0, 1 or 2: bytes before the first codon
  int table = 1;  ///< NCBI genetic code id for the amino-acid view
};

class CodonTokenizer final : public tokenize::Tokenizer {
 public:
  static constexpr tokenize::TokenId kPad = 0;
  static constexpr tokenize::TokenId kUnk = 1;
  static constexpr tokenize::TokenId kCls = 2;
  static constexpr tokenize::TokenId kEos = 3;
  static constexpr tokenize::TokenId kMask = 4;
  static constexpr tokenize::TokenId kFirstCodon = 5;
  static constexpr tokenize::TokenId kFirstSingle = 69;  ///< A; then C, G, T, N

  /// Throws ConfigError for a frame outside 0..2 or a table that is not an NCBI genetic code id.
  explicit CodonTokenizer(CodonTokenizerOptions options = {});

  std::string type() const override { return "codon"; }
  /// {"frame": F, "table": T}
  nlohmann::json options() const override;
  std::optional<std::vector<tokenize::TokenId>> complement_ids() const override { return complement_; }
  const CodonTokenizerOptions& codon_options() const noexcept { return options_; }
  const GeneticCode& genetic_code() const noexcept { return *code_; }

  /// True for the 64 codon ids.
  static bool is_codon(tokenize::TokenId id) noexcept { return id >= kFirstCodon && id < kFirstSingle; }
  /// The amino acid of a codon token ('*' for a stop) under the tokenizer's table; nullopt for
  /// every other id. Throws InputError for an id outside the vocabulary.
  std::optional<char> amino_acid(tokenize::TokenId id) const;
  /// Translates token ids as produced by encode (with or without special tokens): the bases of
  /// all tokens, <unk> read as N, are joined and read in codons from byte `frame` on; a codon with
  /// N or an ambiguity code gives the residue all its expansions agree on, else 'X' (see
  /// GeneticCode::translate); a trailing partial codon is dropped. <pad>, <cls> and <eos> are
  /// ignored. Throws InputError for <mask> (its bases are unknown, even how many) and for ids
  /// outside the vocabulary.
  std::string translate(const std::vector<tokenize::TokenId>& ids) const;

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  CodonTokenizerOptions options_;
  const GeneticCode* code_;
  tokenize::ByteTable codes_;
  std::vector<tokenize::TokenId> complement_;
};

}  // namespace strand::bio
