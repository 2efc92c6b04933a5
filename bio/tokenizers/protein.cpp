#include "bio/tokenizers/protein.h"

#include <cstring>

#include "libseq/core/error.h"

namespace strand::bio {

using tokenize::Offset;
using tokenize::TokenId;

namespace {
// The table value of '*' under the skip policy: marks bytes that produce no token.
constexpr uint8_t kDropped = 0xFF;

const char* stop_name(StopPolicy p) {
  switch (p) {
    case StopPolicy::Unknown:
      return "unk";
    case StopPolicy::Skip:
      return "skip";
    case StopPolicy::Error:
      return "error";
  }
  return "unk";
}
}  // namespace

ProteinTokenizer::ProteinTokenizer(ProteinTokenizerOptions options)
    : options_(options), table_(static_cast<uint8_t>(kUnk)) {
  std::vector<std::string> vocab = {"<cls>", "<pad>", "<eos>", "<unk>"};
  for (const char* c = "LAGVSERTIDPKQNFYMHWCXBUZO.-"; *c; ++c) vocab.emplace_back(1, *c);
  vocab.emplace_back("<null_1>");
  vocab.emplace_back("<mask>");
  tokenize::SpecialTokens special;
  special.cls = kCls;
  special.pad = kPad;
  special.eos = kEos;
  special.unk = kUnk;
  special.mask = kMask;
  special.prefix = kCls;
  special.suffix = kEos;
  init_vocabulary(std::move(vocab), special, {kNull1});
  for (TokenId id = 4; id < kNull1; ++id) table_.set_any_case(token(id)[0], static_cast<uint8_t>(id));
  if (options_.stop == StopPolicy::Skip) table_.set('*', kDropped);
}

nlohmann::json ProteinTokenizer::options() const { return {{"stop", stop_name(options_.stop)}}; }

void ProteinTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& out) const {
  const size_t n = text.size();
  const void* star = options_.stop == StopPolicy::Unknown ? nullptr : std::memchr(text.data(), '*', n);
  if (star != nullptr && options_.stop == StopPolicy::Error) {
    const auto at = static_cast<size_t>(static_cast<const char*>(star) - text.data());
    throw InputError(strand::detail::str("protein: stop symbol '*' at byte ", at,
                                         " (the tokenizer's stop policy is 'error'; use stop=unk or stop=skip)"));
  }
  out.reserve(n);
  TokenId* ids = out.ids();
  Offset* offsets = out.offsets();
  if (star == nullptr) {
    table_.map_widen(text.data(), n, 0, ids);
    if (offsets)
      for (size_t i = 0; i < n; ++i) offsets[i] = Offset{static_cast<int64_t>(i), static_cast<int64_t>(i) + 1};
    out.commit(n);
    return;
  }
  size_t t = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t v = table_[text[i]];
    if (v == kDropped) continue;
    ids[t] = v;
    if (offsets) offsets[t] = Offset{static_cast<int64_t>(i), static_cast<int64_t>(i) + 1};
    ++t;
  }
  out.commit(t);
}

}  // namespace strand::bio
