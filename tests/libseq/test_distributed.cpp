// Data-parallel training (libseq/train/distributed.h): rendezvous variables of torchrun, mpirun
// and srun; two ranks on loopback that must reach the weights of one process on the same global
// batch; and failures (an exception, a killed process, a hang) that must end the other rank with
// an error naming what happened, within the timeout.
//
// The two ranks are this test executable started again (fork + exec, so each rank is a fresh
// process: LibTorch's thread pools do not survive fork). A child sees STRAND_DDP_TEST_WORKER and
// runs one rank from a gtest Environment, before any test, then exits.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/types.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/core/progress.h"
#include "libseq/io/safetensors.h"
#include "libseq/train/distributed.h"
#include "libseq/train/objectives.h"
#include "libseq/train/trainer.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using strand::ConfigError;
using strand::train::DistEnv;
using strand::train::DistributedError;
using strand::train::Launcher;
using testing::HasSubstr;

// ---------------------------------------------------------------------------------------------
// (a) Rendezvous variables.

DistEnv parse(const std::map<std::string, std::string>& vars) {
  return strand::train::parse_dist_env([&](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

// The ConfigError message for `vars` ("" when parsing succeeded).
std::string parse_error(const std::map<std::string, std::string>& vars) {
  try {
    parse(vars);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(DistEnv, NoLauncherIsOneProcess) {
  const DistEnv e = parse({{"MASTER_ADDR", "10.0.0.1"}, {"HOME", "/root"}});
  EXPECT_EQ(e.launcher, Launcher::None);
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_FALSE(e.distributed());
  EXPECT_TRUE(e.master_addr.empty());
  // WORLD_SIZE=1 alone is one process too (what torchrun --nproc-per-node 1 sets, minus RANK).
  const DistEnv one = parse({{"WORLD_SIZE", "1"}});
  EXPECT_EQ(one.launcher, Launcher::Torchrun);
  EXPECT_FALSE(one.distributed());
  // Empty values count as unset.
  EXPECT_FALSE(parse({{"RANK", ""}, {"WORLD_SIZE", ""}}).distributed());
}

TEST(DistEnv, Torchrun) {
  const DistEnv e = parse({{"RANK", "5"},
                           {"WORLD_SIZE", "8"},
                           {"LOCAL_RANK", "1"},
                           {"LOCAL_WORLD_SIZE", "4"},
                           {"MASTER_ADDR", "node07"},
                           {"MASTER_PORT", "29400"},
                           {"GLOO_SOCKET_IFNAME", "ib0"}});
  EXPECT_EQ(e.launcher, Launcher::Torchrun);
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 4);
  EXPECT_EQ(e.master_addr, "node07");
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_FALSE(e.agent_store);
  EXPECT_EQ(e.store_prefix, "");
  EXPECT_EQ(e.gloo_socket_ifname, "ib0");
  EXPECT_THAT(e.source, HasSubstr("RANK=5"));
  EXPECT_THAT(e.source, HasSubstr("MASTER_PORT=29400"));

  // Under torchrun's agent, the agent hosts the store: every rank is a client, keys per attempt.
  const DistEnv agent = parse({{"RANK", "0"},
                               {"WORLD_SIZE", "2"},
                               {"MASTER_ADDR", "127.0.0.1"},
                               {"MASTER_PORT", "29500"},
                               {"TORCHELASTIC_USE_AGENT_STORE", "True"},
                               {"TORCHELASTIC_RESTART_COUNT", "3"}});
  EXPECT_TRUE(agent.agent_store);
  EXPECT_EQ(agent.store_prefix, "/worker/attempt_3");
  EXPECT_FALSE(agent.local_rank.has_value());
}

TEST(DistEnv, TorchrunErrorsNameTheVariable) {
  const std::map<std::string, std::string> ok = {
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  ASSERT_EQ(parse_error(ok), "");
  const auto with = [&](const std::string& name, const std::string& value) {
    auto vars = ok;
    vars[name] = value;
    return parse_error(vars);
  };
  const auto without = [&](const std::string& name) {
    auto vars = ok;
    vars.erase(name);
    return parse_error(vars);
  };
  EXPECT_THAT(without("WORLD_SIZE"), HasSubstr("WORLD_SIZE is not"));
  EXPECT_THAT(without("RANK"), HasSubstr("RANK is not"));
  EXPECT_THAT(without("MASTER_ADDR"), HasSubstr("MASTER_ADDR is not set"));
  EXPECT_THAT(without("MASTER_PORT"), HasSubstr("MASTER_PORT is not set"));
  EXPECT_THAT(with("RANK", "2"), HasSubstr("RANK=2 must be below WORLD_SIZE=2"));
  EXPECT_THAT(with("RANK", "one"), HasSubstr("RANK='one' is not an integer"));
  EXPECT_THAT(with("RANK", "-1"), HasSubstr("RANK=-1 is out of range"));
  EXPECT_THAT(with("WORLD_SIZE", "0"), HasSubstr("WORLD_SIZE=0 is out of range"));
  EXPECT_THAT(with("WORLD_SIZE", "2x"), HasSubstr("WORLD_SIZE='2x' is not an integer"));
  EXPECT_THAT(with("MASTER_PORT", "70000"), HasSubstr("MASTER_PORT=70000 is out of range"));
  EXPECT_THAT(with("MASTER_PORT", "0"), HasSubstr("MASTER_PORT=0 is out of range"));
  auto local = ok;
  local["LOCAL_RANK"] = "2";
  local["LOCAL_WORLD_SIZE"] = "2";
  EXPECT_THAT(parse_error(local), HasSubstr("LOCAL_RANK=2 must be below LOCAL_WORLD_SIZE=2"));
  local["LOCAL_RANK"] = "0";
  local["LOCAL_WORLD_SIZE"] = "3";
  EXPECT_THAT(parse_error(local), HasSubstr("LOCAL_WORLD_SIZE=3 exceeds the world size 2"));
  EXPECT_THAT(with("TORCHELASTIC_USE_AGENT_STORE", "True"), HasSubstr("TORCHELASTIC_RESTART_COUNT"));
}

TEST(DistEnv, OpenMpi) {
  // All ranks on one node: the store is on loopback, the port defaults to 29500.
  const DistEnv e = parse({{"OMPI_COMM_WORLD_RANK", "3"},
                           {"OMPI_COMM_WORLD_SIZE", "4"},
                           {"OMPI_COMM_WORLD_LOCAL_RANK", "3"},
                           {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}});
  EXPECT_EQ(e.launcher, Launcher::OpenMpi);
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 3);
  EXPECT_EQ(e.master_addr, "127.0.0.1");
  EXPECT_EQ(e.master_port, 29500);

  // Several nodes: MASTER_ADDR is required, and used with MASTER_PORT when given.
  const std::map<std::string, std::string> multi = {{"OMPI_COMM_WORLD_RANK", "5"},
                                                    {"OMPI_COMM_WORLD_SIZE", "8"},
                                                    {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                    {"OMPI_COMM_WORLD_LOCAL_SIZE", "4"}};
  EXPECT_THAT(parse_error(multi), HasSubstr("MASTER_ADDR is not set"));
  EXPECT_THAT(parse_error(multi), HasSubstr("mpirun -x MASTER_ADDR"));
  auto given = multi;
  given["MASTER_ADDR"] = "c12";
  given["MASTER_PORT"] = "12345";
  const DistEnv g = parse(given);
  EXPECT_EQ(g.master_addr, "c12");
  EXPECT_EQ(g.master_port, 12345);

  EXPECT_THAT(parse_error({{"OMPI_COMM_WORLD_RANK", "0"}}), HasSubstr("OMPI_COMM_WORLD_SIZE is not"));
  EXPECT_THAT(parse_error({{"OMPI_COMM_WORLD_SIZE", "2"}}), HasSubstr("OMPI_COMM_WORLD_RANK is not"));
  EXPECT_THAT(parse_error({{"OMPI_COMM_WORLD_RANK", "2"}, {"OMPI_COMM_WORLD_SIZE", "2"}}),
              HasSubstr("OMPI_COMM_WORLD_RANK=2 must be below OMPI_COMM_WORLD_SIZE=2"));
}

TEST(DistEnv, Slurm) {
  const std::map<std::string, std::string> base = {{"SLURM_PROCID", "6"},
                                                   {"SLURM_NTASKS", "16"},
                                                   {"SLURM_STEP_NUM_TASKS", "8"},
                                                   {"SLURM_LOCALID", "2"},
                                                   {"SLURM_JOB_ID", "4242421"},
                                                   {"SLURM_JOB_NODELIST", "gpu[007-009,012],login1"}};
  const DistEnv e = parse(base);
  EXPECT_EQ(e.launcher, Launcher::Slurm);
  EXPECT_EQ(e.rank, 6);
  EXPECT_EQ(e.world_size, 8);  // the step's tasks, not the allocation's
  EXPECT_EQ(e.local_rank, 2);
  EXPECT_EQ(e.master_addr, "gpu007");                    // first host of the node list
  EXPECT_EQ(e.master_port, 20000 + 4242421 % 20000);     // derived from the job id

  auto step_list = base;
  step_list["SLURM_STEP_NODELIST"] = "gpu[008-009]";  // the step's own nodes come first
  EXPECT_EQ(parse(step_list).master_addr, "gpu008");
  auto explicit_master = base;
  explicit_master["MASTER_ADDR"] = "head";
  explicit_master["MASTER_PORT"] = "29999";
  EXPECT_EQ(parse(explicit_master).master_addr, "head");
  EXPECT_EQ(parse(explicit_master).master_port, 29999);
  auto ntasks_only = base;
  ntasks_only.erase("SLURM_STEP_NUM_TASKS");
  EXPECT_EQ(parse(ntasks_only).world_size, 16);

  auto no_hosts = base;
  no_hosts.erase("SLURM_JOB_NODELIST");
  EXPECT_THAT(parse_error(no_hosts), HasSubstr("neither MASTER_ADDR nor SLURM_JOB_NODELIST"));
  auto no_port = base;
  no_port.erase("SLURM_JOB_ID");
  EXPECT_THAT(parse_error(no_port), HasSubstr("MASTER_PORT is not set"));
  auto bad_list = base;
  bad_list["SLURM_JOB_NODELIST"] = "gpu[007-009";
  EXPECT_THAT(parse_error(bad_list), HasSubstr("SLURM_JOB_NODELIST='gpu[007-009' is not a Slurm host list"));
  auto too_high = base;
  too_high["SLURM_PROCID"] = "8";
  EXPECT_THAT(parse_error(too_high), HasSubstr("SLURM_PROCID=8 must be below SLURM_STEP_NUM_TASKS=8"));
  auto no_tasks = base;
  no_tasks.erase("SLURM_NTASKS");
  no_tasks.erase("SLURM_STEP_NUM_TASKS");
  EXPECT_THAT(parse_error(no_tasks), HasSubstr("neither SLURM_STEP_NUM_TASKS nor SLURM_NTASKS"));
  auto local_too_high = base;
  local_too_high["SLURM_LOCALID"] = "7";
  EXPECT_THAT(parse_error(local_too_high), HasSubstr("SLURM_LOCALID=7 exceeds SLURM_PROCID=6"));
}

TEST(DistEnv, Precedence) {
  // torchrun inside srun / mpirun: torchrun's variables describe the workers.
  const DistEnv t = parse({{"RANK", "1"},
                           {"WORLD_SIZE", "4"},
                           {"MASTER_ADDR", "a"},
                           {"MASTER_PORT", "1000"},
                           {"OMPI_COMM_WORLD_RANK", "0"},
                           {"OMPI_COMM_WORLD_SIZE", "2"},
                           {"SLURM_PROCID", "0"},
                           {"SLURM_NTASKS", "2"}});
  EXPECT_EQ(t.launcher, Launcher::Torchrun);
  EXPECT_EQ(t.world_size, 4);
  // mpirun inside a Slurm allocation inherits the batch step's SLURM_PROCID: mpirun wins.
  const DistEnv m = parse({{"OMPI_COMM_WORLD_RANK", "1"},
                           {"OMPI_COMM_WORLD_SIZE", "2"},
                           {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                           {"SLURM_PROCID", "0"},
                           {"SLURM_NTASKS", "1"}});
  EXPECT_EQ(m.launcher, Launcher::OpenMpi);
  EXPECT_EQ(m.rank, 1);
}

TEST(SlurmNodelist, Expands) {
  using strand::train::expand_slurm_nodelist;
  using V = std::vector<std::string>;
  EXPECT_EQ(expand_slurm_nodelist("node[01-04],gpu7", "L"), (V{"node01", "node02", "node03", "node04", "gpu7"}));
  EXPECT_EQ(expand_slurm_nodelist("n[8-10]", "L"), (V{"n8", "n9", "n10"}));
  EXPECT_EQ(expand_slurm_nodelist("n[08-10]", "L"), (V{"n08", "n09", "n10"}));
  EXPECT_EQ(expand_slurm_nodelist("c[1,3-4,9]x", "L"), (V{"c1x", "c3x", "c4x", "c9x"}));
  EXPECT_EQ(expand_slurm_nodelist("r[1-2]n[1-2]", "L"), (V{"r1n1", "r1n2", "r2n1", "r2n2"}));
  EXPECT_EQ(expand_slurm_nodelist("single", "L"), (V{"single"}));
  EXPECT_EQ(expand_slurm_nodelist("a.b-c,d[0-1].e", "L"), (V{"a.b-c", "d0.e", "d1.e"}));
}

TEST(SlurmNodelist, RejectsMalformedLists) {
  using strand::train::expand_slurm_nodelist;
  for (const std::string bad : {"n[1-3", "n1-3]", "n[[1]]", "n[]", "n[3-1]", "n[a-b]", "a,,b", "a,", ",a", "",
                                "n[1,]", "n[,1]", "n[1-]", "a b", "n[0-9999999]"}) {
    try {
      expand_slurm_nodelist(bad, "SLURM_NODELIST");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), HasSubstr("SLURM_NODELIST='" + bad + "'")) << bad;
    }
  }
}

TEST(ShardRows, CoversTheBatchInRankOrder) {
  using strand::train::shard_rows;
  for (int64_t rows : {0, 1, 5, 7, 16}) {
    for (int world : {1, 2, 3, 4}) {
      int64_t next = 0;
      for (int r = 0; r < world; ++r) {
        const auto s = shard_rows(rows, r, world);
        EXPECT_EQ(s.begin, next);
        EXPECT_GE(s.size(), rows / world);
        EXPECT_LE(s.size(), rows / world + 1);
        next = s.end;
      }
      EXPECT_EQ(next, rows);
    }
  }
  EXPECT_EQ(shard_rows(5, 0, 2).size(), 3);
  EXPECT_EQ(shard_rows(5, 1, 2).size(), 2);
  EXPECT_THROW(shard_rows(4, 2, 2), strand::InputError);
}

// ---------------------------------------------------------------------------------------------
// (b), (c) Training on two ranks.

constexpr int64_t kVocab = 12;
constexpr int64_t kDim = 24;
constexpr int64_t kRows = 5;  // odd: the ranks get 3 and 2 rows
constexpr int64_t kLen = 16;
constexpr int64_t kSteps = 4;
constexpr int64_t kAccum = 2;
constexpr int64_t kValBatches = 3;
constexpr int64_t kFailMicro = 2 * kAccum;  // the first micro-step of step 3, after the checkpoint of step 2

// A small language model with the parts that matter here: parameters in both weight-decay
// groups, one that only some rows use (so a rank may have no gradient for it), and one that
// nothing uses (no gradient anywhere).
struct ToyLmImpl : torch::nn::Module {
  ToyLmImpl() {
    embed = register_module("embed", torch::nn::Embedding(kVocab, kDim));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({kDim})));
    mix = register_module("mix", torch::nn::Linear(kDim, kDim));
    head = register_module("head", torch::nn::Linear(kDim, kVocab));
    first_zero = register_parameter("first_zero", torch::randn({kDim}) * 0.1);
    unused = register_parameter("unused", torch::zeros({3}));
  }
  at::Tensor forward(const at::Tensor& ids) {
    at::Tensor x = embed(ids);
    const at::Tensor starts = ids.select(1, 0) == 0;
    if (starts.any().item<bool>()) x = x + starts.to(x.scalar_type()).view({-1, 1, 1}) * first_zero;
    return head(x + torch::tanh(mix(norm(x))));
  }
  torch::nn::Embedding embed{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear mix{nullptr}, head{nullptr};
  at::Tensor first_zero, unused;
};
TORCH_MODULE(ToyLm);

struct ToyBatch {
  at::Tensor ids;   // (kRows, kLen) int64, right-padded with 0
  at::Tensor mask;  // (kRows, kLen) bool
};

// The global batch number `seed`: the same in every process.
ToyBatch toy_batch(uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  ToyBatch b;
  const at::Tensor lengths = at::randint(4, kLen + 1, {kRows}, gen, at::kLong);
  b.mask = at::arange(kLen, at::kLong).unsqueeze(0) < lengths.unsqueeze(1);
  b.ids = at::randint(kVocab, {kRows, kLen}, gen, at::kLong).masked_fill(~b.mask, 0);
  return b;
}

int64_t clm_targets(const at::Tensor& mask) {
  return (mask.narrow(1, 0, kLen - 1) & mask.narrow(1, 1, kLen - 1)).sum().item<int64_t>();
}

struct ToyRun {
  std::string out;
  int64_t until = kSteps;
  bool resume = false;
  std::string fail;  // on rank 1 at the start of step 3: "throw", "exit" (killed) or "hang"
  std::chrono::steady_clock::time_point* step3_start = nullptr;  // set by rank 0
};

// Trains ToyLm with the same global batches, alone (dist null) or as one rank. Returns the
// final parameters.
std::map<std::string, at::Tensor> train_toy(const std::shared_ptr<strand::train::Distributed>& dist,
                                            const ToyRun& run) {
  const int rank = dist ? dist->rank() : 0;
  const int world = dist ? dist->world_size() : 1;
  // Different initial weights on every rank: the trainer must start them all from rank 0's.
  torch::manual_seed(3 + static_cast<uint64_t>(rank));
  ToyLm model;

  strand::train::TrainerOptions t;
  t.out_dir = run.out;
  t.optimizer.weight_decay = 0.05;
  t.schedule.peak_lr = 2e-2;
  t.schedule.warmup_steps = 1;
  t.schedule.total_steps = kSteps;
  t.accum_steps = kAccum;
  t.max_grad_norm = 0.5;
  t.checkpoint_every = 2;
  t.keep_checkpoints = 2;
  t.log_every = 1;
  t.val_every = 2;
  t.seed = 11;
  t.distributed = dist;

  strand::train::TrainerCallbacks cb;
  cb.micro_step = [&](int64_t micro) {
    if (micro == kFailMicro) {
      if (rank == 0 && run.step3_start != nullptr) *run.step3_start = std::chrono::steady_clock::now();
      if (rank == 1 && run.fail == "throw") throw strand::InputError("test: rank 1 cannot read its batch");
      if (rank == 1 && run.fail == "exit") std::_Exit(9);
      if (rank == 1 && run.fail == "hang") std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    const ToyBatch b = toy_batch(1000 + static_cast<uint64_t>(micro));
    if (!dist) {
      const auto loss = strand::train::clm_loss(model->forward(b.ids), b.ids, b.mask);
      return strand::train::StepResult{loss.mean, b.mask.sum().item<int64_t>()};
    }
    const auto rows = strand::train::shard_rows(kRows, rank, world);
    const at::Tensor ids = b.ids.narrow(0, rows.begin, rows.size());
    const at::Tensor mask = b.mask.narrow(0, rows.begin, rows.size());
    const auto loss = strand::train::clm_loss(model->forward(ids), ids, mask);
    const double weight = static_cast<double>(world) / static_cast<double>(clm_targets(b.mask));
    return strand::train::StepResult{loss.sum * weight, mask.sum().item<int64_t>()};
  };
  cb.data_state = [] { return nlohmann::json::object(); };  // batches depend on the micro-step only
  cb.restore_data_state = [](const nlohmann::json&) {};
  cb.validate = [&] {
    strand::train::ValidationResult r;
    for (int64_t i = 0; i < kValBatches; ++i) {
      if (i % world != rank) continue;
      const ToyBatch b = toy_batch(5000 + static_cast<uint64_t>(i));
      const auto loss = strand::train::clm_loss(model->forward(b.ids), b.ids, b.mask);
      r.loss_sum += loss.sum.item<double>();
      r.tokens += loss.count.item<int64_t>();
    }
    return r;
  };

  strand::train::Trainer trainer(model.ptr(), t, cb);
  if (run.resume && !trainer.resume()) throw strand::InternalError("no checkpoint to resume from in " + run.out);
  trainer.run(run.until);
  std::map<std::string, at::Tensor> out;
  for (const auto& p : model->named_parameters()) out[p.key()] = p.value().detach().clone();
  return out;
}

// --- the child side -------------------------------------------------------------------------

std::string getenv_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

int run_worker(const std::string& scenario) {
  at::set_num_threads(1);
  const std::string dir = getenv_or("STRAND_DDP_TEST_DIR", ".");
  const std::string rank_text = getenv_or("RANK", "x");
  ToyRun run;
  run.out = dir + "/out";
  run.until = std::stoll(getenv_or("STRAND_DDP_TEST_UNTIL", std::to_string(kSteps)));
  run.resume = getenv_or("STRAND_DDP_TEST_RESUME", "0") == "1";
  run.fail = scenario == "train" ? "" : scenario;
  std::chrono::steady_clock::time_point step3{};
  run.step3_start = &step3;
  strand::train::DistributedOptions options;
  options.timeout = std::chrono::milliseconds(std::stoll(getenv_or("STRAND_DDP_TEST_TIMEOUT_MS", "10000")));
  options.bucket_bytes = 4096;  // several buckets even for this small model

  nlohmann::json result;
  try {
    {
      const auto dist = strand::train::init_distributed(options);
      if (!dist) throw strand::InternalError("the worker was started without a multi-rank environment");
      const auto weights = train_toy(dist, run);
      strand::io::save_safetensors(dir + "/weights.rank" + rank_text + ".safetensors", weights);
    }
    result = {{"status", "ok"}};
  } catch (const std::exception& e) {
    const bool started = step3 != std::chrono::steady_clock::time_point{};
    result = {{"status", "error"},
              {"distributed_error", dynamic_cast<const DistributedError*>(&e) != nullptr},
              {"what", e.what()},
              {"failed_after_s",
               started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - step3).count() : -1.0}};
  }
  std::ofstream(dir + "/rank" + rank_text + ".json") << result.dump() << "\n";
  return result["status"] == "ok" ? 0 : 1;
}

// Runs a rank instead of the tests when this executable was started as one.
class WorkerEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    const std::string scenario = getenv_or("STRAND_DDP_TEST_WORKER", "");
    if (scenario.empty()) return;
    const int code = run_worker(scenario);
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
};
::testing::Environment* const kWorkerEnvironment = ::testing::AddGlobalTestEnvironment(new WorkerEnvironment);

// --- the parent side ------------------------------------------------------------------------

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RankOutcome {
  int exit_code = -1;  // -1: killed by the parent
  nlohmann::json result;
  std::string log;
};

// Starts two ranks of `scenario` on loopback and waits for both, killing a rank still running
// `grace_s` after the other ended, or after `deadline_s` in all.
std::vector<RankOutcome> launch_two(const std::string& scenario, const std::string& dir,
                                    const std::map<std::string, std::string>& extra, double grace_s = 15,
                                    double deadline_s = 60) {
  fs::create_directories(dir);
  const int port = free_port();
  EXPECT_GT(port, 0);
  // The child's environment: ours without any launcher variables, plus the torchrun-style ones.
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    const bool launcher = name == "RANK" || name == "WORLD_SIZE" || name == "LOCAL_RANK" ||
                          name == "LOCAL_WORLD_SIZE" || name == "MASTER_ADDR" || name == "MASTER_PORT" ||
                          name == "GLOO_SOCKET_IFNAME" || name.rfind("TORCHELASTIC_", 0) == 0 ||
                          name.rfind("STRAND_DDP_TEST_", 0) == 0;
    if (!launcher) env.push_back(kv);
  }
  std::vector<pid_t> pids;
  for (int rank = 0; rank < 2; ++rank) {
    std::vector<std::string> child_env = env;
    std::map<std::string, std::string> vars = {{"RANK", std::to_string(rank)},
                                               {"WORLD_SIZE", "2"},
                                               {"LOCAL_RANK", std::to_string(rank)},
                                               {"LOCAL_WORLD_SIZE", "2"},
                                               {"MASTER_ADDR", "127.0.0.1"},
                                               {"MASTER_PORT", std::to_string(port)},
                                               {"STRAND_DDP_TEST_WORKER", scenario},
                                               {"STRAND_DDP_TEST_DIR", dir},
                                               {"OMP_NUM_THREADS", "1"}};
    for (const auto& [k, v] : extra) vars[k] = v;
    for (const auto& [k, v] : vars) child_env.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& kv : child_env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    // A filter with one cheap test: gtest sets environments up only when some test will run.
    std::string arg0 = "test_distributed", arg1 = "--gtest_filter=ShardRows.*";
    char* argv[] = {arg0.data(), arg1.data(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    const std::string log = dir + "/rank" + std::to_string(rank) + ".log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    pid_t pid = -1;
    const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
    posix_spawn_file_actions_destroy(&actions);
    EXPECT_EQ(rc, 0) << "posix_spawn failed";
    if (rc == 0) pids.push_back(pid);
  }
  std::vector<RankOutcome> out(2);
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](double s) { return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s)); };
  Clock::time_point deadline = Clock::now() + seconds(deadline_s);
  std::vector<bool> done(pids.size(), false);
  size_t remaining = pids.size();
  while (remaining > 0) {
    for (size_t r = 0; r < pids.size(); ++r) {
      if (done[r]) continue;
      int status = 0;
      if (::waitpid(pids[r], &status, WNOHANG) == pids[r]) {
        out[r].exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        done[r] = true;
        --remaining;
        deadline = std::min(deadline, Clock::now() + seconds(grace_s));
      }
    }
    if (remaining == 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      for (size_t r = 0; r < pids.size(); ++r) {
        if (done[r]) continue;
        ::kill(pids[r], SIGKILL);
        ::waitpid(pids[r], nullptr, 0);
        done[r] = true;
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (int r = 0; r < 2; ++r) {
    out[r].log = read_text(dir + "/rank" + std::to_string(r) + ".log");
    const std::string json = read_text(dir + "/rank" + std::to_string(r) + ".json");
    if (!json.empty()) out[r].result = nlohmann::json::parse(json, nullptr, false);
  }
  return out;
}

std::string describe(const std::vector<RankOutcome>& ranks) {
  std::string s;
  for (size_t r = 0; r < ranks.size(); ++r) {
    s += "--- rank " + std::to_string(r) + ": exit " + std::to_string(ranks[r].exit_code) + ", result " +
         ranks[r].result.dump() + "\n" + ranks[r].log;
  }
  return s;
}

double max_abs_diff(const std::map<std::string, at::Tensor>& a, const std::map<std::string, at::Tensor>& b) {
  double worst = 0;
  for (const auto& [name, t] : a) {
    const auto it = b.find(name);
    if (it == b.end()) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, (t.to(at::kDouble) - it->second.to(at::kDouble)).abs().max().item<double>());
  }
  return a.size() == b.size() ? worst : std::numeric_limits<double>::infinity();
}

std::vector<nlohmann::json> metrics_lines(const std::string& out) {
  std::vector<nlohmann::json> lines;
  std::istringstream in(read_text(out + "/metrics.jsonl"));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

class TwoRanks : public ::testing::Test {
 protected:
  void SetUp() override {
    strand::Progress::set_quiet(true);  // the one-process reference runs in this process
    dir_ = (fs::temp_directory_path() / ("strand_ddp_" + std::to_string(::getpid()) + "_" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }
  // The one-process run on the same global batches, in this process.
  std::map<std::string, at::Tensor> reference(const std::string& name) {
    ToyRun run;
    run.out = dir_ + "/" + name;
    return train_toy(nullptr, run);
  }
  std::string dir_;
};

// (b) Two ranks, each on its rows of every global batch, end with the weights of one process on
// the whole batch. The oracle is that one-process run: the only legitimate difference is the
// order of float32 sums (the two halves of each gradient are added by the all-reduce instead of
// inside one backward pass), a few ulps per step that Adam's normalisation carries into the
// weights, so 1e-5 on weights of order 0.1-1 after 4 steps; a broken shard, scale or broadcast
// moves them by 1e-3 or more (the steps are 2e-2).
TEST_F(TwoRanks, ReachTheWeightsOfOneProcess) {
  const auto one = reference("single");
  const auto two = launch_two("train", dir_ + "/ddp", {});
  ASSERT_EQ(two[0].exit_code, 0) << describe(two);
  ASSERT_EQ(two[1].exit_code, 0) << describe(two);
  const auto w0 = strand::io::load_safetensors(dir_ + "/ddp/weights.rank0.safetensors");
  const auto w1 = strand::io::load_safetensors(dir_ + "/ddp/weights.rank1.safetensors");
  // Identical gradients on every rank give bit-identical weights.
  ASSERT_EQ(w0.size(), w1.size());
  for (const auto& [name, t] : w0) EXPECT_TRUE(t.equal(w1.at(name))) << name << " differs between the ranks";

  const double diff = max_abs_diff(one, w0);
  std::printf("max |weights(2 ranks) - weights(1 process)| = %.3g\n", diff);
  EXPECT_LT(diff, 1e-5);
  // Not trivially equal: training moved the weights, also the one only some rows use.
  torch::manual_seed(3);
  ToyLm init;
  std::map<std::string, at::Tensor> start;
  for (const auto& p : init->named_parameters()) start[p.key()] = p.value().detach();
  EXPECT_GT(max_abs_diff(start, w0), 1e-2);
  EXPECT_GT((start.at("first_zero") - w0.at("first_zero")).abs().max().item<double>(), 1e-4);
  EXPECT_TRUE(start.at("unused").equal(w0.at("unused")));

  // Rank 0 alone wrote the metrics: one line per step, with the global loss and validation.
  const auto single = metrics_lines(dir_ + "/single");
  const auto ddp = metrics_lines(dir_ + "/ddp/out");
  ASSERT_EQ(ddp.size(), static_cast<size_t>(kSteps));
  ASSERT_EQ(single.size(), ddp.size());
  for (size_t i = 0; i < ddp.size(); ++i) {
    EXPECT_EQ(ddp[i]["step"], single[i]["step"]);
    EXPECT_NEAR(ddp[i]["loss"].get<double>(), single[i]["loss"].get<double>(), 1e-5);
    EXPECT_NEAR(ddp[i]["grad_norm"].get<double>(), single[i]["grad_norm"].get<double>(), 1e-5);
    EXPECT_EQ(ddp[i]["tokens"], single[i]["tokens"]);
    EXPECT_EQ(ddp[i].contains("val_loss"), single[i].contains("val_loss"));
    if (ddp[i].contains("val_loss")) {
      EXPECT_NEAR(ddp[i]["val_loss"].get<double>(), single[i]["val_loss"].get<double>(), 1e-5);
    }
  }
  EXPECT_EQ(strand::train::list_checkpoints(dir_ + "/ddp/out").size(), 2u);
}

// All ranks resume from rank 0's checkpoint and continue as if never interrupted.
TEST_F(TwoRanks, ResumeFromTheSameCheckpoint) {
  const auto first = launch_two("train", dir_ + "/ddp", {{"STRAND_DDP_TEST_UNTIL", "2"}});
  ASSERT_EQ(first[0].exit_code, 0) << describe(first);
  ASSERT_EQ(first[1].exit_code, 0) << describe(first);
  ASSERT_EQ(strand::train::list_checkpoints(dir_ + "/ddp/out").size(), 1u);
  const auto second = launch_two("train", dir_ + "/ddp", {{"STRAND_DDP_TEST_RESUME", "1"}});
  ASSERT_EQ(second[0].exit_code, 0) << describe(second);
  ASSERT_EQ(second[1].exit_code, 0) << describe(second);
  const auto resumed = strand::io::load_safetensors(dir_ + "/ddp/weights.rank0.safetensors");
  const auto one = reference("single");
  EXPECT_LT(max_abs_diff(one, resumed), 1e-5);
  EXPECT_EQ(metrics_lines(dir_ + "/ddp/out").size(), static_cast<size_t>(kSteps));
}

// (c) Rank 1 throws at step 3: rank 0 stops with an error that quotes rank 1, long before its
// timeout; the checkpoint of step 2 stays intact.
TEST_F(TwoRanks, AnExceptionOnOneRankStopsTheOther) {
  const auto ranks = launch_two("throw", dir_ + "/ddp", {{"STRAND_DDP_TEST_TIMEOUT_MS", "20000"}});
  ASSERT_EQ(ranks[0].exit_code, 1) << describe(ranks);
  ASSERT_EQ(ranks[1].exit_code, 1) << describe(ranks);
  const auto& r0 = ranks[0].result;
  EXPECT_TRUE(r0["distributed_error"].get<bool>()) << describe(ranks);
  const std::string what = r0["what"].get<std::string>();
  std::printf("rank 0 stopped with: %s\n", what.c_str());
  EXPECT_THAT(what, HasSubstr("rank 0 of 2: gradient all-reduce of step 3"));
  EXPECT_THAT(what, HasSubstr("rank 1 of 2 reported: test: rank 1 cannot read its batch"));
  EXPECT_LT(r0["failed_after_s"].get<double>(), 10.0) << "rank 0 waited for its timeout";
  EXPECT_THAT(ranks[1].result["what"].get<std::string>(), HasSubstr("rank 1 cannot read its batch"));
  EXPECT_THAT(ranks[1].log, HasSubstr("rank 1 of 2 failed: test: rank 1 cannot read its batch"));
  const auto checkpoints = strand::train::list_checkpoints(dir_ + "/ddp/out");
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_THAT(checkpoints.back(), HasSubstr("step-000000002"));
}

// Rank 1 is killed (no chance to report): rank 0 sees its connections close and stops.
TEST_F(TwoRanks, AKilledRankStopsTheOther) {
  const auto ranks = launch_two("exit", dir_ + "/ddp", {{"STRAND_DDP_TEST_TIMEOUT_MS", "20000"}});
  EXPECT_EQ(ranks[1].exit_code, 9) << describe(ranks);
  ASSERT_EQ(ranks[0].exit_code, 1) << describe(ranks);
  const auto& r0 = ranks[0].result;
  EXPECT_TRUE(r0["distributed_error"].get<bool>()) << describe(ranks);
  const std::string what = r0["what"].get<std::string>();
  std::printf("rank 0 stopped with: %s\n", what.c_str());
  EXPECT_THAT(what, HasSubstr("rank 0 of 2: gradient all-reduce of step 3"));
  EXPECT_THAT(what, HasSubstr("no rank reported an error"));
  EXPECT_LT(r0["failed_after_s"].get<double>(), 10.0) << "rank 0 waited for its timeout";
  const auto checkpoints = strand::train::list_checkpoints(dir_ + "/ddp/out");
  ASSERT_EQ(checkpoints.size(), 1u);
  EXPECT_THAT(checkpoints.back(), HasSubstr("step-000000002"));
}

// Rank 1 hangs: rank 0 gives up after its timeout (2 s) instead of waiting for ever. (The same
// timeout bounds the start-up rendezvous, so it cannot be much shorter on a loaded machine.)
TEST_F(TwoRanks, AHangingRankTimesOut) {
  const auto ranks = launch_two("hang", dir_ + "/ddp", {{"STRAND_DDP_TEST_TIMEOUT_MS", "2000"}}, /*grace_s=*/0.5);
  ASSERT_EQ(ranks[0].exit_code, 1) << describe(ranks);
  EXPECT_EQ(ranks[1].exit_code, -1) << "the hanging rank should have been killed by the test";
  const auto& r0 = ranks[0].result;
  const std::string what = r0["what"].get<std::string>();
  std::printf("rank 0 stopped with: %s\n", what.c_str());
  EXPECT_THAT(what, HasSubstr("rank 0 of 2: gradient all-reduce of step 3"));
  EXPECT_THAT(what, HasSubstr("within the timeout of 2 s"));
  const double after = r0["failed_after_s"].get<double>();
  EXPECT_GE(after, 1.9);
  EXPECT_LT(after, 8.0);
}

}  // namespace
