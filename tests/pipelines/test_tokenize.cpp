#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/safetensors.h"
#include "pipelines/registry.h"
#include "pipelines/tokenize.h"

namespace fs = std::filesystem;
using namespace strand;
using namespace strand::pipelines;

namespace {

const std::string kFasta = std::string(STRAND_TEST_DATA) + "/pipelines/ce_3x600.fa";

// The three 600 bp records of the fixture, read without strand's reader.
std::vector<std::pair<std::string, std::string>> fixture_records() {
  std::ifstream in(kFasta);
  std::vector<std::pair<std::string, std::string>> out;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '>') {
      out.emplace_back(line.substr(1), "");
    } else {
      out.back().second += line;
    }
  }
  return out;
}

fs::path temp_dir(const std::string& name) {
  const auto dir = fs::path(::testing::TempDir()) / ("strand_pipelines_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<nlohmann::json> read_jsonl(const fs::path& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> rows;
  std::string line;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

}  // namespace

TEST(TokenizePipeline, JsonlRowsDecodeToTheInputSequences) {
  const auto dir = temp_dir("jsonl");
  TokenizeOptions o;
  o.inputs = {kFasta};
  o.tokenizer = "char";
  o.output = (dir / "out.jsonl").string();
  const auto summary = run_tokenize(o);
  const auto records = fixture_records();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(summary.records, 3);
  EXPECT_EQ(summary.record_bases, 1800);
  const auto rows = read_jsonl(o.output);
  ASSERT_EQ(rows.size(), 3u);
  const auto tok = tokenizer_registry().create("char");
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["name"], records[i].first);
    EXPECT_EQ(rows[i]["begin"], 0);
    EXPECT_EQ(rows[i]["end"], 600);
    const auto ids = rows[i]["ids"].get<std::vector<int32_t>>();
    EXPECT_EQ(ids, tok->encode_ids(records[i].second));
    EXPECT_EQ(tok->decode(ids), records[i].second);
  }
}

TEST(TokenizePipeline, WindowsRecordCoordinatesAndCoverTheSequence) {
  const auto dir = temp_dir("windows");
  TokenizeOptions o;
  o.inputs = {kFasta};
  o.tokenizer = "char";
  o.window = 250;
  o.stride = 200;
  o.output = (dir / "w.jsonl").string();
  const auto summary = run_tokenize(o);
  // 600 bp with window 250, stride 200: [0,250) [200,450) [400,600) per record.
  EXPECT_EQ(summary.sequences, 9);
  const auto rows = read_jsonl(o.output);
  ASSERT_EQ(rows.size(), 9u);
  const auto records = fixture_records();
  const auto tok = tokenizer_registry().create("char");
  const int64_t begins[] = {0, 200, 400};
  const int64_t ends[] = {250, 450, 600};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["begin"], begins[i % 3]);
    EXPECT_EQ(rows[i]["end"], ends[i % 3]);
    const auto& seq = records[i / 3].second;
    const auto expect = seq.substr(static_cast<size_t>(begins[i % 3]), static_cast<size_t>(ends[i % 3] - begins[i % 3]));
    EXPECT_EQ(tok->decode(rows[i]["ids"].get<std::vector<int32_t>>()), expect);
  }
  o.keep_last_partial = false;
  o.output = (dir / "w2.jsonl").string();
  EXPECT_EQ(run_tokenize(o).sequences, 6);
}

TEST(TokenizePipeline, SafetensorsOutputHoldsIdsCoordinatesAndItsTokenizer) {
  const auto dir = temp_dir("safetensors");
  TokenizeOptions o;
  o.inputs = {kFasta};
  o.tokenizer = "ntv2-6mer";
  o.window = 300;
  o.output = (dir / "t.safetensors").string();
  o.command_line = "strand tokenize -i ce_3x600.fa";
  const auto summary = run_tokenize(o);
  const auto file = io::SafetensorsFile::open(o.output);
  const auto ids = file.tensor("ids");
  const auto offsets = file.tensor("row_offsets");
  const auto begin = file.tensor("row_begin");
  const auto end = file.tensor("row_end");
  ASSERT_EQ(offsets.numel(), 7);  // 6 windows + 1
  EXPECT_EQ(ids.numel(), summary.tokens);
  EXPECT_EQ(offsets[6].item<int64_t>(), ids.numel());
  EXPECT_EQ(file.metadata().at("format"), "strand.token_ids");
  EXPECT_EQ(file.metadata().at("command_line"), o.command_line);
  // The stored tokenizer rebuilds the same tokenizer.
  const auto tok = tokenizer_registry().from_json(nlohmann::json::parse(file.metadata().at("tokenizer")));
  EXPECT_EQ(tok->spec(), "ntv2-6mer");
  const auto rows = nlohmann::json::parse(file.metadata().at("rows"));
  const auto records = fixture_records();
  for (int64_t r = 0; r < 6; ++r) {
    const auto b = begin[r].item<int64_t>();
    const auto e = end[r].item<int64_t>();
    EXPECT_EQ(b, (r % 2) * 300);
    EXPECT_EQ(e, b + 300);
    EXPECT_EQ(rows[static_cast<size_t>(r)][0], records[static_cast<size_t>(r / 2)].first);
    const auto row = ids.slice(0, offsets[r].item<int64_t>(), offsets[r + 1].item<int64_t>());
    const std::vector<int32_t> got(row.data_ptr<int32_t>(), row.data_ptr<int32_t>() + row.numel());
    EXPECT_EQ(got, tok->encode_ids(records[static_cast<size_t>(r / 2)].second.substr(static_cast<size_t>(b), 300)));
  }
}

TEST(TokenizePipeline, StatisticsCountBasesAndTokens) {
  TokenizeOptions o;
  o.inputs = {kFasta};
  o.tokenizer = "codon";
  o.format = TokenOutputFormat::None;
  const auto s = run_tokenize(o);
  int64_t gc = 0, acgt = 0;
  for (const auto& [name, seq] : fixture_records()) {
    for (char c : seq) {
      gc += c == 'G' || c == 'C';
      acgt += c == 'A' || c == 'C' || c == 'G' || c == 'T';
    }
  }
  EXPECT_EQ(s.gc, gc);
  EXPECT_EQ(s.acgt, acgt);
  int64_t counted = 0;
  for (auto c : s.token_counts) counted += c;
  EXPECT_EQ(counted, s.tokens);
  const auto text = format_summary(s);
  EXPECT_NE(text.find("records: 3, bases: 1800"), std::string::npos) << text;
  EXPECT_NE(text.find("tokenizer: codon"), std::string::npos) << text;
}

TEST(TokenizePipeline, BadRecordLeavesNoOutputUnlessSkipped) {
  const auto dir = temp_dir("bad");
  const auto fastq = (dir / "reads.fq").string();
  io::write_file_atomic(fastq, "@r1\nACGT\n+\nIIII\n@r2\nACGT\n+\nIII\n@r3\nGGCC\n+\nIIII\n");
  TokenizeOptions o;
  o.inputs = {fastq};
  o.output = (dir / "out.jsonl").string();
  try {
    run_tokenize(o);
    FAIL() << "a quality length mismatch was accepted";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("reads.fq"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("r2"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(o.output));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);  // no temporary left
  o.skip_invalid = true;
  const auto s = run_tokenize(o);
  EXPECT_EQ(s.records, 2);
  EXPECT_EQ(s.skipped.at("quality length mismatch"), 1);
  EXPECT_EQ(read_jsonl(o.output).size(), 2u);
}

TEST(TokenizePipeline, OptionErrorsAreClear) {
  TokenizeOptions o;
  EXPECT_THROW(run_tokenize(o), InputError);  // no input
  o.inputs = {kFasta};
  o.output = "out.parquet";
  EXPECT_THROW(run_tokenize(o), InputError);
  o.output = "-";
  o.tokenizer = "no-such-tokenizer";
  EXPECT_THROW(run_tokenize(o), ConfigError);
  o.tokenizer = "char";
  o.stride = 10;
  EXPECT_THROW(run_tokenize(o), InputError);  // stride without window
}
