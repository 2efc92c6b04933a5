// The tokenizer interface (batches, truncation, padding, decoding, JSON) and the registry, checked
// through a small tokenizer defined here whose every output can be written down by hand.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/tokenize/registry.h"
#include "libseq/tokenize/tokenizer.h"

namespace fs = std::filesystem;
namespace tk = strand::tokenize;
using tk::Offset;
using tk::TokenId;

namespace {

// "toy": a b c d -> 4 5 6 7, any other byte -> <unk> (1), with <pad> 0, <bos> 2, <eos> 3 and a
// reserved id 8. Option "bare" drops the prefix/suffix, option "nopad" drops the pad role.
// The byte '!' makes encode throw, to test error reporting from batches.
class ToyTokenizer final : public tk::Tokenizer {
 public:
  ToyTokenizer(bool bare, bool nopad) : bare_(bare), nopad_(nopad) {
    tk::SpecialTokens s;
    if (!nopad) s.pad = 0;
    s.unk = 1;
    s.bos = 2;
    s.eos = 3;
    if (!bare) {
      s.prefix = 2;
      s.suffix = 3;
    }
    init_vocabulary({"<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c", "d", "<reserved>"}, s, {8});
  }
  std::string type() const override { return "toy"; }
  nlohmann::json options() const override { return {{"bare", bare_}, {"nopad", nopad_}}; }
  std::optional<std::vector<TokenId>> complement_ids() const override {
    if (!bare_) return std::nullopt;
    // a<->d, b<->c: a toy complement.
    return std::vector<TokenId>{0, 1, 2, 3, 7, 6, 5, 4, 8};
  }

 protected:
  void encode_content(std::string_view text, tk::TokenWriter& out) const override {
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '!') throw strand::InputError("toy: '!' at byte " + std::to_string(i));
      out.ids()[i] = text[i] >= 'a' && text[i] <= 'd' ? 4 + (text[i] - 'a') : 1;
      if (out.offsets()) out.offsets()[i] = Offset{static_cast<int64_t>(i), static_cast<int64_t>(i) + 1};
    }
    out.commit(text.size());
  }

 private:
  bool bare_;
  bool nopad_;
};

tk::TokenizerRegistry toy_registry() {
  tk::TokenizerRegistry r;
  r.add("toy", "test tokenizer", [](tk::TokenizerSpec& spec) -> std::unique_ptr<tk::Tokenizer> {
    const bool bare = spec.get_bool("bare", false);
    const bool nopad = spec.get_bool("nopad", false);
    spec.finish({"bare", "nopad"});
    return std::make_unique<ToyTokenizer>(bare, nopad);
  });
  return r;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

const Offset kNone = tk::kNoSpan;

}  // namespace

TEST(Tokenizer, EncodeAddsPrefixSuffixWithSentinelOffsets) {
  ToyTokenizer t(false, false);
  const tk::Encoding e = t.encode("abz");
  EXPECT_EQ(e.ids, (std::vector<TokenId>{2, 4, 5, 1, 3}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{kNone, {0, 1}, {1, 2}, {2, 3}, kNone}));
  EXPECT_TRUE(e.soft_mask.empty());

  const tk::Encoding bare = t.encode("abz", {/*add_special_tokens=*/false, /*offsets=*/true});
  EXPECT_EQ(bare.ids, (std::vector<TokenId>{4, 5, 1}));
  const tk::Encoding ids_only = t.encode("abz", {true, false});
  EXPECT_EQ(ids_only.ids, e.ids);
  EXPECT_TRUE(ids_only.offsets.empty());
  EXPECT_EQ(t.encode_ids("abz"), e.ids);
  EXPECT_EQ(t.encode_ids("abz", false), bare.ids);
  EXPECT_EQ(t.encode("").ids, (std::vector<TokenId>{2, 3}));
}

TEST(Tokenizer, EncodeIntoReusesBuffersWithSameResult) {
  ToyTokenizer t(false, false);
  tk::Encoding e;
  std::vector<TokenId> ids;
  for (const std::string s : {"abcdabcd", "a", "", "dcbadcbadcba", "ab"}) {
    t.encode_into(s, e);
    EXPECT_EQ(e, t.encode(s)) << s;
    t.encode_ids_into(s, ids);
    EXPECT_EQ(ids, t.encode(s).ids) << s;
  }
}

TEST(Tokenizer, VocabularyLookupsAndRangeErrors) {
  ToyTokenizer t(false, false);
  EXPECT_EQ(t.vocab_size(), 9);
  EXPECT_EQ(t.token(4), "a");
  EXPECT_EQ(t.token_id("d"), 7);
  EXPECT_FALSE(t.token_id("e").has_value());
  EXPECT_TRUE(t.is_special(0));
  EXPECT_TRUE(t.is_special(8));  // reserved
  EXPECT_FALSE(t.is_special(4));
  EXPECT_THROW(t.token(9), strand::InputError);
  EXPECT_THROW(t.token(-1), strand::InputError);
  EXPECT_THROW((void)t.is_special(9), strand::InputError);
  EXPECT_EQ(t.spec(), "toy:bare=false,nopad=false");
}

TEST(Tokenizer, DecodeSkipsOrWritesSpecials) {
  ToyTokenizer t(false, false);
  const std::vector<TokenId> ids = {2, 4, 1, 7, 8, 3, 0};
  EXPECT_EQ(t.decode(ids), "ad");
  EXPECT_EQ(t.decode(ids, false), "<bos>a<unk>d<reserved><eos><pad>");
  const std::string msg = error_of([&] { t.decode(std::vector<TokenId>{4, 9}); });
  EXPECT_NE(msg.find("token id 9 at position 1"), std::string::npos) << msg;
  EXPECT_THROW(t.decode(std::vector<TokenId>{-3}), strand::InputError);
}

TEST(Tokenizer, ReverseComplementIds) {
  const std::vector<TokenId> comp = {0, 1, 2, 3, 7, 6, 5, 4, 8};
  EXPECT_EQ(tk::reverse_complement_ids({4, 4, 5, 1}, comp), (std::vector<TokenId>{1, 6, 7, 7}));
  EXPECT_THROW(tk::reverse_complement_ids({4, 12}, comp), strand::InputError);
  ToyTokenizer bare(true, false);
  EXPECT_EQ(bare.reverse_complement_ids({4, 5}), (std::vector<TokenId>{6, 7}));
  ToyTokenizer with_specials(false, false);
  EXPECT_THROW(with_specials.reverse_complement_ids({4}), strand::UnsupportedError);
}

TEST(TokenizerBatch, RightPaddingAttentionMaskAndLengths) {
  ToyTokenizer t(false, false);
  const auto b = t.encode_batch(std::vector<std::string>{"ab", "", "abcd"});
  EXPECT_EQ(b.batch_size, 3);
  EXPECT_EQ(b.length, 6);
  EXPECT_EQ(b.ids, (std::vector<TokenId>{2, 4, 5, 3, 0, 0,  //
                                         2, 3, 0, 0, 0, 0,  //
                                         2, 4, 5, 6, 7, 3}));
  EXPECT_EQ(b.attention_mask, (std::vector<uint8_t>{1, 1, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(b.lengths, (std::vector<int64_t>{4, 2, 6}));
  EXPECT_EQ(b.truncated, (std::vector<int64_t>{0, 0, 0}));
  EXPECT_TRUE(b.offsets.empty());
}

TEST(TokenizerBatch, LeftPaddingAndOffsets) {
  ToyTokenizer t(false, false);
  tk::BatchOptions o;
  o.padding_side = tk::Side::Left;
  o.offsets = true;
  const auto b = t.encode_batch(std::vector<std::string>{"ab", "abc"}, o);
  EXPECT_EQ(b.ids, (std::vector<TokenId>{0, 2, 4, 5, 3, 2, 4, 5, 6, 3}));
  EXPECT_EQ(b.attention_mask, (std::vector<uint8_t>{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_EQ(b.offsets, (std::vector<Offset>{kNone, kNone, {0, 1}, {1, 2}, kNone, kNone, {0, 1}, {1, 2}, {2, 3}, kNone}));
  EXPECT_EQ(b.row(0), t.encode("ab"));
  EXPECT_EQ(b.row(1), t.encode("abc"));
  EXPECT_THROW(b.row(2), strand::InputError);
}

TEST(TokenizerBatch, TruncationKeepsPrefixAndSuffix) {
  ToyTokenizer t(false, false);
  tk::BatchOptions o;
  o.max_length = 4;
  o.offsets = true;
  const auto right = t.encode_batch(std::vector<std::string>{"abcd", "a"}, o);
  EXPECT_EQ(right.length, 4);
  EXPECT_EQ(right.ids, (std::vector<TokenId>{2, 4, 5, 3, 2, 4, 3, 0}));
  EXPECT_EQ(right.truncated, (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(right.offsets[1], (Offset{0, 1}));
  EXPECT_EQ(right.offsets[2], (Offset{1, 2}));

  o.truncation_side = tk::Side::Left;
  const auto left = t.encode_batch(std::vector<std::string>{"abcd"}, o);
  EXPECT_EQ(left.ids, (std::vector<TokenId>{2, 6, 7, 3}));
  EXPECT_EQ(left.offsets[1], (Offset{2, 3}));

  o.max_length = 2;  // room for the specials only
  EXPECT_EQ(t.encode_batch(std::vector<std::string>{"abcd"}, o).ids, (std::vector<TokenId>{2, 3}));
}

TEST(TokenizerBatch, PadToMaxLength) {
  ToyTokenizer t(true, false);
  tk::BatchOptions o;
  o.padding = tk::Padding::MaxLength;
  o.max_length = 5;
  const auto b = t.encode_batch(std::vector<std::string>{"ab", "b"}, o);
  EXPECT_EQ(b.length, 5);
  EXPECT_EQ(b.ids, (std::vector<TokenId>{4, 5, 0, 0, 0, 5, 0, 0, 0, 0}));
  const auto empty = t.encode_batch(std::vector<std::string>{}, o);
  EXPECT_EQ(empty.batch_size, 0);
  EXPECT_TRUE(empty.ids.empty());
}

TEST(TokenizerBatch, OptionErrors) {
  ToyTokenizer t(false, false);
  const std::vector<std::string> texts = {"abcd", "a", "abcdabcd"};
  tk::BatchOptions o;
  o.padding = tk::Padding::MaxLength;
  EXPECT_THROW(t.encode_batch(texts, o), strand::ConfigError);
  o = {};
  o.max_length = 1;
  EXPECT_THROW(t.encode_batch(texts, o), strand::ConfigError);
  o.max_length = -1;
  EXPECT_THROW(t.encode_batch(texts, o), strand::ConfigError);
  o.max_length = 5;
  o.truncation = false;
  const std::string msg = error_of([&] { t.encode_batch(texts, o); });
  EXPECT_NE(msg.find("sequence 0 has 6 tokens, more than max_length 5"), std::string::npos) << msg;

  ToyTokenizer nopad(false, true);
  EXPECT_THROW(nopad.encode_batch(texts), strand::ConfigError);
  // Equal lengths need no pad token.
  EXPECT_EQ(nopad.encode_batch(std::vector<std::string>{"ab", "cd"}).length, 4);
}

TEST(TokenizerBatch, FirstFailingRowIsReportedWhateverTheThreadCount) {
  ToyTokenizer t(false, false);
  std::vector<std::string> texts(64, std::string(4096, 'a'));
  texts[40][7] = '!';
  texts[9][3] = '!';
  for (int threads : {1, 2, 4}) {
    tk::BatchOptions o;
    o.threads = threads;
    const std::string msg = error_of([&] { t.encode_batch(texts, o); });
    EXPECT_EQ(msg, "toy: '!' at byte 3") << threads;
  }
}

TEST(TokenizerBatch, ThreadCountDoesNotChangeTheResult) {
  ToyTokenizer t(false, false);
  std::vector<std::string> texts;
  for (int i = 0; i < 50; ++i) texts.emplace_back(static_cast<size_t>(2000 + 37 * i), static_cast<char>('a' + i % 5));
  tk::BatchOptions o;
  o.offsets = true;
  o.max_length = 3000;
  o.threads = 1;
  const auto one = t.encode_batch(texts, o);
  for (int threads : {2, 4}) {
    o.threads = threads;
    EXPECT_EQ(t.encode_batch(texts, o), one) << threads;
  }
}

TEST(TokenizerJson, ToJsonHoldsTypeOptionsVocabAndSpecials) {
  ToyTokenizer t(false, false);
  const nlohmann::json j = t.to_json();
  EXPECT_EQ(j.at("format"), "strand.tokenizer");
  EXPECT_EQ(j.at("version"), 1);
  EXPECT_EQ(j.at("type"), "toy");
  EXPECT_EQ(j.at("options"), (nlohmann::json{{"bare", false}, {"nopad", false}}));
  EXPECT_EQ(j.at("vocab").size(), 9u);
  EXPECT_EQ(j.at("special_tokens"),
            (nlohmann::json{{"pad", 0}, {"unk", 1}, {"bos", 2}, {"eos", 3}, {"prefix", 2}, {"suffix", 3}}));
}

TEST(TokenizerJson, SaveLoadRoundTrip) {
  const auto registry = toy_registry();
  const fs::path dir = fs::path(::testing::TempDir()) / "strand_tokenizer_json";
  fs::create_directories(dir);
  const std::string path = (dir / "tokenizer.json").string();
  ToyTokenizer t(true, false);
  t.save(path);
  const auto loaded = registry.load(path);
  EXPECT_EQ(loaded->spec(), t.spec());
  EXPECT_EQ(loaded->vocabulary(), t.vocabulary());
  EXPECT_EQ(loaded->encode("abcx"), t.encode("abcx"));
  fs::remove_all(dir);
}

TEST(TokenizerJson, LoadRejectsInconsistentDocuments) {
  const auto registry = toy_registry();
  const nlohmann::json good = ToyTokenizer(false, false).to_json();
  auto error = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    try {
      registry.from_json(j, "tok.json");
    } catch (const strand::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no ConfigError");
  };
  auto has = [](const std::string& msg, const std::string& part) {
    return msg.find(part) != std::string::npos ? ::testing::AssertionSuccess()
                                               : ::testing::AssertionFailure() << msg;
  };
  EXPECT_TRUE(has(error([](auto& j) { j["format"] = "hf"; }), "expected 'strand.tokenizer'"));
  EXPECT_TRUE(has(error([](auto& j) { j["version"] = 2; }), "version 2 is not supported"));
  EXPECT_TRUE(has(error([](auto& j) { j["type"] = "bpe"; }), "unknown tokenizer type 'bpe'; registered types: toy"));
  EXPECT_TRUE(has(error([](auto& j) { j["vocab"][5] = "x"; }), "at id 5: 'x' in the file, 'b' here"));
  EXPECT_TRUE(has(error([](auto& j) { j["vocab"].erase(8); }), "\"vocab\" has 8 tokens"));
  EXPECT_TRUE(has(error([](auto& j) { j["special_tokens"]["unk"] = 0; }), "\"special_tokens\""));
  EXPECT_TRUE(has(error([](auto& j) { j["extra"] = 1; }), "extra"));
  EXPECT_TRUE(has(error([](auto& j) { j["options"]["colour"] = "red"; }), "unknown option(s) colour"));
  EXPECT_TRUE(has(error([](auto& j) { j["options"]["bare"] = nlohmann::json::array(); }), "must be a boolean"));
  EXPECT_TRUE(has(error([](auto& j) { j["options"] = 3; }), "must be a JSON object"));
  EXPECT_TRUE(has(error([](auto& j) { j.erase("vocab"); }), "missing required key 'vocab'"));
  // Options that build a tokenizer with other special tokens than the file records.
  EXPECT_TRUE(has(error([](auto& j) { j["options"]["bare"] = true; }), "\"special_tokens\""));
}

TEST(TokenizerJson, LoadReportsFileErrors) {
  const auto registry = toy_registry();
  EXPECT_THROW(registry.load("/nonexistent/strand/tokenizer.json"), strand::IoError);
  const fs::path dir = fs::path(::testing::TempDir()) / "strand_tokenizer_badjson";
  fs::create_directories(dir);
  const std::string path = (dir / "bad.json").string();
  std::ofstream(path) << "{\n  \"format\": \"strand.tokenizer\",\n  oops\n}\n";
  try {
    registry.load(path);
    ADD_FAILURE() << "no ParseError";
  } catch (const strand::ParseError& e) {
    EXPECT_EQ(e.where().line, 3);
    EXPECT_EQ(e.where().file, path);
  }
  fs::remove_all(dir);
}

TEST(TokenizerSpec, ParsesPositionalAndNamedOptions) {
  auto s = tk::TokenizerSpec::parse("kmer:6,stride=2:x=yes");
  EXPECT_EQ(s.type(), "kmer");
  EXPECT_EQ(s.positional(), (std::vector<std::string>{"6"}));
  s.bind_positional({"k"});
  EXPECT_EQ(s.require_int("k", 1, 8), 6);
  EXPECT_EQ(s.get_int("stride", 1, 1, 4), 2);
  EXPECT_TRUE(s.get_bool("x", false));
  EXPECT_EQ(s.get_choice("mode", "a", {"a", "b"}), "a");
  EXPECT_NO_THROW(s.finish({"k", "stride", "x", "mode"}));
  EXPECT_EQ(tk::TokenizerSpec::parse("char").type(), "char");
}

TEST(TokenizerSpec, RejectsMalformedSpecs) {
  for (const char* bad : {"", ":6", "kmer:", "kmer:6,,2", "kmer:=3", "kmer:k=", "kmer:k=1=2", "kmer:k=1,k=2"})
    EXPECT_THROW(tk::TokenizerSpec::parse(bad), strand::ConfigError) << bad;
}

TEST(TokenizerSpec, TypedGettersNameTheSpecAndKey) {
  auto s = tk::TokenizerSpec::parse("kmer:k=9,flag=maybe,mode=c,n=12x");
  EXPECT_EQ(error_of([&] { s.get_int("k", 6, 3, 8); }), "tokenizer spec 'kmer:k=9,flag=maybe,mode=c,n=12x': option 'k' must be in 3..8, got 9");
  EXPECT_NE(error_of([&] { s.get_bool("flag", false); }).find("option 'flag' must be true or false, got 'maybe'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.get_choice("mode", "a", {"a", "b"}); }).find("must be one of a, b, got 'c'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.get_int("n", 0, 0, 100); }).find("option 'n' must be an integer, got '12x'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.require_int("missing", 1, 2); }).find("option 'missing' is required"),
            std::string::npos);
}

TEST(TokenizerSpec, FinishRejectsUnreadAndPositionalOptions) {
  auto s = tk::TokenizerSpec::parse("toy:colour=red,bare=true");
  s.get_bool("bare", false);
  EXPECT_NE(error_of([&] { s.finish({"bare", "nopad"}); }).find("unknown option(s) colour; valid options: bare, nopad"),
            std::string::npos);
  auto p = tk::TokenizerSpec::parse("toy:3");
  EXPECT_NE(error_of([&] { p.finish({}); }).find("takes no positional values"), std::string::npos);
  auto two = tk::TokenizerSpec::parse("kmer:3,4");
  EXPECT_NE(error_of([&] { two.bind_positional({"k"}); }).find("at most 1 positional value(s) (k), got 2"),
            std::string::npos);
  auto both = tk::TokenizerSpec::parse("kmer:3,k=4");
  EXPECT_NE(error_of([&] { both.bind_positional({"k"}); }).find("given both by position and as k="),
            std::string::npos);
}

TEST(TokenizerRegistry, CreateListsRegisteredTypesOnUnknownName) {
  auto registry = toy_registry();
  registry.add("alpha", "another", [](tk::TokenizerSpec& spec) -> std::unique_ptr<tk::Tokenizer> {
    spec.finish({});
    return std::make_unique<ToyTokenizer>(true, true);
  });
  EXPECT_EQ(registry.types(), (std::vector<std::string>{"alpha", "toy"}));
  EXPECT_TRUE(registry.contains("toy"));
  EXPECT_FALSE(registry.contains("bpe"));
  EXPECT_EQ(registry.describe(), "alpha  another\ntoy    test tokenizer\n");
  EXPECT_EQ(error_of([&] { registry.create("bpe:8000"); }),
            "tokenizer spec 'bpe:8000': unknown tokenizer type 'bpe'; registered types: alpha, toy");
  EXPECT_EQ(registry.create("toy:bare=true")->spec(), "toy:bare=true,nopad=false");
  EXPECT_THROW(registry.create("toy:bare=true,size=3"), strand::ConfigError);
}

TEST(TokenizerRegistry, RejectsDuplicateAndInvalidNames) {
  auto registry = toy_registry();
  auto factory = [](tk::TokenizerSpec&) -> std::unique_ptr<tk::Tokenizer> { return nullptr; };
  EXPECT_THROW(registry.add("toy", "again", factory), strand::ConfigError);
  EXPECT_THROW(registry.add("Bad Name", "x", factory), strand::ConfigError);
  EXPECT_THROW(registry.add("a:b", "x", factory), strand::ConfigError);
  EXPECT_THROW(tk::TokenizerRegistry().create("toy"), strand::ConfigError);
}
