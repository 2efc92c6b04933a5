// Trainer: bit-exact resume after an interruption (with dropout, so the random state matters),
// checkpoint layout and pruning, metrics.jsonl without duplicates, validation metrics, divergence
// on NaN without touching the last checkpoint, gradient accumulation and clipping.
#include "libseq/train/trainer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/utils.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "libseq/core/config.h"
#include "libseq/core/progress.h"
#include "libseq/core/random.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/safetensors.h"
#include "libseq/train/rng_state.h"

namespace {

namespace fs = std::filesystem;
using strand::train::StepRecord;
using strand::train::StepResult;
using strand::train::Trainer;
using strand::train::TrainerCallbacks;
using strand::train::TrainerOptions;

struct TempDir {
  fs::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = fs::path(::testing::TempDir()) /
           ("strand_train_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string sub(const std::string& name) const { return (path / name).string(); }
};

// A small MLP with a LayerNorm (no-decay parameters), BatchNorm (buffers that change every
// step) and dropout (random state).
struct NetImpl : torch::nn::Module {
  explicit NetImpl(int64_t hidden = 32) {
    fc1 = register_module("fc1", torch::nn::Linear(8, hidden));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({hidden})));
    bn = register_module("bn", torch::nn::BatchNorm1d(hidden));
    drop = register_module("drop", torch::nn::Dropout(0.3));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, 4));
  }
  at::Tensor forward(const at::Tensor& x) { return fc2(drop(at::relu(bn(norm(fc1(x)))))); }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::BatchNorm1d bn{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(Net);

// A deterministic synthetic data stream: inputs from a strand::Rng, plus a little torch::rand
// noise from LibTorch's global generator. Position and Rng state form its data state.
struct Stream {
  strand::Rng rng{2024, 3};
  int64_t position = 0;
  int64_t nan_at = -1;       // micro-batch position whose loss is made NaN
  int64_t bad_grad_at = -1;  // micro-batch position whose gradient is made NaN (loss stays finite)

  StepResult next(Net& net) {
    std::vector<float> x(4 * 8);
    for (auto& v : x) v = static_cast<float>(rng.uniform01() * 2 - 1);
    std::vector<int64_t> y(4);
    for (auto& v : y) v = static_cast<int64_t>(rng.uniform(4));
    const at::Tensor input = at::tensor(x).reshape({4, 8}) + 0.01 * at::rand({4, 8});
    at::Tensor loss = torch::nn::functional::cross_entropy(net->forward(input), at::tensor(y, at::kLong));
    if (position == nan_at) loss = loss * std::numeric_limits<float>::quiet_NaN();
    if (position == bad_grad_at) {
      // sqrt at 0 has an infinite derivative: the loss is unchanged, the gradient is NaN.
      loss = loss + at::sqrt(net->fc1->weight.sum() * 0.0);
    }
    ++position;
    return {loss, 4 * 8};
  }
  nlohmann::json state() const { return {{"position", position}, {"rng", strand::train::rng_to_json(rng)}}; }
  void restore(const nlohmann::json& j) {
    position = j.at("position").get<int64_t>();
    rng = strand::train::rng_from_json(j.at("rng"), "test data state");
  }
};

// A fixed validation set; validate() also draws from the global generator, which the trainer
// must undo.
strand::train::ValidationResult validate_fixed(Net& net) {
  strand::Rng rng(99, 0);
  std::vector<float> x(16 * 8);
  for (auto& v : x) v = static_cast<float>(rng.uniform01() * 2 - 1);
  std::vector<int64_t> y(16);
  for (auto& v : y) v = static_cast<int64_t>(rng.uniform(4));
  at::rand({1000});
  const at::Tensor loss = torch::nn::functional::cross_entropy(
      net->forward(at::tensor(x).reshape({16, 8})), at::tensor(y, at::kLong),
      torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum));
  return {loss.item<double>(), 16, int64_t{16 * 3}};
}

TrainerOptions base_options(const std::string& out) {
  TrainerOptions o;
  o.out_dir = out;
  o.optimizer.lr = 1e-2;
  o.optimizer.weight_decay = 0.05;
  o.schedule.peak_lr = 1e-2;
  o.schedule.warmup_steps = 3;
  o.schedule.total_steps = 20;
  o.schedule.min_lr_ratio = 0.1;
  o.accum_steps = 2;
  o.max_grad_norm = 0.5;
  o.checkpoint_every = 4;
  o.keep_checkpoints = 1;
  o.log_every = 1;
  o.val_every = 5;
  o.seed = 1234;
  return o;
}

// One training setup: model, stream and trainer, with the per-step records collected.
struct Session {
  Net net;
  Stream stream;
  std::vector<StepRecord> records;
  std::unique_ptr<Trainer> trainer;

  Session(const TrainerOptions& options, uint64_t init_seed) : net(nullptr) {
    strand::manual_seed(init_seed);
    net = Net();
    TrainerCallbacks cb;
    cb.micro_step = [this](int64_t) { return stream.next(net); };
    cb.data_state = [this] { return stream.state(); };
    cb.restore_data_state = [this](const nlohmann::json& j) { stream.restore(j); };
    cb.validate = [this] { return validate_fixed(net); };
    cb.on_step = [this](const StepRecord& r) { records.push_back(r); };
    trainer = std::make_unique<Trainer>(net.ptr(), options, cb);
  }
};

uint64_t bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, sizeof b);
  return b;
}

std::vector<nlohmann::json> read_metrics(const std::string& out) {
  std::vector<nlohmann::json> lines;
  const std::string text = strand::io::read_file(out + "/metrics.jsonl");
  size_t begin = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    EXPECT_NE(end, std::string::npos) << "metrics.jsonl does not end with a newline";
    if (end == std::string::npos) break;
    lines.push_back(nlohmann::json::parse(text.substr(begin, end - begin)));
    begin = end + 1;
  }
  return lines;
}

std::map<std::string, std::string> read_dir_bytes(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out[e.path().filename().string()] = strand::io::read_file(e.path());
  return out;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { strand::Progress::set_quiet(true); }
  void TearDown() override { strand::Progress::set_quiet(false); }
};

TEST_F(TrainerTest, InterruptedThenResumedRunIsBitIdentical) {
  TempDir tmp;
  // Uninterrupted: 20 steps.
  std::vector<StepRecord> straight;
  std::map<std::string, at::Tensor> straight_state;
  {
    Session run(base_options(tmp.sub("straight")), 1);
    EXPECT_EQ(run.trainer->run(), 20);
    straight = run.records;
    for (const auto& p : run.net->named_parameters()) straight_state[p.key()] = p.value().detach().clone();
    for (const auto& b : run.net->named_buffers()) straight_state[b.key()] = b.value().detach().clone();
  }
  ASSERT_EQ(straight.size(), 20u);

  // Interrupted: stop after step 14 (the last checkpoint is step 12), destroy everything.
  const std::string out = tmp.sub("resumed");
  std::vector<StepRecord> first;
  {
    Session run(base_options(out), 1);
    EXPECT_EQ(run.trainer->run(14), 14);
    first = run.records;
  }
  ASSERT_EQ(first.size(), 14u);
  ASSERT_EQ(strand::train::list_checkpoints(out),
            (std::vector<std::string>{(fs::path(out) / "train_state" / "step-000000012").string()}));
  EXPECT_EQ(read_metrics(out).size(), 14u);

  // Disturb everything a fresh process would not share: global random state, model init.
  strand::manual_seed(987654);
  at::rand({12345});
  Session resumed(base_options(out), /*init_seed=*/555);
  ASSERT_TRUE(resumed.trainer->resume());
  EXPECT_EQ(resumed.trainer->step(), 12);
  EXPECT_EQ(resumed.stream.position, 24);
  EXPECT_EQ(read_metrics(out).size(), 12u);  // steps 13 and 14 dropped
  EXPECT_EQ(resumed.trainer->run(), 20);
  ASSERT_EQ(resumed.records.size(), 8u);

  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(bits(first[i].loss), bits(straight[i].loss)) << "step " << i + 1;
  for (size_t i = 0; i < resumed.records.size(); ++i) {
    const StepRecord& r = resumed.records[i];
    const StepRecord& s = straight[r.step - 1];
    EXPECT_EQ(r.step, static_cast<int64_t>(13 + i));
    EXPECT_EQ(bits(r.loss), bits(s.loss)) << "step " << r.step;
    EXPECT_EQ(bits(r.grad_norm), bits(s.grad_norm)) << "step " << r.step;
    EXPECT_EQ(bits(r.lr), bits(s.lr)) << "step " << r.step;
    EXPECT_EQ(r.val_loss.has_value(), s.val_loss.has_value());
    if (r.val_loss) {
      EXPECT_EQ(bits(*r.val_loss), bits(*s.val_loss)) << "step " << r.step;
    }
  }
  for (const auto& p : resumed.net->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), straight_state.at(p.key()))) << p.key();
  for (const auto& b : resumed.net->named_buffers())
    EXPECT_TRUE(torch::equal(b.value(), straight_state.at(b.key()))) << b.key();

  // metrics.jsonl: steps 1..20 once each, identical to the uninterrupted run's file.
  const auto lines = read_metrics(out);
  const auto straight_lines = read_metrics(tmp.sub("straight"));
  ASSERT_EQ(lines.size(), 20u);
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["step"].get<int64_t>(), static_cast<int64_t>(i + 1));
    EXPECT_EQ(bits(lines[i]["loss"].get<double>()), bits(straight_lines[i]["loss"].get<double>()));
    EXPECT_EQ(lines[i].contains("val_loss"), (i + 1) % 5 == 0);
  }
  // The last step always checkpoints; keep_checkpoints = 1 leaves only it, and no temporaries.
  std::vector<std::string> entries;
  for (const auto& e : fs::directory_iterator(fs::path(out) / "train_state")) entries.push_back(e.path().filename());
  EXPECT_EQ(entries, (std::vector<std::string>{"step-000000020"}));
}

TEST_F(TrainerTest, ResumeWithoutTheRandomStateWouldDiverge) {
  // Guards the test above: dropout and the noise must actually depend on the restored state.
  TempDir tmp;
  std::vector<StepRecord> straight;
  {
    Session run(base_options(tmp.sub("a")), 1);
    run.trainer->run();
    straight = run.records;
  }
  {
    Session run(base_options(tmp.sub("b")), 1);
    run.trainer->run(12);
  }
  Session resumed(base_options(tmp.sub("b")), 1);
  ASSERT_TRUE(resumed.trainer->resume());
  strand::manual_seed(4321);  // clobber the restored generator state
  resumed.trainer->run(13);
  EXPECT_NE(bits(resumed.records.at(0).loss), bits(straight.at(12).loss));
}

TEST_F(TrainerTest, CheckpointLayoutAndKeepLastK) {
  TempDir tmp;
  auto options = base_options(tmp.sub("out"));
  options.keep_checkpoints = 2;
  Session run(options, 1);
  run.trainer->run(13);
  const auto all = strand::train::list_checkpoints(tmp.sub("out"));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(fs::path(all[0]).filename(), "step-000000008");
  EXPECT_EQ(fs::path(all[1]).filename(), "step-000000012");
  EXPECT_EQ(run.trainer->latest_checkpoint(), all[1]);

  const std::string dir = all[1];
  for (const char* f : {"model.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json", "complete"})
    EXPECT_TRUE(fs::is_regular_file(fs::path(dir) / f)) << f;
  const auto model = strand::io::load_safetensors(dir + "/model.safetensors");
  EXPECT_TRUE(model.count("fc1.weight") && model.count("bn.running_mean") && model.count("bn.num_batches_tracked"));
  const auto opt = strand::io::load_safetensors(dir + "/optimizer.safetensors");
  for (const auto& p : run.net->named_parameters()) {
    ASSERT_TRUE(opt.count(p.key() + ".exp_avg")) << p.key();
    EXPECT_EQ(opt.at(p.key() + ".exp_avg").sizes(), p.value().sizes());
    EXPECT_TRUE(opt.count(p.key() + ".exp_avg_sq")) << p.key();
    EXPECT_EQ(opt.at(p.key() + ".step").item<int64_t>(), 12) << p.key();
  }
  const auto state = strand::load_json(dir + "/state.json");
  EXPECT_EQ(state["step"], 12);
  EXPECT_EQ(state["data_state"]["position"], 24);
  EXPECT_EQ(state["optimizer_groups"][0]["name"], "decay");
  EXPECT_EQ(state["optimizer_groups"][0]["params"], nlohmann::json({"fc1.weight", "fc2.weight"}));
  EXPECT_EQ(state["optimizer_groups"][1]["weight_decay"], 0.0);
  const auto rng = strand::io::load_safetensors(dir + "/rng.safetensors");
  EXPECT_TRUE(rng.count("cpu"));

  // A leftover of a write interrupted before its rename is not a checkpoint and is cleaned up.
  fs::create_directories(fs::path(tmp.sub("out")) / "train_state" / ".tmp-step-000000016.1");
  fs::create_directories(fs::path(tmp.sub("out")) / "train_state" / "step-000000099");  // no "complete"
  EXPECT_EQ(strand::train::list_checkpoints(tmp.sub("out")).size(), 2u);
  run.trainer->run(16);
  EXPECT_FALSE(fs::exists(fs::path(tmp.sub("out")) / "train_state" / ".tmp-step-000000016.1"));
  EXPECT_EQ(fs::path(strand::train::list_checkpoints(tmp.sub("out")).back()).filename(), "step-000000016");
}

TEST_F(TrainerTest, NanLossStopsWithoutTouchingTheLastCheckpoint) {
  TempDir tmp;
  const std::string out = tmp.sub("out");
  auto options = base_options(out);
  options.checkpoint_every = 3;
  Session run(options, 1);
  run.trainer->run(7);  // checkpoints at 3 and 6; step 7 is not checkpointed
  const std::string good = (fs::path(out) / "train_state" / "step-000000006").string();
  ASSERT_EQ(strand::train::list_checkpoints(out), std::vector<std::string>{good});
  const auto snapshot = read_dir_bytes(good);

  run.stream.nan_at = run.stream.position + 1;  // second micro-batch of step 8
  try {
    run.trainer->run();
    FAIL() << "expected DivergenceError";
  } catch (const strand::train::DivergenceError& e) {
    EXPECT_EQ(e.step(), 8);
    EXPECT_EQ(e.last_checkpoint(), good);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("step 8"), std::string::npos) << msg;
    EXPECT_NE(msg.find(good + " is intact"), std::string::npos) << msg;
  }
  EXPECT_EQ(strand::train::list_checkpoints(out), std::vector<std::string>{good});
  EXPECT_EQ(read_dir_bytes(good), snapshot);
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(fs::path(out) / "train_state")) entries += e.exists();
  EXPECT_EQ(entries, 1u);  // no temporary directory either
  EXPECT_EQ(read_metrics(out).back()["step"], 7);
  EXPECT_THROW(run.trainer->run(), strand::InputError);  // a failed trainer does not continue

  // The checkpoint loads, and gives back exactly the parameters it holds.
  Session fresh(options, 77);
  ASSERT_TRUE(fresh.trainer->resume());
  EXPECT_EQ(fresh.trainer->step(), 6);
  const auto saved = strand::io::load_safetensors(good + "/model.safetensors");
  for (const auto& p : fresh.net->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), saved.at(p.key())));
  EXPECT_EQ(read_metrics(out).back()["step"], 6);
}

TEST_F(TrainerTest, NanGradientWithFiniteLossStops) {
  TempDir tmp;
  auto options = base_options(tmp.sub("out"));
  options.checkpoint_every = 0;
  options.val_every = 0;
  Session run(options, 1);
  run.stream.bad_grad_at = 2;  // step 2, first micro-batch
  const at::Tensor before = run.net->fc1->weight.detach().clone();
  run.trainer->run(1);
  const at::Tensor after_one = run.net->fc1->weight.detach().clone();
  EXPECT_FALSE(torch::equal(before, after_one));
  try {
    run.trainer->run();
    FAIL() << "expected DivergenceError";
  } catch (const strand::train::DivergenceError& e) {
    EXPECT_EQ(e.step(), 2);
    EXPECT_NE(std::string(e.what()).find("no checkpoint has been written yet"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(torch::equal(run.net->fc1->weight, after_one));  // the optimizer did not step
}

TEST_F(TrainerTest, ValidationMetricsAndRandomIsolation) {
  TempDir tmp;
  // With validation every 2 steps the training losses equal those of a run without validation:
  // the random draws inside validate() are undone.
  auto with_val = base_options(tmp.sub("val"));
  with_val.val_every = 2;
  with_val.log_every = 4;
  with_val.checkpoint_every = 0;
  auto without = with_val;
  without.out_dir = tmp.sub("noval");
  without.val_every = 0;
  // One after the other: both use LibTorch's process-wide generator.
  Session a(with_val, 1);
  a.trainer->run(8);
  Session b(without, 1);
  b.trainer->run(8);
  ASSERT_EQ(a.records.size(), 8u);
  for (size_t i = 0; i < 8; ++i) EXPECT_EQ(bits(a.records[i].loss), bits(b.records[i].loss)) << i;

  // Lines at steps 2, 4, 6, 8 (validation) and 4, 8 (log_every); each step once.
  const auto lines = read_metrics(tmp.sub("val"));
  ASSERT_EQ(lines.size(), 4u);
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    EXPECT_EQ(l["step"], static_cast<int64_t>(2 * (i + 1)));
    for (const char* key : {"loss", "lr", "tokens_per_s", "grad_norm", "elapsed_s", "tokens"}) EXPECT_TRUE(l.contains(key));
    EXPECT_EQ(l["tokens"], 64 * l["step"].get<int64_t>());
    const double v = l["val_loss"].get<double>();
    EXPECT_GT(v, 0.0);
    EXPECT_DOUBLE_EQ(l["val_perplexity"].get<double>(), std::exp(v));
    EXPECT_DOUBLE_EQ(l["val_bits_per_token"].get<double>(), v / std::log(2.0));
    // 16 tokens covering 48 bases: bits per base = total nats / ln 2 / 48 = bits per token / 3.
    EXPECT_DOUBLE_EQ(l["val_bits_per_base"].get<double>(), v * 16 / std::log(2.0) / 48);
  }
  // The validation pass itself is deterministic in eval mode (no dropout, running BN stats).
  torch::NoGradGuard no_grad;
  a.net->eval();
  EXPECT_EQ(bits(validate_fixed(a.net).loss_sum / 16), bits(*a.records[7].val_loss));
}

TEST_F(TrainerTest, GradientAccumulationAveragesMicroBatches) {
  // Two micro-batches of 2 rows with loss / 2 give the gradient of one 4-row batch with a mean
  // loss. A linear model without dropout and one step of clipping-free AdamW compares them.
  TempDir tmp;
  const at::Tensor x = at::randn({4, 3});
  const at::Tensor y = at::randn({4, 1});
  auto run_with = [&](int64_t accum, const std::string& out) {
    strand::manual_seed(3);
    torch::nn::Linear lin(3, 1);
    TrainerOptions o;
    o.out_dir = out;
    o.schedule.peak_lr = 0.1;
    o.schedule.total_steps = 1;
    o.accum_steps = accum;
    o.max_grad_norm = 0;
    o.checkpoint_every = 0;
    TrainerCallbacks cb;
    at::Tensor grad;
    cb.micro_step = [&, accum](int64_t i) {
      const int64_t rows = 4 / accum;
      const at::Tensor xi = x.narrow(0, i * rows, rows);
      const at::Tensor yi = y.narrow(0, i * rows, rows);
      return StepResult{(lin->forward(xi) - yi).pow(2).mean(), rows};
    };
    double reported = 0;
    cb.on_step = [&](const StepRecord& r) { reported = r.grad_norm; };
    Trainer t(lin.ptr(), o, cb);
    t.run();
    return std::make_pair(lin->weight.grad().clone(), reported);
  };
  const auto [g1, n1] = run_with(1, tmp.sub("one"));
  const auto [g2, n2] = run_with(2, tmp.sub("two"));
  EXPECT_TRUE(at::allclose(g1, g2, 1e-5, 1e-6)) << g1 << g2;
  EXPECT_NEAR(n1, n2, 1e-5 * n1);
}

TEST_F(TrainerTest, ReportsThePreClipNormAndClips) {
  // loss = 100 * w: gradient 100, norm 100; clipped to 1 before the optimizer step.
  TempDir tmp;
  struct One : torch::nn::Module {
    One() { w = register_parameter("w", at::ones({1, 1})); }
    at::Tensor w;
  };
  auto model = std::make_shared<One>();
  TrainerOptions o;
  o.out_dir = tmp.sub("out");
  o.schedule.total_steps = 1;
  o.max_grad_norm = 1.0;
  o.checkpoint_every = 0;
  TrainerCallbacks cb;
  cb.micro_step = [&](int64_t) { return StepResult{model->w.sum() * 100.0, 1}; };
  double norm = 0;
  cb.on_step = [&](const StepRecord& r) { norm = r.grad_norm; };
  Trainer t(model, o, cb);
  t.run();
  EXPECT_DOUBLE_EQ(norm, 100.0);
  EXPECT_NEAR(model->w.grad().item<double>(), 1.0, 1e-6);
}

TEST_F(TrainerTest, RefusesToOverwriteAnEarlierRunAndRejectsAForeignCheckpoint) {
  TempDir tmp;
  const std::string out = tmp.sub("out");
  {
    Session run(base_options(out), 1);
    run.trainer->run(4);
  }
  {
    Session again(base_options(out), 1);
    EXPECT_THROW(again.trainer->run(), strand::InputError);
  }
  // A model with another hidden size does not fit the checkpoint.
  strand::manual_seed(1);
  Net other(16);
  Stream stream;
  TrainerCallbacks cb;
  cb.micro_step = [&](int64_t) { return stream.next(other); };
  cb.data_state = [&] { return stream.state(); };
  cb.restore_data_state = [&](const nlohmann::json& j) { stream.restore(j); };
  cb.validate = [&] { return validate_fixed(other); };
  auto options = base_options(out);
  Trainer t(other.ptr(), options, cb);
  try {
    t.resume();
    FAIL() << "expected ParseError";
  } catch (const strand::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find("has shape [32] in the checkpoint but [16] in the model"), std::string::npos)
        << e.what();
  }
}

TEST_F(TrainerTest, RejectsBadOptionsAndCallbackResults) {
  TempDir tmp;
  Net net;
  TrainerCallbacks cb;
  auto o = base_options(tmp.sub("out"));
  EXPECT_THROW(Trainer(net.ptr(), o, cb), strand::InputError);  // no micro_step
  cb.micro_step = [&](int64_t) { return StepResult{net->forward(at::randn({4, 8})).sum(), 1}; };
  EXPECT_THROW(Trainer(net.ptr(), o, cb), strand::InputError);  // checkpointing without data callbacks
  o.checkpoint_every = 0;
  o.val_every = 0;
  o.accum_steps = 0;
  EXPECT_THROW(Trainer(net.ptr(), o, cb), strand::InputError);
  o.accum_steps = 1;
  cb.micro_step = [&](int64_t) { return StepResult{net->forward(at::randn({4, 8})).detach().sum(), 1}; };
  Trainer no_grad(net.ptr(), o, cb);
  EXPECT_THROW(no_grad.run(), strand::InputError);
  cb.micro_step = [&](int64_t) { return StepResult{net->forward(at::randn({4, 8})), 1}; };
  Trainer not_scalar(net.ptr(), o, cb);
  EXPECT_THROW(not_scalar.run(), strand::InputError);
}

TEST_F(TrainerTest, ProgressLineWhenNotQuiet) {
  TempDir tmp;
  strand::Progress::set_quiet(false);
  auto o = base_options(tmp.sub("out"));
  o.progress_interval_s = 0;
  o.checkpoint_every = 0;
  Session run(o, 1);
  ::testing::internal::CaptureStderr();
  run.trainer->run(3);
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("train: 3/20 steps"), std::string::npos) << err;
  EXPECT_NE(err.find("step 3 loss "), std::string::npos) << err;
  EXPECT_NE(err.find("tok/s"), std::string::npos) << err;
}

TEST(RngState, StrandRngRoundTripsThroughJson) {
  strand::Rng a(7, 2);
  for (int i = 0; i < 5; ++i) a.next();
  strand::Rng b = strand::train::rng_from_json(strand::train::rng_to_json(a), "test");
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.next(), b.next());
  EXPECT_THROW(strand::train::rng_from_json(nlohmann::json::array({"00", "1", "2", "3"}), "test"), strand::ParseError);
  EXPECT_THROW(strand::train::rng_from_json(
                   nlohmann::json::array({"0000000000000000", "0000000000000000", "0000000000000000", "0000000000000000"}),
                   "test"),
               strand::ParseError);
}

TEST(RngState, TorchGeneratorStateRoundTrips) {
  strand::manual_seed(5);
  const auto state = strand::train::capture_torch_rng_state();
  const at::Tensor a = at::rand({10});
  at::rand({77});
  strand::train::restore_torch_rng_state(state, "test");
  EXPECT_TRUE(torch::equal(at::rand({10}), a));
  EXPECT_THROW(strand::train::restore_torch_rng_state({}, "test"), strand::ParseError);
  auto bad = state;
  bad["gpu:0"] = state.at("cpu");
  EXPECT_THROW(strand::train::restore_torch_rng_state(bad, "test"), strand::ParseError);
  bad = state;
  bad["cpu"] = at::zeros({3}, at::kByte);
  EXPECT_THROW(strand::train::restore_torch_rng_state(bad, "test"), strand::ParseError);
}

}  // namespace
