#include "bio/tokenizers/nucleotide.h"

#include "bio/alphabet.h"
#include "libseq/core/error.h"

namespace strand::bio {

using tokenize::Offset;
using tokenize::TokenId;

namespace {

constexpr TokenId kCharPad = 0;
constexpr TokenId kCharUnk = 1;
constexpr TokenId kCharCls = 2;
constexpr TokenId kCharEos = 3;
constexpr TokenId kCharMask = 4;
constexpr const char* kAmbiguityCodes = "RYSWKMBDHV";

const char* policy_name(AmbiguityPolicy p) {
  switch (p) {
    case AmbiguityPolicy::ToN:
      return "n";
    case AmbiguityPolicy::Keep:
      return "keep";
    case AmbiguityPolicy::Unknown:
      return "unk";
  }
  return "n";
}

void char_offsets(size_t n, Offset* offsets) {
  for (size_t i = 0; i < n; ++i) offsets[i] = Offset{static_cast<int64_t>(i), static_cast<int64_t>(i) + 1};
}

}  // namespace

std::vector<TokenId> nucleotide_complement_map(const tokenize::Tokenizer& tokenizer) {
  std::vector<TokenId> map(static_cast<size_t>(tokenizer.vocab_size()));
  for (TokenId id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_special(id)) {
      map[static_cast<size_t>(id)] = id;
      continue;
    }
    const std::string rc = reverse_complement(tokenizer.token(id));
    const auto partner = tokenizer.token_id(rc);
    STRAND_ASSERT(partner.has_value(), "token '", tokenizer.token(id), "' has no reverse complement '", rc,
                  "' in the vocabulary of '", tokenizer.spec(), "'");
    map[static_cast<size_t>(id)] = *partner;
  }
  return map;
}

CharTokenizer::CharTokenizer(CharTokenizerOptions options) : options_(options), table_(kCharUnk) {
  std::vector<std::string> vocab = {"<pad>", "<unk>", "<cls>", "<eos>", "<mask>", "A", "C", "G", "T", "N"};
  if (options_.keep_u) vocab.emplace_back("U");
  if (options_.iupac == AmbiguityPolicy::Keep)
    for (const char* c = kAmbiguityCodes; *c; ++c) vocab.emplace_back(1, *c);

  tokenize::SpecialTokens special;
  special.pad = kCharPad;
  special.unk = kCharUnk;
  special.cls = kCharCls;
  special.eos = kCharEos;
  special.mask = kCharMask;
  special.prefix = kCharCls;
  special.suffix = kCharEos;
  init_vocabulary(vocab, special);

  for (TokenId id = 5; id < vocab_size(); ++id) table_.set_any_case(token(id)[0], static_cast<uint8_t>(id));
  if (!options_.keep_u) table_.set_any_case('U', static_cast<uint8_t>(*token_id("T")));
  if (options_.iupac == AmbiguityPolicy::ToN)
    for (const char* c = kAmbiguityCodes; *c; ++c) table_.set_any_case(*c, static_cast<uint8_t>(*token_id("N")));
  if (!options_.keep_u) complement_ = nucleotide_complement_map(*this);
}

std::optional<std::vector<TokenId>> CharTokenizer::complement_ids() const {
  if (options_.keep_u) return std::nullopt;
  return complement_;
}

nlohmann::json CharTokenizer::options() const {
  return {{"iupac", policy_name(options_.iupac)}, {"keep_u", options_.keep_u}, {"soft_mask", options_.soft_mask}};
}

void CharTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& out) const {
  out.reserve(text.size());
  table_.map_widen(text.data(), text.size(), 0, out.ids());
  if (out.offsets()) char_offsets(text.size(), out.offsets());
  if (out.soft_mask()) tokenize::lowercase_mask(text.data(), text.size(), out.soft_mask());
  out.commit(text.size());
}

CaduceusTokenizer::CaduceusTokenizer() : table_(6) {
  init_vocabulary({"[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]", "[UNK]", "A", "C", "G", "T", "N",
                   "[UNUSED12]", "[UNUSED13]", "[UNUSED14]", "[UNUSED15]"},
                  [] {
                    tokenize::SpecialTokens s;
                    s.cls = 0;
                    s.eos = 1;
                    s.bos = 2;
                    s.mask = 3;
                    s.pad = 4;
                    s.unk = 6;
                    s.suffix = 1;
                    return s;
                  }(),
                  {5, 12, 13, 14, 15});
  for (TokenId id = 7; id <= 11; ++id) table_.set_any_case(token(id)[0], static_cast<uint8_t>(id));
  complement_ = nucleotide_complement_map(*this);
}

void CaduceusTokenizer::encode_content(std::string_view text, tokenize::TokenWriter& out) const {
  out.reserve(text.size());
  table_.map_widen(text.data(), text.size(), 0, out.ids());
  if (out.offsets()) char_offsets(text.size(), out.offsets());
  out.commit(text.size());
}

}  // namespace strand::bio
