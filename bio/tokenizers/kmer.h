// "kmer-overlap:K": overlapping k-mers with stride 1 (the DNABERT scheme), K in 3..8.
//
// Vocabulary (5 + 4^K ids):
//   0 [PAD]  1 [UNK]  2 [CLS]  3 [SEP]  4 [MASK]
//   5 ..     the 4^K k-mers in lexicographic A,C,G,T order: id = 5 + the base-4 number of the
//            k-mer with A=0, C=1, G=2, T=3, first base most significant (AAA..A = 5, TTT..T = 4+4^K)
// This layout is strand's own. DNABERT-1's vocab.txt lists the same specials but orders k-mers
// differently, so DNABERT checkpoints need an id remapping through their vocab.txt.
//
// encode: a text of n >= K bytes gives n - K + 1 tokens, token i being the k-mer at [i, i + K)
// (its offsets); a text shorter than K gives no content tokens (only [CLS] [SEP]). Bases are
// read case-insensitively with U as T; a window holding any other byte (N, ambiguity codes,
// gaps, ...) is [UNK]. [CLS] is prepended and [SEP] appended.
//
// decode rebuilds the sequence from the overlaps: a run of consecutive content tokens ([UNK]
// and [MASK] included, each standing for one window) covers run + K - 1 bases; each base is
// taken from the first k-mer token covering it, and bases no k-mer covers are written 'N'. So
// decode(encode(s)) is s upper-cased, U as T, with every non-ACGT byte as N, except that an A/C/G/T
// within K-1 bases of such a byte also becomes N when no all-ACGT window covers it. [PAD], [CLS]
// and [SEP] end a run and are written as their strings unless skip_special.
//
// Complement map: each k-mer to its reverse complement, specials to themselves. For content
// tokens this is exact: reverse_complement_ids(encode(s)) equals encode(reverse_complement(s))
// up to the [CLS]/[SEP] positions.
// Immutable; every const member is thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libseq/tokenize/byte_kernels.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio {

class OverlappingKmerTokenizer final : public tokenize::Tokenizer {
 public:
  static constexpr int kMinK = 3;
  static constexpr int kMaxK = 8;
  static constexpr tokenize::TokenId kPad = 0;
  static constexpr tokenize::TokenId kUnk = 1;
  static constexpr tokenize::TokenId kCls = 2;
  static constexpr tokenize::TokenId kSep = 3;
  static constexpr tokenize::TokenId kMask = 4;
  static constexpr tokenize::TokenId kFirstKmer = 5;

  /// Throws ConfigError when k is outside 3..8.
  explicit OverlappingKmerTokenizer(int k);

  std::string type() const override { return "kmer-overlap"; }
  /// {"k": K}
  nlohmann::json options() const override { return {{"k", k_}}; }
  std::optional<std::vector<tokenize::TokenId>> complement_ids() const override { return complement_; }
  int k() const noexcept { return k_; }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;
  void decode_content(const tokenize::TokenId* ids, size_t count, bool skip_special, std::string& out) const override;

 private:
  int k_;
  tokenize::ByteTable codes_;
  std::vector<tokenize::TokenId> complement_;
};

}  // namespace strand::bio
