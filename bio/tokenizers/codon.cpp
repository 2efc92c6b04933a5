#include "bio/tokenizers/codon.h"

#include <algorithm>

#include "bio/tokenizers/base_codes.h"
#include "bio/tokenizers/nucleotide.h"
#include "libseq/core/error.h"

namespace strand::bio {

using tokenize::Offset;
using tokenize::TokenId;

namespace {

constexpr char kAcgt[4] = {'A', 'C', 'G', 'T'};
// Bytes mapped to codes per step, a multiple of 3 so that blocks start on codon boundaries.
constexpr size_t kBlock = 4095;

const GeneticCode& checked_code(int table) {
  const auto ids = GeneticCode::ncbi_ids();
  if (std::find(ids.begin(), ids.end(), table) == ids.end()) {
    std::string valid;
    for (int id : ids) valid += (valid.empty() ? "" : ", ") + std::to_string(id);
    throw ConfigError(strand::detail::str("codon: table ", table, " is not an NCBI genetic code id; valid ids: ", valid));
  }
  return GeneticCode::ncbi(table);
}

}  // namespace

CodonTokenizer::CodonTokenizer(CodonTokenizerOptions options)
    : options_(options), code_(&checked_code(options.table)), codes_(base_codes::base_code_table(kAcgt)) {
  if (options_.frame < 0 || options_.frame > 2)
    throw ConfigError(strand::detail::str("codon: frame must be 0, 1 or 2, got ", options_.frame));
  std::vector<std::string> vocab = {"<pad>", "<unk>", "<cls>", "<eos>", "<mask>"};
  for (int v = 0; v < 64; ++v) vocab.push_back({kAcgt[v >> 4], kAcgt[(v >> 2) & 3], kAcgt[v & 3]});
  for (const char* s : {"A", "C", "G", "T", "N"}) vocab.emplace_back(s);
  tokenize::SpecialTokens special;
  special.pad = kPad;
  special.unk = kUnk;
  special.cls = kCls;
  special.eos = kEos;
  special.mask = kMask;
  special.prefix = kCls;
  special.suffix = kEos;
  init_vocabulary(std::move(vocab), special);
  complement_ = nucleotide_complement_map(*this);
}

nlohmann::json CodonTokenizer::options() const { return {{"frame", options_.frame}, {"table", options_.table}}; }

void CodonTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& writer) const {
  const size_t n = text.size();
  TokenId* ids = nullptr;
  Offset* offsets = nullptr;
  size_t t = 0;
  auto start = [&](size_t room) {
    writer.reserve(room);
    ids = writer.ids();
    offsets = writer.offsets();
    t = 0;
  };
  auto single = [&](uint8_t code, size_t at) {
    ids[t] = code <= base_codes::kAmbiguousCode ? kFirstSingle + code : kUnk;
    if (offsets) offsets[t] = Offset{static_cast<int64_t>(at), static_cast<int64_t>(at) + 1};
    ++t;
  };
  const size_t lead = std::min(n, static_cast<size_t>(options_.frame));
  start(lead);
  for (size_t i = 0; i < lead; ++i) single(codes_[text[i]], i);
  writer.commit(t);

  uint8_t codes[kBlock];
  size_t i = lead;
  while (n - i >= 3) {
    const size_t len = std::min(kBlock, (n - i) / 3 * 3);
    const bool all_bases = codes_.map(text.data() + i, len, codes) <= 3;
    // At most one token per byte (a codon broken by a non-base).
    start(len);
    size_t c = 0;
    while (c < len) {
      const size_t j = all_bases ? len : c + tokenize::find_first_above(codes + c, len - c, 3);
      const size_t m = (j - c) / 3;
      tokenize::pack_chunks(codes + c, m, 3, kFirstCodon, ids + t);
      if (offsets) {
        for (size_t q = 0; q < m; ++q) {
          const auto b = static_cast<int64_t>(i + c + 3 * q);
          offsets[t + q] = Offset{b, b + 3};
        }
      }
      t += m;
      c += 3 * m;
      if (c < len) {
        // The codon [c, c + 3) holds the non-base byte j: write its bytes singly.
        for (size_t r = 0; r < 3; ++r) single(codes[c + r], i + c + r);
        c += 3;
      }
    }
    writer.commit(t);
    i += len;
  }
  start(n - i);
  for (; i < n; ++i) single(codes_[text[i]], i);
  writer.commit(t);
}

std::optional<char> CodonTokenizer::amino_acid(TokenId id) const {
  const std::string& codon = token(id);
  if (!is_codon(id)) return std::nullopt;
  return code_->translate(codon);
}

std::string CodonTokenizer::translate(const std::vector<TokenId>& ids) const {
  std::string bases;
  bases.reserve(ids.size() * 3);
  for (size_t i = 0; i < ids.size(); ++i) {
    const TokenId id = ids[i];
    const std::string& tok = token(id);
    if (id == kUnk) {
      bases += 'N';
    } else if (id == kMask) {
      throw InputError(strand::detail::str("codon translate: <mask> at position ", i, " has no bases to translate"));
    } else if (id >= kFirstCodon) {
      bases += tok;
    }
  }
  std::string protein;
  const auto frame = static_cast<size_t>(options_.frame);
  if (bases.size() >= frame) protein.reserve((bases.size() - frame) / 3);
  for (size_t p = frame; p + 3 <= bases.size(); p += 3) protein += code_->translate(std::string_view(bases).substr(p, 3));
  return protein;
}

}  // namespace strand::bio
