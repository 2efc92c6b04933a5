// Data-parallel training over torch's c10d process groups: Gloo for CPU tensors, NCCL for CUDA
// tensors (in CUDA builds). One process per rank, started by a launcher that describes the job in
// environment variables; the processes meet at a TCP key-value store (c10d::TCPStore) that rank 0
// hosts at MASTER_ADDR:MASTER_PORT, then connect to each other through the backend.
//
// Rendezvous variables (parse_dist_env), first launcher found wins:
//   1. torchrun (and any launcher that sets the same names): RANK, WORLD_SIZE, LOCAL_RANK,
//      LOCAL_WORLD_SIZE, MASTER_ADDR, MASTER_PORT. Under torchrun's agent
//      (TORCHELASTIC_USE_AGENT_STORE=True) the agent already hosts the store at MASTER_PORT, so
//      every rank connects to it as a client, under the prefix /worker/attempt_<restart count>.
//   2. OpenMPI's mpirun: OMPI_COMM_WORLD_RANK, OMPI_COMM_WORLD_SIZE, OMPI_COMM_WORLD_LOCAL_RANK,
//      OMPI_COMM_WORLD_LOCAL_SIZE. MASTER_ADDR is required when the ranks span several nodes
//      (mpirun -x MASTER_ADDR=host-of-rank-0); on one node it defaults to 127.0.0.1.
//      MASTER_PORT defaults to 29500.
//   3. Slurm's srun: SLURM_PROCID, SLURM_STEP_NUM_TASKS (else SLURM_NTASKS), SLURM_LOCALID.
//      MASTER_ADDR, else the first host of
//      SLURM_STEP_NODELIST, SLURM_JOB_NODELIST or SLURM_NODELIST (compressed lists such as
//      "node[01-04],gpu7" are expanded; srun places task 0 on the first node of its step).
//      MASTER_PORT, else 20000 + SLURM_JOB_ID mod 20000, so concurrent jobs on a node differ.
//   4. none of them, or a world size of 1: a single process (no process group at all).
// torchrun comes first because it is often started by srun or mpirun (one agent per node), whose
// variables then describe the agents, not the workers; mpirun comes before Slurm for the same
// reason (mpirun inside a Slurm allocation inherits the batch step's SLURM_PROCID).
// A malformed, out-of-range or missing value throws ConfigError naming the variable.
//
// Gradient all-reduce: gradients are flattened, in the order given (the optimizer's parameter
// order, the same on every rank), into buckets of about bucket_bytes of one dtype and device, each
// bucket is summed over ranks, divided by the world size and copied back. Every rank therefore ends
// with bit-identical gradients, and identical parameters after the optimizer step.
//
// Failures: a collective that fails (a peer closed its connections, or no answer within the
// timeout) throws DistributedError naming this rank, what was being done and, when the failing
// rank said so through the store (report_failure), that rank and its message. Nothing hangs for
// longer than the timeout. Under NCCL, torch's NCCL watchdog (TORCH_NCCL_ASYNC_ERROR_HANDLING,
// on by default in LibTorch 2.x) ends a process whose collective exceeds the timeout.
//
// Thread-safety: a Distributed object is used from one thread; collectives must be called in the
// same order on every rank.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libseq/core/error.h"

namespace strand::train {

enum class Launcher { None, Torchrun, OpenMpi, Slurm };

/// "single process", "torchrun", "mpirun (OpenMPI)", "srun (Slurm)".
const char* launcher_name(Launcher launcher);

/// Where this process stands in the job, as the launcher described it.
struct DistEnv {
  Launcher launcher = Launcher::None;
  int rank = 0;                      ///< 0 <= rank < world_size
  int world_size = 1;                ///< >= 1
  std::optional<int> local_rank;     ///< rank on this node (picks the GPU under NCCL); unknown when unset
  std::optional<int> local_world_size;
  std::string master_addr;           ///< host of the store (empty when world_size == 1)
  int master_port = 0;               ///< 1..65535 (0 when world_size == 1)
  bool agent_store = false;          ///< torchrun's agent hosts the store: rank 0 must not
  std::string store_prefix;          ///< key prefix inside the store ("" or "/worker/attempt_N")
  /// GLOO_SOCKET_IFNAME: network interfaces Gloo binds (comma-separated). When unset, Gloo binds
  /// the loopback interface if MASTER_ADDR is a loopback address, else the address this host's
  /// name resolves to.
  std::string gloo_socket_ifname;
  /// Where each value came from, e.g. "RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500".
  std::string source;

  bool distributed() const noexcept { return world_size > 1; }
};

/// Looks a variable up: its value, or nullopt when unset. An empty value counts as unset.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

/// Reads the rendezvous variables (see the top of this header) through `env`.
/// Throws ConfigError naming the variable for a value that is not a number, out of range,
/// contradicts another (RANK >= WORLD_SIZE, LOCAL_RANK >= LOCAL_WORLD_SIZE, ...) or is missing
/// (RANK without WORLD_SIZE, no MASTER_ADDR for a multi-node job, ...).
DistEnv parse_dist_env(const EnvLookup& env);

/// parse_dist_env over the process environment (getenv).
DistEnv dist_env_from_environment();

/// Expands a Slurm host list: "node[01-03,07],gpu7" -> node01 node02 node03 node07 gpu7. Several
/// bracket groups in one name multiply ("r[1-2]n[1-2]" -> r1n1 r1n2 r2n1 r2n2); numbers keep the
/// zero padding of the range's first bound. Throws ConfigError naming `variable` for unbalanced
/// brackets, an empty name or range, a descending range or more than 1,000,000 hosts.
std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist, const std::string& variable);

/// The rows [begin, end) of a global batch of `rows` rows that `rank` of `world_size` takes:
/// contiguous slices in rank order whose sizes differ by at most one (lower ranks take the extra
/// rows). A rank may get no rows when rows < world_size.
struct RowRange {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const noexcept { return end - begin; }
};
RowRange shard_rows(int64_t rows, int rank, int world_size);

enum class DistBackend {
  Auto,  ///< NCCL when `cuda` is set, Gloo otherwise
  Gloo,
  Nccl,
};

struct DistributedOptions {
  DistBackend backend = DistBackend::Auto;
  /// The training tensors live on CUDA devices (NCCL then needs local_rank to pick the device).
  bool cuda = false;
  /// Rendezvous wait (for every rank to reach the store) and the limit of every collective.
  std::chrono::milliseconds timeout = std::chrono::minutes(30);
  /// Target size of one gradient bucket, > 0. A gradient larger than this gets a bucket of its own.
  int64_t bucket_bytes = int64_t{25} << 20;
};

/// A collective or the rendezvous failed. The message names this rank, the operation and, when
/// known, the rank that failed first.
class DistributedError : public Error {
 public:
  DistributedError(const std::string& message, int rank) : Error(message), rank_(rank) {}
  /// The rank that threw.
  int rank() const noexcept { return rank_; }

 private:
  int rank_;
};

enum class ReduceKind { Sum, Min, Max };

/// A process group of world_size ranks: the store, the backend and the collectives training needs.
class Distributed {
 public:
  /// Joins the job described by `env` (env.world_size >= 2): connects to the store (rank 0 creates
  /// it unless env.agent_store), waits up to options.timeout for every rank, and creates the
  /// backend. SIGPIPE is ignored from then on (a peer that dies must give an error, not kill this
  /// process). Throws DistributedError when the store cannot be reached or created (naming
  /// MASTER_ADDR:MASTER_PORT) or the ranks do not all arrive in time, ConfigError for invalid
  /// options, UnsupportedError when the backend is not in this build (Gloo needs the gloo headers,
  /// Debian package libgloo-dev, at build time; NCCL a CUDA build).
  Distributed(const DistEnv& env, const DistributedOptions& options);
  ~Distributed();
  Distributed(const Distributed&) = delete;
  Distributed& operator=(const Distributed&) = delete;

  int rank() const noexcept;
  int world_size() const noexcept;
  bool is_main() const noexcept { return rank() == 0; }
  const DistEnv& env() const noexcept;
  const DistributedOptions& options() const noexcept;
  /// "gloo" or "nccl".
  const char* backend_name() const noexcept;
  /// "rank R of W" (used at the start of every message about this process).
  std::string describe() const;

  /// Makes every rank's parameters and buffers equal to rank `root`'s. First checks that every
  /// rank has the same tensors (names, shapes, dtypes); throws ConfigError otherwise.
  void broadcast_module(torch::nn::Module& module, int root = 0);

  /// Averages the gradients of `params` over ranks in place (see the top of this header).
  /// A gradient that is undefined on some ranks only is taken as zeros there; one undefined on
  /// every rank stays undefined. Sparse gradients are rejected (InputError). `what` names the
  /// operation in error messages, e.g. "gradient all-reduce of step 12".
  void all_reduce_gradients(const std::vector<at::Tensor>& params, const std::string& what);

  /// Element-wise reduction of small vectors over ranks (every rank passes the same length).
  std::vector<double> all_reduce(const std::vector<double>& values, ReduceKind kind, const std::string& what);
  std::vector<int64_t> all_reduce(const std::vector<int64_t>& values, ReduceKind kind, const std::string& what);

  /// Sums `tensor` over ranks in place (any dtype the backend supports; CUDA tensors under NCCL).
  void all_reduce_tensor(at::Tensor& tensor, ReduceKind kind, const std::string& what);

  /// Returns when every rank has called barrier (or throws DistributedError).
  void barrier(const std::string& what);

  /// Tells the other ranks, through the store, that this rank is stopping with `message` (their
  /// DistributedError then quotes it), and logs "rank R of W failed: message" as an error. Only the
  /// first call has an effect. Never throws.
  void report_failure(const std::string& message) noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// For use in a catch block of a rank that is about to stop: reports the exception being handled
/// through dist.report_failure, unless it is a DistributedError (the consequence of another rank's
/// failure, which that rank reports itself). Never throws; rethrow afterwards.
void report_current_exception(Distributed& dist) noexcept;

/// The job's process group when the environment describes more than one rank (see the top of
/// this header), nullptr for a single process.
std::shared_ptr<Distributed> init_distributed(const DistributedOptions& options);

/// On ranks other than 0: no progress output and only warnings and errors in the log, so one
/// rank speaks for the job.
void quiet_unless_main(const Distributed& dist);

}  // namespace strand::train
