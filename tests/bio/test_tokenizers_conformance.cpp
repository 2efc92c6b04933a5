// One conformance suite for every registered tokenizer: each joins with one line in kCases below.
// Properties checked: the vocabulary is a bijection with consistent special tokens; decode inverts
// encode up to the tokenizer's documented normalisation; special tokens appear only when asked;
// unknown bytes become <unk>; offsets point at the bytes each token was read from; batches equal
// single encodings whatever the thread count; JSON and spec strings rebuild the same tokenizer;
// token-level reverse complement decodes to the sequence-level reverse complement.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "bio/alphabet.h"
#include "bio/tokenizers/register.h"
#include "chem/selfies/selfies.h"
#include "chem/tokenizers.h"
#include "libseq/core/error.h"
#include "libseq/tokenize/registry.h"

namespace fs = std::filesystem;
namespace tk = strand::tokenize;
using tk::TokenId;

namespace {

enum class Alphabet { Dna, Protein, Smiles, Selfies };

std::string upper(const std::string& s);
std::string same(const std::string& s) { return s; }

struct Case {
  std::string spec;
  Alphabet alphabet;
  /// decode(encode(s)) for s over the clean alphabet below.
  std::function<std::string(const std::string&)> normalise;
  /// The token string of the bytes a token was read from (case-insensitive tokenizers upper-case).
  std::function<std::string(const std::string&)> token_text = upper;
};

std::string upper(const std::string& s) {
  std::string u = s;
  for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

// Overlapping k-mers decode a text shorter than k to nothing.
std::function<std::string(const std::string&)> kmer_normalise(size_t k) {
  return [k](const std::string& s) { return s.size() < k ? std::string() : upper(s); };
}

const Case kCases[] = {
    {"char", Alphabet::Dna, upper},
    {"char:iupac=keep,keep_u=true,soft_mask=true", Alphabet::Dna, upper},
    {"char:iupac=unk", Alphabet::Dna, upper},
    {"caduceus", Alphabet::Dna, upper},
    {"ntv2-6mer", Alphabet::Dna, upper},
    {"kmer-overlap:3", Alphabet::Dna, kmer_normalise(3)},
    {"kmer-overlap:6", Alphabet::Dna, kmer_normalise(6)},
    {"kmer-overlap:k=8", Alphabet::Dna, kmer_normalise(8)},
    {"codon", Alphabet::Dna, upper},
    {"codon:frame=1", Alphabet::Dna, upper},
    {"codon:frame=2,table=11", Alphabet::Dna, upper},
    {"protein", Alphabet::Protein, upper},
    {"protein:stop=skip", Alphabet::Protein, upper},
    {"smiles", Alphabet::Smiles, same, same},
    {"smiles:brackets=split", Alphabet::Smiles, same, same},
    {"selfies", Alphabet::Selfies, same, same},
};

const tk::TokenizerRegistry& registry() {
  static const tk::TokenizerRegistry r = [] {
    tk::TokenizerRegistry reg;
    strand::bio::register_tokenizers(reg);
    strand::chem::register_tokenizers(reg);
    return reg;
  }();
  return r;
}

const char* clean_letters(Alphabet a) {
  switch (a) {
    case Alphabet::Dna: return "ACGTacgt";
    case Alphabet::Protein: return "LAGVSERTIDPKQNFYMHWCXBUZO.-lagvsertidpkqnfymhwcxbuzo";
    default: return "CNOSPFIHcnosp()[]=#.-+/\\@%0123456789";  // any mix is SMILES symbols
  }
}

// Bytes outside the alphabets ('J' is no amino acid, '-' no nucleotide; none is a SMILES symbol
// or part of a SELFIES symbol).
std::string foreign_bytes(Alphabet a) {
  switch (a) {
    case Alphabet::Dna: return "#@1 -\xff";
    case Alphabet::Protein: return "#@1 J\xff";
    default: return "! &?`\xff";
  }
}

std::string random_text(Alphabet a, size_t n, std::mt19937& rng) {
  if (a == Alphabet::Selfies) {  // whole symbols of the robust alphabet, '.' and [nop]
    static const std::vector<std::string> symbols = [] {
      const auto r = strand::chem::selfies::robust_alphabet();
      std::vector<std::string> v(r.begin(), r.end());
      v.push_back(".");
      v.push_back("[nop]");
      return v;
    }();
    std::string s;
    while (s.size() < n) s += symbols[rng() % symbols.size()];
    return s;
  }
  const std::string letters = clean_letters(a);
  std::string s(n, 'A');
  for (auto& c : s) c = letters[rng() % letters.size()];
  return s;
}

// Lengths around every tokenizer's unit (1, 3, 6, k) and across the 4096-byte encode blocks.
std::vector<size_t> sample_lengths() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 40; ++n) v.push_back(n);
  for (size_t n : {95, 96, 97, 4090, 4095, 4096, 4097, 4101, 4102, 8200, 12289}) v.push_back(n);
  return v;
}

std::vector<std::string> samples(Alphabet a, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::string> out;
  for (size_t n : sample_lengths()) out.push_back(random_text(a, n, rng));
  return out;
}

class TokenizerConformance : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { tok_ = registry().create(GetParam().spec); }
  const tk::Tokenizer& tok() const { return *tok_; }
  Alphabet alphabet() const { return GetParam().alphabet; }
  std::string normalise(const std::string& s) const { return GetParam().normalise(s); }
  size_t n_prefix(bool add) const { return add && tok().special_tokens().prefix ? 1 : 0; }
  size_t n_suffix(bool add) const { return add && tok().special_tokens().suffix ? 1 : 0; }

  std::unique_ptr<tk::Tokenizer> tok_;
};

TEST_P(TokenizerConformance, VocabularyIsABijectionWithConsistentSpecials) {
  const auto& t = tok();
  ASSERT_GT(t.vocab_size(), 0);
  ASSERT_EQ(static_cast<size_t>(t.vocab_size()), t.vocabulary().size());
  for (TokenId id = 0; id < t.vocab_size(); ++id) ASSERT_EQ(t.token_id(t.token(id)), id) << t.token(id);
  const auto& s = t.special_tokens();
  for (const auto* role : {&s.pad, &s.unk, &s.cls, &s.bos, &s.eos, &s.mask, &s.prefix, &s.suffix}) {
    if (!role->has_value()) continue;
    ASSERT_GE(**role, 0);
    ASSERT_LT(**role, t.vocab_size());
    EXPECT_TRUE(t.is_special(**role));
  }
  EXPECT_TRUE(s.pad.has_value());
  EXPECT_TRUE(s.unk.has_value());
  EXPECT_TRUE(s.mask.has_value());
  EXPECT_EQ(t.type(), tk::TokenizerSpec::parse(GetParam().spec).type());
}

TEST_P(TokenizerConformance, DecodeInvertsEncode) {
  for (const auto& s : samples(alphabet(), 1)) {
    EXPECT_EQ(tok().decode(tok().encode_ids(s)), normalise(s)) << "length " << s.size();
    EXPECT_EQ(tok().decode(tok().encode_ids(s, false)), normalise(s)) << "length " << s.size();
  }
}

TEST_P(TokenizerConformance, SpecialTokensOnlyWhenAsked) {
  const auto& sp = tok().special_tokens();
  for (const auto& s : samples(alphabet(), 2)) {
    const auto with = tok().encode(s);
    const auto without = tok().encode(s, {false, true});
    ASSERT_EQ(with.size(), without.size() + n_prefix(true) + n_suffix(true));
    if (sp.prefix) {
      EXPECT_EQ(with.ids.front(), *sp.prefix);
    }
    if (sp.suffix) {
      EXPECT_EQ(with.ids.back(), *sp.suffix);
    }
    EXPECT_TRUE(std::equal(without.ids.begin(), without.ids.end(), with.ids.begin() + static_cast<long>(n_prefix(true))));
    for (TokenId id : without.ids) ASSERT_FALSE(tok().is_special(id)) << "clean text gave special token " << id;
  }
}

TEST_P(TokenizerConformance, UnknownBytesBecomeUnk) {
  const TokenId unk = *tok().special_tokens().unk;
  std::mt19937 rng(3);
  const std::string foreign = foreign_bytes(alphabet());
  for (size_t n : {size_t{12}, size_t{50}, size_t{5000}}) {
    std::string s = random_text(alphabet(), n, rng);
    std::vector<size_t> planted;
    for (size_t i = 0; i < 6; ++i) {
      const size_t p = rng() % n;
      s[p] = foreign[i];
      planted.push_back(p);
    }
    const auto e = tok().encode(s);
    for (size_t p : planted) {
      bool covered_by_unk = false;
      for (size_t t = 0; t < e.size(); ++t) {
        const auto& o = e.offsets[t];
        if (o.begin <= static_cast<int64_t>(p) && static_cast<int64_t>(p) < o.end && e.ids[t] == unk) covered_by_unk = true;
      }
      EXPECT_TRUE(covered_by_unk) << "byte " << int(static_cast<unsigned char>(s[p])) << " at " << p;
    }
  }
}

TEST_P(TokenizerConformance, OffsetsPointAtTheTokensBytes) {
  for (const auto& s : samples(alphabet(), 4)) {
    const auto e = tok().encode(s);
    ASSERT_EQ(e.offsets.size(), e.size());
    std::vector<uint8_t> covered(s.size(), 0);
    int64_t last_begin = -1;
    for (size_t t = 0; t < e.size(); ++t) {
      const auto& o = e.offsets[t];
      if (t < n_prefix(true) || t + n_suffix(true) >= e.size()) {
        EXPECT_EQ(o, tk::kNoSpan);
        continue;
      }
      ASSERT_LE(0, o.begin);
      ASSERT_LT(o.begin, o.end);
      ASSERT_LE(o.end, static_cast<int64_t>(s.size()));
      ASSERT_GT(o.begin, last_begin);
      last_begin = o.begin;
      const std::string bytes = s.substr(static_cast<size_t>(o.begin), static_cast<size_t>(o.end - o.begin));
      EXPECT_EQ(tok().token(e.ids[t]), GetParam().token_text(bytes)) << "token " << t;
      for (auto b = o.begin; b < o.end; ++b) covered[static_cast<size_t>(b)] = 1;
    }
    if (!normalise(s).empty() || s.empty()) {
      EXPECT_TRUE(std::all_of(covered.begin(), covered.end(), [](uint8_t c) { return c == 1; })) << s.size();
    }
  }
}

TEST_P(TokenizerConformance, SoftMaskFollowsCase) {
  for (const auto& s : samples(alphabet(), 5)) {
    const auto e = tok().encode(s);
    if (!tok().records_soft_mask()) {
      EXPECT_TRUE(e.soft_mask.empty());
      continue;
    }
    ASSERT_EQ(e.soft_mask.size(), e.size());
    for (size_t t = 0; t < e.size(); ++t) {
      const auto& o = e.offsets[t];
      const int expected = o == tk::kNoSpan ? 0 : std::islower(static_cast<unsigned char>(s[static_cast<size_t>(o.begin)])) != 0;
      EXPECT_EQ(e.soft_mask[t], expected) << t;
    }
  }
}

TEST_P(TokenizerConformance, ReusedBuffersAndIdsOnlyPathAgree) {
  tk::Encoding reused;
  std::vector<TokenId> ids;
  auto texts = samples(alphabet(), 6);
  std::reverse(texts.begin() + 20, texts.end());  // shrink and grow
  for (const auto& s : texts) {
    tok().encode_into(s, reused);
    const auto fresh = tok().encode(s);
    ASSERT_EQ(reused, fresh) << s.size();
    tok().encode_ids_into(s, ids, true);
    ASSERT_EQ(ids, fresh.ids) << s.size();
  }
}

TEST_P(TokenizerConformance, BatchRowsEqualSingleEncodings) {
  std::mt19937 rng(7);
  std::vector<std::string> texts;
  for (size_t n : {size_t{0}, size_t{1}, size_t{17}, size_t{5}, size_t{64}, size_t{33}}) texts.push_back(random_text(alphabet(), n, rng));
  for (auto side : {tk::Side::Left, tk::Side::Right}) {
    tk::BatchOptions o;
    o.offsets = true;
    o.padding_side = side;
    const auto b = tok().encode_batch(texts, o);
    ASSERT_EQ(b.batch_size, static_cast<int64_t>(texts.size()));
    int64_t longest = 0;
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto single = tok().encode(texts[i]);
      EXPECT_EQ(b.row(static_cast<int64_t>(i)), single) << i;
      EXPECT_EQ(b.lengths[i], static_cast<int64_t>(single.size()));
      longest = std::max<int64_t>(longest, static_cast<int64_t>(single.size()));
    }
    EXPECT_EQ(b.length, longest);
    const TokenId pad = *tok().special_tokens().pad;
    for (size_t c = 0; c < b.ids.size(); ++c)
      if (!b.attention_mask[c]) {
        EXPECT_EQ(b.ids[c], pad);
      }
  }
}

TEST_P(TokenizerConformance, TruncationKeepsSpecialTokens) {
  std::mt19937 rng(8);
  const std::vector<std::string> texts = {random_text(alphabet(), 200, rng), random_text(alphabet(), 3, rng)};
  tk::BatchOptions o;
  o.max_length = 9;
  o.padding = tk::Padding::MaxLength;
  const auto b = tok().encode_batch(texts, o);
  ASSERT_EQ(b.length, 9);
  EXPECT_EQ(b.lengths[0], 9);
  const auto& sp = tok().special_tokens();
  if (sp.prefix) {
    EXPECT_EQ(b.ids[0], *sp.prefix);
  }
  if (sp.suffix) {
    EXPECT_EQ(b.ids[8], *sp.suffix);
  }
  const auto full = tok().encode_ids(texts[0], false);
  EXPECT_TRUE(std::equal(full.begin(), full.begin() + 9 - static_cast<long>(n_prefix(true) + n_suffix(true)),
                         b.ids.begin() + static_cast<long>(n_prefix(true))));
  EXPECT_EQ(b.truncated[0], static_cast<int64_t>(full.size() + n_prefix(true) + n_suffix(true)) - 9);
}

TEST_P(TokenizerConformance, ThreadCountDoesNotChangeTheBatch) {
  std::mt19937 rng(9);
  std::vector<std::string> texts;
  for (int i = 0; i < 40; ++i) texts.push_back(random_text(alphabet(), 2000 + rng() % 4000, rng));
  tk::BatchOptions o;
  o.offsets = true;
  o.threads = 1;
  const auto one = tok().encode_batch(texts, o);
  for (int threads : {2, 4}) {
    o.threads = threads;
    EXPECT_EQ(tok().encode_batch(texts, o), one) << threads << " threads";
  }
  for (size_t i = 0; i < texts.size(); i += 13) EXPECT_EQ(one.row(static_cast<int64_t>(i)), tok().encode(texts[i]));
}

TEST_P(TokenizerConformance, JsonFileRebuildsTheSameTokenizer) {
  std::string file = GetParam().spec;
  for (auto& c : file)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  const fs::path dir = fs::path(::testing::TempDir()) / ("strand_tok_" + file);
  fs::create_directories(dir);
  const std::string path = (dir / "tokenizer.json").string();
  tok().save(path);
  const auto loaded = registry().load(path);
  fs::remove_all(dir);
  EXPECT_EQ(loaded->spec(), tok().spec());
  EXPECT_EQ(loaded->vocabulary(), tok().vocabulary());
  EXPECT_EQ(loaded->special_tokens(), tok().special_tokens());
  for (const auto& s : samples(alphabet(), 10)) ASSERT_EQ(loaded->encode(s), tok().encode(s));
}

TEST_P(TokenizerConformance, SpecStringRebuildsTheSameTokenizer) {
  const auto again = registry().create(tok().spec());
  EXPECT_EQ(again->spec(), tok().spec());
  EXPECT_EQ(again->options(), tok().options());
  EXPECT_EQ(again->vocabulary(), tok().vocabulary());
}

TEST_P(TokenizerConformance, DecodeRejectsIdsOutsideTheVocabulary) {
  EXPECT_THROW(tok().decode(std::vector<TokenId>{tok().vocab_size()}), strand::InputError);
  EXPECT_THROW(tok().decode(std::vector<TokenId>{-1}), strand::InputError);
}

TEST_P(TokenizerConformance, TokenReverseComplementMatchesSequenceReverseComplement) {
  const auto map = tok().complement_ids();
  if (!map) {
    EXPECT_THROW(tok().reverse_complement_ids(tok().encode_ids("ACGT")), strand::UnsupportedError);
    return;
  }
  ASSERT_EQ(alphabet(), Alphabet::Dna);
  ASSERT_EQ(map->size(), static_cast<size_t>(tok().vocab_size()));
  for (TokenId id = 0; id < tok().vocab_size(); ++id) {
    const TokenId c = (*map)[static_cast<size_t>(id)];
    ASSERT_EQ((*map)[static_cast<size_t>(c)], id) << "not an involution at " << id;
    if (tok().is_special(id)) {
      EXPECT_EQ(c, id);
    }
  }
  for (const auto& s : samples(alphabet(), 11)) {
    const auto rc = tok().reverse_complement_ids(tok().encode_ids(s));
    EXPECT_EQ(tok().decode(rc), strand::bio::reverse_complement(normalise(s))) << s.size();
  }
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.spec;
  for (auto& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

INSTANTIATE_TEST_SUITE_P(All, TokenizerConformance, ::testing::ValuesIn(kCases), case_name);

TEST(TokenizerRegistryBio, RegistersEveryBioAndChemType) {
  EXPECT_EQ(registry().types(), (std::vector<std::string>{"caduceus", "char", "codon", "kmer-overlap", "ntv2-6mer",
                                                          "protein", "selfies", "smiles"}));
  tk::TokenizerRegistry again;
  strand::bio::register_tokenizers(again);
  EXPECT_THROW(strand::bio::register_tokenizers(again), strand::ConfigError);
  strand::chem::register_tokenizers(again);
  EXPECT_THROW(strand::chem::register_tokenizers(again), strand::ConfigError);
}

TEST(TokenizerRegistryBio, BadSpecsNameTheProblem) {
  auto message = [](const std::string& spec) {
    try {
      registry().create(spec);
    } catch (const strand::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no ConfigError");
  };
  EXPECT_NE(message("kmer-overlap").find("option 'k' is required"), std::string::npos);
  EXPECT_NE(message("kmer-overlap:9").find("option 'k' must be in 3..8, got 9"), std::string::npos);
  EXPECT_NE(message("codon:frame=3").find("option 'frame' must be in 0..2"), std::string::npos);
  EXPECT_NE(message("codon:table=7").find("table 7 is not an NCBI genetic code id"), std::string::npos);
  EXPECT_NE(message("char:iupac=maybe").find("must be one of n, keep, unk"), std::string::npos);
  EXPECT_NE(message("protein:stop=drop").find("must be one of unk, skip, error"), std::string::npos);
  EXPECT_NE(message("ntv2-6mer:k=6").find("unknown option(s) k; valid options: none"), std::string::npos);
  EXPECT_NE(message("bpe").find("registered types: caduceus, char, codon, kmer-overlap, ntv2-6mer, protein"),
            std::string::npos);
}

}  // namespace
