#include "bio/tokenizers/kmer.h"

#include <algorithm>

#include "bio/tokenizers/base_codes.h"
#include "bio/tokenizers/nucleotide.h"
#include "libseq/core/error.h"

namespace strand::bio {

using tokenize::Offset;
using tokenize::TokenId;

namespace {
constexpr char kAcgt[4] = {'A', 'C', 'G', 'T'};
// Windows per block; the block's codes (kBlock + K - 1 bytes) live on the stack.
constexpr size_t kBlock = 4096;
}  // namespace

OverlappingKmerTokenizer::OverlappingKmerTokenizer(int k) : k_(k), codes_(base_codes::base_code_table(kAcgt)) {
  if (k < kMinK || k > kMaxK)
    throw ConfigError(strand::detail::str("kmer-overlap: k must be in ", kMinK, "..", kMaxK, ", got ", k));
  const int count = 1 << (2 * k);
  std::vector<std::string> vocab = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  vocab.reserve(static_cast<size_t>(5 + count));
  for (int v = 0; v < count; ++v) {
    std::string kmer(static_cast<size_t>(k), 'A');
    for (int j = 0; j < k; ++j) kmer[static_cast<size_t>(j)] = kAcgt[(v >> (2 * (k - 1 - j))) & 3];
    vocab.push_back(std::move(kmer));
  }
  tokenize::SpecialTokens special;
  special.pad = kPad;
  special.unk = kUnk;
  special.cls = kCls;
  special.eos = kSep;
  special.mask = kMask;
  special.prefix = kCls;
  special.suffix = kSep;
  init_vocabulary(std::move(vocab), special);
  complement_ = nucleotide_complement_map(*this);
}

void OverlappingKmerTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& writer) const {
  const auto k = static_cast<size_t>(k_);
  const size_t n = text.size();
  if (n < k) return;
  const size_t windows = n - k + 1;
  writer.reserve(windows);
  TokenId* ids = writer.ids();
  Offset* offsets = writer.offsets();
  uint8_t codes[kBlock + kMaxK];
  const tokenize::Stores stores = tokenize::stores_for(windows * sizeof(TokenId));
  for (size_t s = 0; s < windows; s += kBlock) {
    const size_t w = std::min(kBlock, windows - s);
    const size_t span = w + k - 1;  // bytes read by the windows [s, s + w)
    const bool all_bases = codes_.map(text.data() + s, span, codes) <= 3;
    TokenId* out = ids + s;
    if (all_bases) {
      tokenize::pack_windows(codes, w, k_, kFirstKmer, out, tokenize::best_isa(), stores);
      continue;
    }
    size_t p = 0;
    while (p < w) {
      // j: the first byte at or after p that is not a base; windows starting before j - k + 1
      // are all bases, windows starting in [j - k + 1, j] contain j.
      const size_t j = p + tokenize::find_first_above(codes + p, span - p, 3);
      const size_t valid_end = std::min(w, j + 1 >= k ? j + 1 - k : 0);
      if (valid_end > p) {
        tokenize::pack_windows(codes + p, valid_end - p, k_, kFirstKmer, out + p, tokenize::best_isa(), stores);
        p = valid_end;
      }
      if (j == span) break;
      for (const size_t unk_end = std::min(w, j + 1); p < unk_end; ++p) out[p] = kUnk;
    }
  }
  if (offsets) {
    for (size_t i = 0; i < windows; ++i)
      offsets[i] = Offset{static_cast<int64_t>(i), static_cast<int64_t>(i + k)};
  }
  writer.commit(windows);
}

void OverlappingKmerTokenizer::decode_content(const TokenId* ids, size_t count, bool skip_special,
                                              std::string& out) const {
  const auto k = static_cast<size_t>(k_);
  size_t i = 0;
  while (i < count) {
    const TokenId id = ids[i];
    if (id == kPad || id == kCls || id == kSep) {
      if (!skip_special) out += token(id);
      ++i;
      continue;
    }
    // A run of windows: k-mers, [UNK] and [MASK].
    size_t end = i;
    while (end < count && ids[end] != kPad && ids[end] != kCls && ids[end] != kSep) ++end;
    const size_t start = out.size();
    out.append(end - i + k - 1, 'N');
    size_t filled = 0;  // bases [0, filled) of the run are final
    for (size_t q = i; q < end; ++q) {
      if (ids[q] < kFirstKmer) continue;
      const std::string& kmer = token(ids[q]);
      const size_t pos = q - i;
      for (size_t b = std::max(filled, pos); b < pos + k; ++b) out[start + b] = kmer[b - pos];
      filled = pos + k;
    }
    i = end;
  }
}

}  // namespace strand::bio
