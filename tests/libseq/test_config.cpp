#include <gtest/gtest.h>

#include <filesystem>

#include "libseq/core/config.h"

using namespace strand;

namespace {
nlohmann::json sample() {
  return nlohmann::json::parse(R"({"d_model": 256, "name": "tiny", "dropout": 0.1, "tied": true,
                                   "layers": ["A", "M"], "mlp": {"kind": "swiglu", "ratio": 4}})");
}
}  // namespace

TEST(Config, ReadsEveryTypeAndAcceptsCompleteObjects) {
  const auto j = sample();
  ConfigReader r(j, "config.json");
  EXPECT_EQ(r.required<int>("d_model"), 256);
  EXPECT_EQ(r.required<std::string>("name"), "tiny");
  EXPECT_DOUBLE_EQ(r.required<double>("dropout"), 0.1);
  EXPECT_TRUE(r.required<bool>("tied"));
  EXPECT_EQ(r.required<std::vector<std::string>>("layers"), (std::vector<std::string>{"A", "M"}));
  EXPECT_EQ(r.optional<int>("n_heads", 8), 8);
  auto mlp = r.child("mlp");
  EXPECT_EQ(mlp.required<std::string>("kind"), "swiglu");
  EXPECT_EQ(mlp.required<int64_t>("ratio"), 4);
  EXPECT_NO_THROW(mlp.finish());
  EXPECT_NO_THROW(r.finish());
}

TEST(Config, UnknownKeysAreListedByFinish) {
  const auto j = sample();
  ConfigReader r(j, "config.json");
  r.required<int>("d_model");
  try {
    r.finish();
    FAIL() << "unknown keys accepted";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("config.json"), std::string::npos);
    for (const char* key : {"'name'", "'dropout'", "'tied'", "'layers'", "'mlp'"})
      EXPECT_NE(what.find(key), std::string::npos) << what;
    EXPECT_EQ(what.find("'d_model'"), std::string::npos) << what;
  }
}

TEST(Config, MissingKeyAndWrongTypeAreClearErrors) {
  const auto j = sample();
  ConfigReader r(j, "config.json");
  try {
    r.required<int>("n_layer");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("missing required key 'n_layer'"), std::string::npos) << e.what();
  }
  try {
    r.required<int>("name");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'name': expected an integer, found string \"tiny\""), std::string::npos)
        << e.what();
  }
  auto mlp = r.child("mlp");
  try {
    mlp.required<std::string>("ratio");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'mlp.ratio'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.child("d_model"), ConfigError);
  EXPECT_THROW(r.required<uint32_t>("missing"), ConfigError);
}

TEST(Config, NegativeValueForUnsignedIsRejected) {
  const auto j = nlohmann::json::parse(R"({"n": -3})");
  ConfigReader r(j, "c.json");
  EXPECT_THROW(r.required<uint64_t>("n"), ConfigError);
}

TEST(Config, SyntaxErrorReportsLine) {
  try {
    parse_json("{\n  \"a\": 1,\n  \"b\": ,\n}", "bad.json");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.where().file, "bad.json");
    EXPECT_EQ(e.where().line, 3);
  }
}

TEST(Config, NumberOutOfRangeIsAParseError) {
  // Valid JSON syntax that the parser rejects (out_of_range, not parse_error) must still arrive
  // as a ParseError naming the source.
  try {
    parse_json("[1e999]", "huge.json");
    FAIL();
  } catch (const ParseError& e) {
    EXPECT_EQ(e.where().file, "huge.json");
    EXPECT_NE(std::string(e.what()).find("1e999"), std::string::npos) << e.what();
  }
}

TEST(Config, SaveLoadRoundTrip) {
  const auto path = (std::filesystem::path(::testing::TempDir()) / "strand_config_roundtrip.json").string();
  save_json(path, sample());
  EXPECT_EQ(load_json(path), sample());
  std::filesystem::remove(path);
  EXPECT_THROW(load_json(path), IoError);
}
