// `strand finetune` / `strand predict` as library jobs on a small task whose label is decided by
// base composition (GC-rich vs AT-rich sequences, and GC fraction as a regression target), so a
// working pipeline must learn it and a broken one cannot.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "libseq/models/model.h"
#include "pipelines/finetune.h"
#include "pipelines/model_io.h"
#include "pipelines/presets.h"
#include "pipelines/registry.h"
#include "pipelines/task.h"
#include "tests/temp_dir.h"

using namespace strand;
namespace fs = std::filesystem;

namespace {

using strand_tests::TempDir;

/// A sequence of `len` bases with GC probability `gc`.
std::string draw(Rng& rng, int len, double gc) {
  std::string s;
  for (int i = 0; i < len; ++i) {
    const bool strong = rng.uniform01() < gc;
    s += strong ? (rng.uniform01() < 0.5 ? 'G' : 'C') : (rng.uniform01() < 0.5 ? 'A' : 'T');
  }
  return s;
}

double gc_fraction(const std::string& s) {
  double n = 0;
  for (char c : s) n += (c == 'G' || c == 'C') ? 1 : 0;
  return n / static_cast<double>(s.size());
}

/// Classification (gc-rich / at-rich) or regression (GC fraction) with train/valid/test.
std::string make_task(const std::string& dir, bool regression, int train_n = 160) {
  Rng rng(7);
  pipelines::Task task;
  task.spec.name = regression ? "gc-fraction" : "gc-rich";
  task.spec.kind = regression ? pipelines::TaskKind::Regression : pipelines::TaskKind::Classification;
  task.spec.alphabet = "dna";
  if (!regression) task.spec.classes = {"at-rich", "gc-rich"};
  task.spec.metric = regression ? "spearman" : "mcc";
  auto fill = [&](std::vector<pipelines::TaskExample>& split, int n, const std::string& prefix) {
    for (int i = 0; i < n; ++i) {
      pipelines::TaskExample x;
      x.id = prefix + std::to_string(i);
      const double gc = regression ? 0.2 + 0.6 * rng.uniform01() : (i % 2 == 0 ? 0.3 : 0.7);
      x.sequence = draw(rng, 32, gc);
      if (regression) {
        x.value = gc_fraction(x.sequence);
      } else {
        x.label = i % 2;
      }
      split.push_back(x);
    }
  };
  fill(task.train, train_n, "tr");
  fill(task.valid, 40, "va");
  fill(task.test, 60, "te");
  pipelines::write_task(task, dir);
  return dir;
}

/// A small bidirectional attention model (2 blocks, d_model 32) as a config.json for --arch.
std::string small_arch(const std::string& dir) {
  auto tok = pipelines::tokenizer_registry().create("char");
  nlohmann::json j = pipelines::model_config_for("tiny", *tok, "mlm").to_json();
  j["backbone"]["d_model"] = 32;
  j["backbone"]["pattern"] = "AA";
  j["backbone"]["mlp_hidden"] = 64;
  j["backbone"]["mixers"]["A"]["n_heads"] = 2;
  fs::create_directories(dir);
  const std::string path = dir + "/small.json";
  std::ofstream(path) << j.dump(2);
  return path;
}

pipelines::FinetuneOptions options(const std::string& task, const std::string& out) {
  pipelines::FinetuneOptions o;
  o.arch = small_arch(out + "-arch");
  o.task = task;
  o.out = out;
  o.epochs = 6;
  o.batch = 16;
  o.lr = 2e-3;
  o.patience = 0;
  o.command_line = "strand finetune (test)";
  return o;
}

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string cell;
    while (std::getline(ss, cell, '\t')) f.push_back(cell);
    rows.push_back(f);
  }
  return rows;
}

/// A "pretrained" model directory: a tiny causal LM with the char tokenizer (random weights).
std::string make_pretrained(const std::string& dir) {
  auto tok = pipelines::tokenizer_registry().create("char");
  const models::ModelConfig config = pipelines::model_config_for("tiny", *tok, "clm");
  manual_seed(3);
  models::SequenceModel model(config);
  models::save_model_dir(dir, config, model, tok->to_json());
  return dir;
}

/// Asserts that every embedding and backbone tensor of `after` equals `before`'s within `atol`
/// (0: exactly); the head is not compared.
void expect_same_backbone(const std::map<std::string, at::Tensor>& before,
                          const std::map<std::string, at::Tensor>& after, double atol) {
  int compared = 0;
  for (const auto& [name, t] : after) {
    if (name.rfind("head.", 0) == 0) continue;
    ASSERT_TRUE(before.count(name)) << name;
    EXPECT_TRUE(atol == 0 ? t.equal(before.at(name)) : t.allclose(before.at(name), 0, atol)) << name;
    ++compared;
  }
  EXPECT_GT(compared, 5);
}

}  // namespace

TEST(Finetune, FromScratchLearnsCompositionAndWritesEveryOutput) {
  TempDir tmp("ft-cls");
  const std::string task = make_task(tmp / "task", false);
  const auto s = pipelines::run_finetune(options(task, tmp / "out"));
  ASSERT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.metric, "mcc");
  EXPECT_EQ(s.runs[0].steps, 6 * 10);
  EXPECT_GT(s.runs[0].test.at("accuracy"), 0.9);
  EXPECT_GT(s.runs[0].test.at("mcc"), 0.8);
  EXPECT_GT(s.runs[0].test.at("auroc"), 0.95);
  EXPECT_EQ(s.parameters, s.trainable_parameters);

  std::ifstream in(tmp / "out/metrics.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report.at("task"), "gc-rich");
  EXPECT_NEAR(report.at("test").at("mcc").get<double>(), s.runs[0].test.at("mcc"), 1e-12);
  const auto rows = read_tsv(tmp / "out/predictions.tsv");
  ASSERT_EQ(rows.size(), 61u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"id", "label", "predicted", "p_at-rich", "p_gc-rich"}));
  EXPECT_EQ(rows[1][0], "te0");
  EXPECT_EQ(rows[1][1], "at-rich");
  EXPECT_NEAR(std::stod(rows[1][3]) + std::stod(rows[1][4]), 1.0, 1e-5);

  // The saved model is the best one and carries the task for predict.
  const auto loaded = pipelines::load_model(tmp / "out/model");
  EXPECT_EQ(loaded.dir.config.head.kind, models::HeadKind::SequenceClassification);
  EXPECT_EQ(loaded.dir.config.provenance.at("task").at("classes"),
            (nlohmann::json{"at-rich", "gc-rich"}));

  // predict on the test sequences gives the same probabilities as the test predictions.
  std::ofstream fa(tmp / "test.fa");
  const auto test = pipelines::load_task(task).test;
  for (const auto& x : test) fa << '>' << x.id << '\n' << x.sequence << '\n';
  fa.close();
  pipelines::PredictOptions p;
  p.model = tmp / "out/model";
  p.inputs = {tmp / "test.fa"};
  p.output = tmp / "pred.tsv";
  EXPECT_EQ(pipelines::run_predict(p).rows, 60);
  const auto pred = read_tsv(tmp / "pred.tsv");
  ASSERT_EQ(pred.size(), 61u);
  EXPECT_EQ(pred[0], (std::vector<std::string>{"id", "predicted", "p_at-rich", "p_gc-rich"}));
  for (size_t i = 1; i < pred.size(); ++i) {
    EXPECT_EQ(pred[i][0], rows[i][0]);
    EXPECT_EQ(pred[i][1], rows[i][2]);
    EXPECT_NEAR(std::stod(pred[i][3]), std::stod(rows[i][4]), 1e-5);
  }
}

TEST(Finetune, EarlyStoppingEndsTrainingAfterPatienceValidations) {
  TempDir tmp("ft-stop");
  const std::string task = make_task(tmp / "task", false);
  auto o = options(task, tmp / "out");
  o.epochs = 200;
  o.patience = 2;
  const auto s = pipelines::run_finetune(o);
  // Validation MCC reaches its maximum of 1 and cannot improve strictly after that.
  EXPECT_LT(s.runs[0].steps, 200 * 10);
  EXPECT_LE(s.runs[0].steps - s.runs[0].best_step, 2 * 10);
  EXPECT_EQ(s.runs[0].steps % 10, 0);
}

TEST(Finetune, RegressionPredictsInTaskUnits) {
  TempDir tmp("ft-reg");
  const std::string task = make_task(tmp / "task", true, 240);
  auto o = options(task, tmp / "out");
  o.epochs = 8;
  const auto s = pipelines::run_finetune(o);
  EXPECT_EQ(s.metric, "spearman");
  EXPECT_GT(s.runs[0].test.at("spearman"), 0.8);
  EXPECT_LT(s.runs[0].test.at("rmse"), 0.08);  // the GC fractions spread over [0.2, 0.8]
  const auto rows = read_tsv(tmp / "out/predictions.tsv");
  ASSERT_EQ(rows[0], (std::vector<std::string>{"id", "label", "predicted"}));
  const double predicted = std::stod(rows[1][2]);
  EXPECT_GT(predicted, 0.1);
  EXPECT_LT(predicted, 0.9);
}

TEST(Finetune, LinearProbeTrainsOnlyTheHead) {
  TempDir tmp("ft-probe");
  const std::string task = make_task(tmp / "task", false);
  const std::string pre = make_pretrained(tmp / "pre");
  auto o = options(task, tmp / "out");
  o.arch.clear();
  o.model = pre;
  o.mode = "probe";
  o.epochs = 30;
  o.lr = 1e-2;
  const auto s = pipelines::run_finetune(o);
  EXPECT_LT(s.trainable_parameters, s.parameters);
  EXPECT_GT(s.runs[0].test.at("accuracy"), 0.8);  // mean-pooled features of any embedding encode composition
  expect_same_backbone(models::state_dict(*pipelines::load_model(pre).dir.model),
                       models::state_dict(*pipelines::load_model(tmp / "out/model").dir.model), 0);
}

TEST(Finetune, FullFineTuningStartsFromThePretrainedWeights) {
  TempDir tmp("ft-from");
  const std::string task = make_task(tmp / "task", false);
  const std::string pre = make_pretrained(tmp / "pre");
  auto o = options(task, tmp / "out");
  o.arch.clear();
  o.model = pre;
  o.epochs = 1;
  o.lr = 1e-12;  // the weights can hardly move: the result must still be the pretrained backbone
  pipelines::run_finetune(o);
  expect_same_backbone(models::state_dict(*pipelines::load_model(pre).dir.model),
                       models::state_dict(*pipelines::load_model(tmp / "out/model").dir.model), 1e-6);
}

TEST(Finetune, KFoldRunsEveryFoldAndReportsTheSpread) {
  TempDir tmp("ft-fold");
  const std::string task = make_task(tmp / "task", false, 80);
  auto o = options(task, tmp / "out");
  o.folds = 3;
  o.epochs = 3;
  const auto s = pipelines::run_finetune(o);
  ASSERT_EQ(s.runs.size(), 3u);
  for (int f = 0; f < 3; ++f) EXPECT_TRUE(fs::exists(tmp / ("out/fold-" + std::to_string(f) + "/model/config.json")));
  double sum = 0;
  for (const auto& r : s.runs) sum += r.test.at("accuracy");
  EXPECT_NEAR(s.test_mean.at("accuracy"), sum / 3, 1e-12);
  std::ifstream in(tmp / "out/metrics.json");
  const auto report = nlohmann::json::parse(in);
  EXPECT_EQ(report.at("runs").size(), 3u);
  EXPECT_TRUE(report.at("test_half_range").contains("mcc"));
}

TEST(Finetune, BadOptionsAreConfigErrors) {
  TempDir tmp("ft-bad");
  const std::string task = make_task(tmp / "task", false, 20);
  auto both = options(task, tmp / "o1");
  both.model = tmp / "somewhere";
  EXPECT_THROW(pipelines::run_finetune(both), ConfigError);
  auto metric = options(task, tmp / "o2");
  metric.metric = "rmse";
  try {
    pipelines::run_finetune(metric);
    ADD_FAILURE() << "a regression metric on a classification task was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("does not apply to a classification task"), std::string::npos) << e.what();
  }
  auto probe = options(task, tmp / "o3");
  probe.mode = "probe";
  EXPECT_THROW(pipelines::run_finetune(probe), ConfigError);
  pipelines::PredictOptions p;
  p.model = make_pretrained(tmp / "pre");
  p.inputs = {tmp / "x.fa"};
  p.output = tmp / "x.tsv";
  try {
    pipelines::run_predict(p);
    ADD_FAILURE() << "predict accepted a language model";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fine-tuned by `strand finetune`"), std::string::npos) << e.what();
  }
}
