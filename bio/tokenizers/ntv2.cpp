#include "bio/tokenizers/ntv2.h"

#include <algorithm>

#include "bio/tokenizers/base_codes.h"

namespace strand::bio {

using tokenize::Offset;
using tokenize::TokenId;

namespace {
constexpr char kNtOrder[4] = {'A', 'T', 'C', 'G'};
constexpr int kK = 6;
// Bytes mapped to codes per step; large enough to amortise the per-block work, small enough to
// stay in L1 on the stack.
constexpr size_t kBlock = 4096;
}  // namespace

Ntv2KmerTokenizer::Ntv2KmerTokenizer() : codes_(base_codes::base_code_table(kNtOrder)) {
  std::vector<std::string> vocab = {"<unk>", "<pad>", "<mask>", "<cls>", "<eos>", "<bos>"};
  vocab.reserve(4107);
  for (int v = 0; v < 4096; ++v) {
    std::string kmer(kK, 'A');
    for (int j = 0; j < kK; ++j) kmer[static_cast<size_t>(j)] = kNtOrder[(v >> (2 * (kK - 1 - j))) & 3];
    vocab.push_back(kmer);
  }
  for (const char* s : {"A", "T", "C", "G", "N"}) vocab.emplace_back(s);
  tokenize::SpecialTokens special;
  special.unk = kUnk;
  special.pad = kPad;
  special.mask = kMask;
  special.cls = kCls;
  special.eos = kEos;
  special.bos = kBos;
  special.prefix = kCls;
  init_vocabulary(std::move(vocab), special);
}

void Ntv2KmerTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& writer) const {
  uint8_t codes[kBlock];
  const size_t n = text.size();
  size_t i = 0;  // start of the current block; always the start of a piece or of a 6-mer
  while (i < n) {
    const size_t len = std::min(kBlock, n - i);
    const bool last_block = i + len == n;
    const bool all_bases = codes_.map(text.data() + i, len, codes) <= 3;
    // A block of len bytes gives at most len tokens.
    writer.reserve(len);
    TokenId* ids = writer.ids();
    Offset* offsets = writer.offsets();
    size_t t = 0;
    size_t c = 0;
    while (c < len) {
      const size_t j = all_bases ? len : c + tokenize::find_first_above(codes + c, len - c, 3);
      const size_t m = (j - c) / kK;
      tokenize::pack_chunks(codes + c, m, kK, kFirstKmer, ids + t);
      if (offsets) {
        for (size_t q = 0; q < m; ++q) {
          const auto b = static_cast<int64_t>(i + c + q * kK);
          offsets[t + q] = Offset{b, b + kK};
        }
      }
      t += m;
      c += m * kK;
      // A piece that runs past the block continues in the next one, whose first 6-mer starts here.
      if (j == len && !last_block) break;
      for (; c < j; ++c, ++t) {
        ids[t] = kFirstSingle + codes[c];
        if (offsets) offsets[t] = Offset{static_cast<int64_t>(i + c), static_cast<int64_t>(i + c) + 1};
      }
      if (j < len) {
        ids[t] = codes[j] == base_codes::kAmbiguousCode ? kN : kUnk;
        if (offsets) offsets[t] = Offset{static_cast<int64_t>(i + j), static_cast<int64_t>(i + j) + 1};
        ++t;
        c = j + 1;
      }
    }
    writer.commit(t);
    i += c;
  }
}

}  // namespace strand::bio
