// `strand pretrain` and `strand embed` as library jobs on real data (C. elegans contigs from
// htslib-test, tests/data/io/ce_small.fa): outputs, exact resume, HDF5 read back with the HDF5
// C++ API, crash recovery and bad input.
#include <H5Cpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/io/safetensors.h"
#include "pipelines/embed.h"
#include "pipelines/model_io.h"
#include "pipelines/presets.h"
#include "pipelines/pretrain.h"
#include "pipelines/registry.h"
#include "tests/temp_dir.h"

using namespace strand;
namespace fs = std::filesystem;

namespace {

const std::string kGenome = std::string(STRAND_TEST_DATA) + "/io/ce_small.fa";  // 6 contigs, 30 kb
// 3 records of 600 bp (tests/data/pipelines/PROVENANCE.md), small enough to embed quickly.
const std::string kSmall = std::string(STRAND_TEST_DATA) + "/pipelines/ce_3x600.fa";

using strand_tests::TempDir;

pipelines::PretrainOptions tiny_run(const std::string& out, int64_t steps) {
  pipelines::PretrainOptions o;
  o.data = {kGenome};
  o.out = out;
  o.tokenizer = "char";
  o.arch = "tiny";
  o.steps = steps;
  o.batch = 4;
  o.seq_len = 64;
  o.val_every = 3;
  o.val_windows = 8;
  o.checkpoint_every = 3;
  o.log_every = 1;
  o.val_fraction = 0.1;
  o.command_line = "strand pretrain (test)";
  return o;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path) {
  std::ifstream in(path);
  std::vector<nlohmann::json> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

std::string read_string_attribute(const H5::H5File& f, const char* name) {
  H5::Attribute a = f.openAttribute(name);
  std::string value;
  a.read(a.getStrType(), value);
  return value;
}

}  // namespace

TEST(Presets, TinyIsUnderOneMillionParameters) {
  for (const char* spec : {"char", "ntv2-6mer"}) {
    const auto tok = pipelines::tokenizer_registry().create(spec);
    const auto config = pipelines::model_config_for("tiny", *tok, "clm");
    EXPECT_LT(pipelines::count_parameters(config), 1000000) << spec;
    EXPECT_GT(pipelines::count_parameters(config), 100000) << spec;
  }
  const auto tok = pipelines::tokenizer_registry().create("char");
  EXPECT_THROW(pipelines::model_config_for("huge", *tok, "clm"), ConfigError);
  EXPECT_THROW(pipelines::model_config_for("tiny", *tok, "xlm"), ConfigError);
  EXPECT_FALSE(pipelines::model_config_for("tiny", *tok, "mlm").backbone.causal);
}

TEST(Pretrain, WritesModelDirectoryMetricsAndCheckpoints) {
  TempDir dir("pretrain");
  const auto s = pipelines::run_pretrain(tiny_run(dir / "out", 6));
  EXPECT_TRUE(s.finished);
  EXPECT_EQ(s.steps, 6);
  for (const char* f : {"config.json", "model.safetensors", "tokenizer.json", "metrics.jsonl"})
    EXPECT_TRUE(fs::exists(dir.path / "out" / f)) << f;
  const auto metrics = read_jsonl(dir / "out/metrics.jsonl");
  ASSERT_EQ(metrics.size(), 6u);
  for (const auto& m : metrics)
    for (const char* key : {"step", "loss", "lr", "tokens_per_s", "grad_norm"}) EXPECT_TRUE(m.contains(key)) << key;
  EXPECT_TRUE(metrics[2].contains("val_bits_per_base"));
  EXPECT_TRUE(metrics[5].contains("val_bits_per_base"));
  EXPECT_FALSE(metrics[0].contains("val_bits_per_base"));
  // Base composition of C. elegans DNA: close to but below 2 bits per base.
  EXPECT_GT(s.baseline_bits_per_base, 1.8);
  EXPECT_LT(s.baseline_bits_per_base, 2.1);
  const auto config = load_json(dir / "out/config.json");
  EXPECT_EQ(config["provenance"]["command_line"], "strand pretrain (test)");
  EXPECT_EQ(config["provenance"]["training_data"][0]["path"], fs::absolute(kGenome).lexically_normal().string());
  EXPECT_EQ(config["tokenizer"]["spec"].get<std::string>().rfind("char:", 0), 0u);
  auto loaded = pipelines::load_model(dir / "out");
  EXPECT_EQ(loaded.tokenizer->spec(), config["tokenizer"]["spec"].get<std::string>());
}

TEST(Pretrain, InterruptedAndResumedRunIsBitIdentical) {
  TempDir dir("resume");
  pipelines::run_pretrain(tiny_run(dir / "straight", 6));
  auto first = tiny_run(dir / "split", 6);
  first.stop_after = 3;
  const auto partial = pipelines::run_pretrain(first);
  EXPECT_FALSE(partial.finished);
  EXPECT_FALSE(fs::exists(dir.path / "split/config.json"));
  auto second = tiny_run(dir / "split", 6);
  second.resume = true;
  EXPECT_TRUE(pipelines::run_pretrain(second).finished);
  const auto a = read_jsonl(dir / "straight/metrics.jsonl");
  const auto b = read_jsonl(dir / "split/metrics.jsonl");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << "step " << i + 1;
    EXPECT_EQ(a[i]["grad_norm"].get<double>(), b[i]["grad_norm"].get<double>()) << "step " << i + 1;
    if (a[i].contains("val_loss")) {
      EXPECT_EQ(a[i]["val_loss"].get<double>(), b[i]["val_loss"].get<double>());
    }
  }
  const auto wa = io::load_safetensors(dir / "straight/model.safetensors");
  const auto wb = io::load_safetensors(dir / "split/model.safetensors");
  ASSERT_EQ(wa.size(), wb.size());
  for (const auto& [name, t] : wa) EXPECT_TRUE(at::equal(t, wb.at(name))) << name;
}

TEST(Pretrain, MaskedObjectiveWithReverseComplementAugmentation) {
  TempDir dir("mlm");
  auto o = tiny_run(dir / "out", 3);
  o.objective = "mlm";
  o.rc_augment = true;
  const auto s = pipelines::run_pretrain(o);
  EXPECT_TRUE(s.finished);
  ASSERT_TRUE(s.val_bits_per_base.has_value());
  EXPECT_GT(*s.val_bits_per_base, 0.5);
  const auto config = load_json(dir / "out/config.json");
  EXPECT_EQ(config["head"]["kind"], "mlm");
  EXPECT_FALSE(config["backbone"]["causal"].get<bool>());
}

TEST(Pretrain, RefusesToOverwriteCheckpointsWithoutResume) {
  TempDir dir("overwrite");
  pipelines::run_pretrain(tiny_run(dir / "out", 3));
  EXPECT_THROW(pipelines::run_pretrain(tiny_run(dir / "out", 3)), InputError);
}

namespace {

std::string trained_model(const TempDir& dir) {
  const std::string out = dir / "model";
  if (!fs::exists(fs::path(out) / "config.json")) pipelines::run_pretrain(tiny_run(out, 3));
  return out;
}

pipelines::EmbedOptions embed_run(const std::string& model, const std::string& input, const std::string& out) {
  pipelines::EmbedOptions o;
  o.model = model;
  o.inputs = {input};
  o.output = out;
  o.window = 100;
  o.stride = 100;
  o.batch_size = 3;  // the resume point below is a multiple, so rows share the same batches
  o.command_line = "strand embed (test)";
  return o;
}

at::Tensor read_matrix(const H5::H5File& f, const char* name) {
  H5::DataSet ds = f.openDataSet(name);
  hsize_t dims[2] = {0, 0};
  ds.getSpace().getSimpleExtentDims(dims);
  at::Tensor t = at::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])}, at::kFloat);
  ds.read(t.data_ptr<float>(), H5::PredType::NATIVE_FLOAT);
  return t;
}

std::vector<int64_t> read_ints(const H5::H5File& f, const char* name) {
  H5::DataSet ds = f.openDataSet(name);
  hsize_t n = 0;
  ds.getSpace().getSimpleExtentDims(&n);
  std::vector<int64_t> v(n);
  ds.read(v.data(), H5::PredType::NATIVE_INT64);
  return v;
}

}  // namespace

TEST(Embed, WindowsPooledEmbeddingsAndAttributes) {
  TempDir dir("embed");
  const std::string model = trained_model(dir);
  auto o = embed_run(model, kSmall, dir / "e.h5");
  o.store_tokens = true;
  o.layer = 2;
  o.pooling = models::Pooling::Max;
  const auto s = pipelines::run_embed(o);
  // Three 600 bp records in windows of 100: 6 each.
  EXPECT_EQ(s.records, 3);
  EXPECT_EQ(s.rows, 18);
  EXPECT_FALSE(fs::exists(pipelines::partial_path(dir / "e.h5")));
  H5::H5File f(dir / "e.h5", H5F_ACC_RDONLY);
  const at::Tensor e = read_matrix(f, "embeddings");
  EXPECT_EQ(e.sizes(), (at::IntArrayRef{18, 96}));
  EXPECT_GT(e.abs().sum().item<double>(), 0.0);
  const auto start = read_ints(f, "start"), end = read_ints(f, "end");
  ASSERT_EQ(start.size(), 18u);
  for (int64_t i = 0; i < 18; ++i) {
    EXPECT_EQ(start[static_cast<size_t>(i)], (i % 6) * 100);
    EXPECT_EQ(end[static_cast<size_t>(i)], (i % 6) * 100 + 100);
  }
  const auto offsets = read_ints(f, "token_offsets");
  ASSERT_EQ(offsets.size(), 19u);
  EXPECT_EQ(offsets[1] - offsets[0], 102);  // <cls> + 100 bases + <eos>
  EXPECT_EQ(read_matrix(f, "token_embeddings").size(0), offsets.back());
  EXPECT_EQ(read_string_attribute(f, "layer"), "2");
  EXPECT_EQ(read_string_attribute(f, "pooling"), "max");
  EXPECT_EQ(read_string_attribute(f, "command_line"), "strand embed (test)");
  EXPECT_FALSE(read_string_attribute(f, "version").empty());
  EXPECT_EQ(read_string_attribute(f, "model"), fs::absolute(model).lexically_normal().string());
}

TEST(Embed, ResumeAfterACrashEqualsAnUninterruptedRun) {
  TempDir dir("embed-resume");
  const std::string model = trained_model(dir);
  pipelines::run_embed(embed_run(model, kSmall, dir / "full.h5"));
  // A killed run: the first record's rows are committed in OUT.partial, nothing at OUT.
  {
    std::ifstream in(kSmall);
    std::stringstream text;
    text << in.rdbuf();
    const std::string all = text.str();
    std::ofstream(dir / "two.fa") << all.substr(0, all.find(">CHROMOSOME_II"));  // the first record
  }
  pipelines::run_embed(embed_run(model, dir / "two.fa", dir / "two.h5"));
  {
    H5::H5File two(dir / "two.h5", H5F_ACC_RDONLY);
    const at::Tensor rows = read_matrix(two, "embeddings");
    pipelines::EmbeddingWriter writer;
    pipelines::EmbeddingWriterOptions wo;
    wo.dim = 96;
    wo.attributes = {{"model", read_string_attribute(two, "model")}, {"layer", read_string_attribute(two, "layer")},
                     {"pooling", read_string_attribute(two, "pooling")}};
    writer.open(dir / "resumed.h5", wo);
    pipelines::EmbeddingBatch batch;
    batch.embeddings = rows;
    batch.start = read_ints(two, "start");
    batch.end = read_ints(two, "end");
    batch.names.assign(6, "CHROMOSOME_I");
    batch.record_index.assign(6, 0);  // six windows of record 0
    writer.append(batch);
  }  // destroyed without finish(): OUT.partial stays
  ASSERT_TRUE(fs::exists(pipelines::partial_path(dir / "resumed.h5")));
  ASSERT_FALSE(fs::exists(dir.path / "resumed.h5"));
  auto o = embed_run(model, kSmall, dir / "resumed.h5");
  o.resume = true;
  const auto s = pipelines::run_embed(o);
  EXPECT_EQ(s.resumed_rows, 6);
  EXPECT_EQ(s.rows, 12);
  H5::H5File a(dir / "full.h5", H5F_ACC_RDONLY), b(dir / "resumed.h5", H5F_ACC_RDONLY);
  EXPECT_TRUE(at::equal(read_matrix(a, "embeddings"), read_matrix(b, "embeddings")));
  EXPECT_EQ(read_ints(a, "start"), read_ints(b, "start"));
}

TEST(Embed, ShardsPartitionTheRecords) {
  TempDir dir("embed-shard");
  const std::string model = trained_model(dir);
  int64_t rows = 0;
  for (int i = 0; i < 3; ++i) {
    auto o = embed_run(model, kSmall, dir / ("s" + std::to_string(i) + ".h5"));
    o.shard = i;
    o.num_shards = 3;
    const auto s = pipelines::run_embed(o);
    EXPECT_EQ(s.shard_records, 1);
    rows += s.rows;
  }
  EXPECT_EQ(rows, 18);
}

TEST(Embed, BadInputFailsAndLeavesNoCompleteFile) {
  TempDir dir("embed-bad");
  const std::string model = trained_model(dir);
  const std::string bad = std::string(STRAND_TEST_DATA) + "/io/bad/invalid_character.fa";
  auto o = embed_run(model, bad, dir / "bad.h5");
  try {
    pipelines::run_embed(o);
    FAIL() << "expected a ParseError";
  } catch (const ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("invalid_character.fa:3:"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path / "bad.h5"));
  // A long sequence without --window is refused with a hint.
  auto whole = embed_run(model, kGenome, dir / "whole.h5");
  whole.window = 0;
  whole.max_tokens = 1000;
  try {
    pipelines::run_embed(whole);
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--window"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(dir.path / "whole.h5"));
  auto bad_layer = embed_run(model, kSmall, dir / "layer.h5");
  bad_layer.layer = 9;
  EXPECT_THROW(pipelines::run_embed(bad_layer), InputError);
}
