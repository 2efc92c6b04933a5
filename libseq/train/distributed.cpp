#include "libseq/train/distributed.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/csrc/distributed/c10d/Types.hpp>
#include <torch/csrc/distributed/c10d/Work.hpp>
#include <torch/utils.h>

#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <map>
#include <sstream>
#include <thread>

#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "libseq/train/distributed_backend.h"

namespace strand::train {

namespace {

constexpr int kMaxWorldSize = 1 << 20;
constexpr int kDefaultMpiPort = 29500;
constexpr int kSlurmPortBase = 20000;
constexpr int kSlurmPortRange = 20000;
constexpr size_t kMaxNodelistHosts = 1000000;

// Reads variables and remembers which ones were used, for DistEnv::source.
class EnvReader {
 public:
  explicit EnvReader(const EnvLookup& lookup) : lookup_(lookup) {}

  std::optional<std::string> get(const std::string& name) {
    std::optional<std::string> v = lookup_(name);
    if (v && v->empty()) v.reset();
    if (v) used_.push_back(name + "=" + *v);
    return v;
  }
  bool has(const std::string& name) {
    const std::optional<std::string> v = lookup_(name);
    return v && !v->empty();
  }
  // An integer in [lo, hi], or nullopt when unset.
  std::optional<int64_t> integer(const std::string& name, int64_t lo, int64_t hi) {
    const auto v = get(name);
    if (!v) return std::nullopt;
    const std::string& text = *v;
    size_t i = 0;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) ++i;
    const bool digits = i < text.size() && text.find_first_not_of("0123456789", i) == std::string::npos &&
                        text.size() - i <= 18;
    if (!digits) throw ConfigError(name + "='" + text + "' is not an integer");
    const int64_t value = std::stoll(text);
    if (value < lo || value > hi) {
      throw ConfigError(name + "=" + text + " is out of range: it must be in [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
    }
    return value;
  }
  std::string source() const {
    std::string out;
    for (const auto& u : used_) out += (out.empty() ? "" : " ") + u;
    return out;
  }

 private:
  const EnvLookup& lookup_;
  std::vector<std::string> used_;
};

// The text of an exception without LibTorch's C++ backtrace, on one line.
std::string exception_text(const std::exception& e) {
  std::string text;
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    text = c10_error->what_without_backtrace();
  } else {
    text = e.what();
  }
  std::string out;
  for (char c : text) {
    if (c == '\n' || c == '\r') {
      if (!out.empty() && out.back() != ' ') out += "; ";
    } else {
      out += c;
    }
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == ';')) out.pop_back();
  return out;
}

bool mentions_timeout(const std::string& text) {
  std::string lower(text);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.find("timed out") != std::string::npos || lower.find("timeout") != std::string::npos;
}

std::string seconds_text(std::chrono::milliseconds ms) {
  std::ostringstream os;
  os << static_cast<double>(ms.count()) / 1000.0 << " s";
  return os.str();
}

c10d::ReduceOp reduce_op(ReduceKind kind) {
  switch (kind) {
    case ReduceKind::Sum: return c10d::ReduceOp::SUM;
    case ReduceKind::Min: return c10d::ReduceOp::MIN;
    case ReduceKind::Max: return c10d::ReduceOp::MAX;
  }
  STRAND_ASSERT(false, "unknown ReduceKind");
  return c10d::ReduceOp::SUM;
}

// The store keys under which a failing rank leaves its message: "failure/<n>", n = 1, 2, ...
// in the order the failures were reported, counted by "failures".
constexpr const char* kFailureCounter = "failures";
std::string failure_key(int64_t n) { return "failure/" + std::to_string(n); }

std::vector<uint8_t> bytes_of(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

uint64_t fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

}  // namespace

const char* launcher_name(Launcher launcher) {
  switch (launcher) {
    case Launcher::None: return "single process";
    case Launcher::Torchrun: return "torchrun";
    case Launcher::OpenMpi: return "mpirun (OpenMPI)";
    case Launcher::Slurm: return "srun (Slurm)";
  }
  return "unknown launcher";
}

std::vector<std::string> expand_slurm_nodelist(const std::string& nodelist, const std::string& variable) {
  const auto bad = [&](const std::string& why) -> ConfigError {
    return ConfigError(variable + "='" + nodelist + "' is not a Slurm host list: " + why);
  };
  // Split at the commas outside brackets.
  std::vector<std::string> items;
  std::string current;
  int depth = 0;
  for (char c : nodelist) {
    if (c == '[') {
      if (depth > 0) throw bad("nested '['");
      ++depth;
    } else if (c == ']') {
      if (depth == 0) throw bad("']' without '['");
      --depth;
    } else if (c == ',' && depth == 0) {
      items.push_back(current);
      current.clear();
      continue;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      throw bad("white space");
    }
    current += c;
  }
  if (depth != 0) throw bad("unclosed '['");
  items.push_back(current);

  std::vector<std::string> hosts;
  for (const auto& item : items) {
    if (item.empty()) throw bad("an empty host name");
    std::vector<std::string> partial{""};
    size_t pos = 0;
    while (pos < item.size()) {
      const size_t open = item.find('[', pos);
      const std::string literal = item.substr(pos, open == std::string::npos ? std::string::npos : open - pos);
      for (auto& p : partial) p += literal;
      if (open == std::string::npos) break;
      const size_t close = item.find(']', open);
      const std::string inside = item.substr(open + 1, close - open - 1);
      if (inside.empty()) throw bad("an empty range '[]'");
      std::vector<std::string> values;
      std::stringstream ranges(inside);
      std::string range;
      while (std::getline(ranges, range, ',')) {
        const size_t dash = range.find('-');
        const std::string lo = range.substr(0, dash);
        const std::string hi = dash == std::string::npos ? lo : range.substr(dash + 1);
        const auto is_number = [](const std::string& s) {
          return !s.empty() && s.size() <= 9 && s.find_first_not_of("0123456789") == std::string::npos;
        };
        if (!is_number(lo) || !is_number(hi)) throw bad("range '" + range + "' is not N or N-M");
        const long a = std::stol(lo);
        const long b = std::stol(hi);
        if (b < a) throw bad("descending range '" + range + "'");
        if (static_cast<size_t>(b - a) >= kMaxNodelistHosts) throw bad("more than 1,000,000 hosts");
        for (long v = a; v <= b; ++v) {
          std::string digits = std::to_string(v);
          if (digits.size() < lo.size()) digits.insert(0, lo.size() - digits.size(), '0');
          values.push_back(digits);
        }
      }
      if (!inside.empty() && inside.back() == ',') throw bad("an empty range in '[" + inside + "]'");
      if (partial.size() * values.size() > kMaxNodelistHosts) throw bad("more than 1,000,000 hosts");
      std::vector<std::string> next;
      next.reserve(partial.size() * values.size());
      for (const auto& p : partial)
        for (const auto& v : values) next.push_back(p + v);
      partial = std::move(next);
      pos = close + 1;
    }
    for (auto& p : partial) hosts.push_back(std::move(p));
    if (hosts.size() > kMaxNodelistHosts) throw bad("more than 1,000,000 hosts");
  }
  return hosts;
}

DistEnv parse_dist_env(const EnvLookup& lookup) {
  STRAND_CHECK(static_cast<bool>(lookup), "parse_dist_env: no environment lookup given");
  EnvReader env(lookup);
  DistEnv out;

  const auto master_port = [&](std::optional<int64_t> fallback, const std::string& fallback_note) -> int {
    if (const auto port = env.integer("MASTER_PORT", 1, 65535)) return static_cast<int>(*port);
    if (fallback) return static_cast<int>(*fallback);
    throw ConfigError("MASTER_PORT is not set: the " + std::string(launcher_name(out.launcher)) + " job with " +
                      std::to_string(out.world_size) + " ranks needs the port of the rendezvous store" +
                      fallback_note);
  };
  const auto check_local = [&](const std::string& rank_var, const std::string& size_var) {
    if (out.local_world_size && *out.local_world_size > out.world_size) {
      throw ConfigError(size_var + "=" + std::to_string(*out.local_world_size) + " exceeds the world size " +
                        std::to_string(out.world_size));
    }
    if (out.local_rank && out.local_world_size && *out.local_rank >= *out.local_world_size) {
      throw ConfigError(rank_var + "=" + std::to_string(*out.local_rank) + " must be below " + size_var + "=" +
                        std::to_string(*out.local_world_size));
    }
  };

  if (env.has("RANK") || env.has("WORLD_SIZE")) {
    out.launcher = Launcher::Torchrun;
    const auto world = env.integer("WORLD_SIZE", 1, kMaxWorldSize);
    if (!world) throw ConfigError("RANK is set but WORLD_SIZE is not: set both (torchrun sets both)");
    out.world_size = static_cast<int>(*world);
    const auto rank = env.integer("RANK", 0, kMaxWorldSize);
    if (!rank && out.world_size > 1) {
      throw ConfigError("WORLD_SIZE=" + std::to_string(out.world_size) + " is set but RANK is not: set both");
    }
    out.rank = rank ? static_cast<int>(*rank) : 0;
    if (out.rank >= out.world_size) {
      throw ConfigError("RANK=" + std::to_string(out.rank) + " must be below WORLD_SIZE=" +
                        std::to_string(out.world_size));
    }
    if (const auto v = env.integer("LOCAL_RANK", 0, kMaxWorldSize)) out.local_rank = static_cast<int>(*v);
    if (const auto v = env.integer("LOCAL_WORLD_SIZE", 1, kMaxWorldSize)) out.local_world_size = static_cast<int>(*v);
    check_local("LOCAL_RANK", "LOCAL_WORLD_SIZE");
    if (out.world_size > 1) {
      const auto addr = env.get("MASTER_ADDR");
      if (!addr) {
        throw ConfigError("MASTER_ADDR is not set: the torchrun-style job with WORLD_SIZE=" +
                          std::to_string(out.world_size) + " needs the host of the rendezvous store (rank 0)");
      }
      out.master_addr = *addr;
      out.master_port = master_port(std::nullopt, "");
      const auto agent = env.get("TORCHELASTIC_USE_AGENT_STORE");
      if (agent && (*agent == "True" || *agent == "true" || *agent == "1")) {
        out.agent_store = true;
        const auto attempt = env.integer("TORCHELASTIC_RESTART_COUNT", 0, std::numeric_limits<int32_t>::max());
        if (!attempt) {
          throw ConfigError("TORCHELASTIC_USE_AGENT_STORE is set but TORCHELASTIC_RESTART_COUNT is not (torchrun "
                            "sets both)");
        }
        out.store_prefix = "/worker/attempt_" + std::to_string(*attempt);
      }
    }
  } else if (env.has("OMPI_COMM_WORLD_RANK") || env.has("OMPI_COMM_WORLD_SIZE")) {
    out.launcher = Launcher::OpenMpi;
    const auto world = env.integer("OMPI_COMM_WORLD_SIZE", 1, kMaxWorldSize);
    if (!world) throw ConfigError("OMPI_COMM_WORLD_RANK is set but OMPI_COMM_WORLD_SIZE is not");
    const auto rank = env.integer("OMPI_COMM_WORLD_RANK", 0, kMaxWorldSize);
    if (!rank) throw ConfigError("OMPI_COMM_WORLD_SIZE is set but OMPI_COMM_WORLD_RANK is not");
    out.world_size = static_cast<int>(*world);
    out.rank = static_cast<int>(*rank);
    if (out.rank >= out.world_size) {
      throw ConfigError("OMPI_COMM_WORLD_RANK=" + std::to_string(out.rank) + " must be below OMPI_COMM_WORLD_SIZE=" +
                        std::to_string(out.world_size));
    }
    if (const auto v = env.integer("OMPI_COMM_WORLD_LOCAL_RANK", 0, kMaxWorldSize)) out.local_rank = static_cast<int>(*v);
    if (const auto v = env.integer("OMPI_COMM_WORLD_LOCAL_SIZE", 1, kMaxWorldSize))
      out.local_world_size = static_cast<int>(*v);
    check_local("OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE");
    if (out.world_size > 1) {
      if (const auto addr = env.get("MASTER_ADDR")) {
        out.master_addr = *addr;
      } else if (out.local_world_size && *out.local_world_size == out.world_size) {
        out.master_addr = "127.0.0.1";  // every rank is on this node
      } else {
        throw ConfigError("MASTER_ADDR is not set and the " + std::to_string(out.world_size) +
                          " mpirun ranks may span several nodes (OMPI_COMM_WORLD_LOCAL_SIZE is " +
                          (out.local_world_size ? std::to_string(*out.local_world_size) : std::string("unset")) +
                          "): set it to the host of rank 0, e.g. mpirun -x MASTER_ADDR=<host> ...");
      }
      out.master_port = master_port(kDefaultMpiPort, "");
    }
  } else if (env.has("SLURM_PROCID")) {
    out.launcher = Launcher::Slurm;
    const auto rank = env.integer("SLURM_PROCID", 0, kMaxWorldSize);
    std::string world_var = "SLURM_STEP_NUM_TASKS";
    auto world = env.integer(world_var, 1, kMaxWorldSize);
    if (!world) {
      world_var = "SLURM_NTASKS";
      world = env.integer(world_var, 1, kMaxWorldSize);
    }
    if (!world) throw ConfigError("SLURM_PROCID is set but neither SLURM_STEP_NUM_TASKS nor SLURM_NTASKS is");
    out.world_size = static_cast<int>(*world);
    out.rank = static_cast<int>(*rank);
    if (out.rank >= out.world_size) {
      throw ConfigError("SLURM_PROCID=" + std::to_string(out.rank) + " must be below " + world_var + "=" +
                        std::to_string(out.world_size));
    }
    if (const auto v = env.integer("SLURM_LOCALID", 0, kMaxWorldSize)) out.local_rank = static_cast<int>(*v);
    if (out.local_rank && *out.local_rank > out.rank) {
      throw ConfigError("SLURM_LOCALID=" + std::to_string(*out.local_rank) + " exceeds SLURM_PROCID=" +
                        std::to_string(out.rank) + " (a task cannot have more tasks before it on its node than in "
                        "the whole step)");
    }
    if (out.world_size > 1) {
      if (const auto addr = env.get("MASTER_ADDR")) {
        out.master_addr = *addr;
      } else {
        std::optional<std::string> list;
        std::string list_var;
        for (const char* name : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
          list = env.get(name);
          if (list) {
            list_var = name;
            break;
          }
        }
        if (!list) {
          throw ConfigError("neither MASTER_ADDR nor SLURM_JOB_NODELIST (or SLURM_STEP_NODELIST, SLURM_NODELIST) is "
                            "set: the Slurm job needs the host of task 0");
        }
        out.master_addr = expand_slurm_nodelist(*list, list_var).front();
      }
      std::optional<int64_t> derived;
      if (!env.has("MASTER_PORT")) {
        if (const auto job = env.integer("SLURM_JOB_ID", 0, std::numeric_limits<int64_t>::max() / 2)) {
          derived = kSlurmPortBase + *job % kSlurmPortRange;
        }
      }
      out.master_port = master_port(derived, " (or SLURM_JOB_ID to derive one)");
    }
  }
  if (const auto ifname = env.get("GLOO_SOCKET_IFNAME")) out.gloo_socket_ifname = *ifname;
  out.source = env.source();
  if (!out.distributed()) {
    out.master_addr.clear();
    out.master_port = 0;
  }
  return out;
}

DistEnv dist_env_from_environment() {
  return parse_dist_env([](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  });
}

RowRange shard_rows(int64_t rows, int rank, int world_size) {
  STRAND_CHECK(rows >= 0, "shard_rows: rows must be >= 0, got ", rows);
  STRAND_CHECK(world_size >= 1 && rank >= 0 && rank < world_size, "shard_rows: rank ", rank,
               " is not in [0, world_size = ", world_size, ")");
  const int64_t base = rows / world_size;
  const int64_t extra = rows % world_size;
  RowRange r;
  r.begin = rank * base + std::min<int64_t>(rank, extra);
  r.end = r.begin + base + (rank < extra ? 1 : 0);
  return r;
}

// ---------------------------------------------------------------------------------------------

struct Distributed::Impl {
  DistEnv env;
  DistributedOptions options;
  c10::intrusive_ptr<c10d::Store> store;       // this job's keys ("strand/...")
  c10::intrusive_ptr<c10d::Store> pg_store;    // the backend's keys
  c10::intrusive_ptr<compat::C10dBackend> backend;
  const char* backend_name = "gloo";
  at::Device scalar_device = at::kCPU;         // where small reductions run (CUDA under NCCL)
  bool reported = false;

  std::string describe() const {
    return "rank " + std::to_string(env.rank) + " of " + std::to_string(env.world_size);
  }

  // What another rank left in the store, or "" (after waiting half a second for it: a rank
  // reports before it closes its connections, but the store may still be processing the report).
  std::string peer_report(bool& store_unreachable) const {
    store_unreachable = false;
    for (int attempt = 0; attempt < 5; ++attempt) {
      try {
        if (store->check({failure_key(1)})) {
          const auto value = store->get(failure_key(1));
          return std::string(value.begin(), value.end());
        }
      } catch (const std::exception&) {
        store_unreachable = true;
        return "";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return "";
  }

  [[noreturn]] void fail(const std::string& what, const std::exception& e) const {
    const std::string cause = exception_text(e);
    bool store_unreachable = false;
    const std::string report = peer_report(store_unreachable);
    std::string message = describe() + ": " + what + " failed: ";
    if (!report.empty()) {
      message += report + " [" + backend_name + ": " + cause + "]";
    } else if (store_unreachable) {
      message += "rank 0, which hosts the rendezvous store, is unreachable too, so it has most likely stopped "
                 "[" + std::string(backend_name) + ": " + cause + "]";
    } else if (mentions_timeout(cause)) {
      message += "no answer from the other ranks within the timeout of " + seconds_text(options.timeout) +
                 " and no rank reported an error: a rank hangs or is slower than the timeout [" +
                 std::string(backend_name) + ": " + cause + "]";
    } else {
      message += "a peer closed its connection and no rank reported an error: a process was killed or its node "
                 "went down [" + std::string(backend_name) + ": " + cause + "]";
    }
    throw DistributedError(message, env.rank);
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work, const std::string& what) const {
    try {
      work->wait();
    } catch (const std::exception& e) {
      fail(what, e);
    }
  }
};

Distributed::Distributed(const DistEnv& env, const DistributedOptions& options) : impl_(std::make_unique<Impl>()) {
  STRAND_CHECK(env.world_size >= 2, "distributed: a process group needs at least 2 ranks, got a world size of ",
               env.world_size, " (a single process trains without one)");
  STRAND_CHECK(env.rank >= 0 && env.rank < env.world_size, "distributed: rank ", env.rank,
               " is not in [0, world size = ", env.world_size, ")");
  if (options.timeout.count() <= 0) throw ConfigError("distributed: the timeout must be positive");
  if (options.bucket_bytes <= 0) throw ConfigError("distributed: bucket_bytes must be positive");
  impl_->env = env;
  impl_->options = options;
  if (env.master_addr.empty()) throw ConfigError("distributed: MASTER_ADDR is empty");
  if (env.master_port < 1 || env.master_port > 65535)
    throw ConfigError("distributed: MASTER_PORT=" + std::to_string(env.master_port) + " is not a port");
  // A peer that dies must surface as an error of the write to its socket, not kill this process.
  std::signal(SIGPIPE, SIG_IGN);

  const bool nccl = options.backend == DistBackend::Nccl || (options.backend == DistBackend::Auto && options.cuda);
  impl_->backend_name = nccl ? "nccl" : "gloo";
  const std::string where = env.master_addr + ":" + std::to_string(env.master_port);
  const bool host = env.rank == 0 && !env.agent_store;

  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(env.master_port);
  store_options.isServer = host;
  store_options.numWorkers = static_cast<size_t>(env.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = options.timeout;
  c10::intrusive_ptr<c10d::Store> base;
  try {
    base = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
  } catch (const std::exception& e) {
    const std::string cause = exception_text(e);
    std::string message = impl_->describe() + ": ";
    if (host) {
      message += "cannot host the rendezvous store on port " + std::to_string(env.master_port) +
                 " (MASTER_PORT) or not every rank connected to it within " + seconds_text(options.timeout) +
                 " (is the port in use? were all " + std::to_string(env.world_size) +
                 " processes started, one per rank: srun for Slurm jobs?)";
    } else {
      message += "cannot reach the rendezvous store at " + where + " (MASTER_ADDR:MASTER_PORT) within " +
                 seconds_text(options.timeout) + " (is rank 0 running, and is that address reachable from here?)";
    }
    throw DistributedError(message + ": " + cause, env.rank);
  }
  if (!env.store_prefix.empty()) base = c10::make_intrusive<c10d::PrefixStore>(env.store_prefix, base);
  impl_->store = c10::make_intrusive<c10d::PrefixStore>("strand", base);
  impl_->pg_store = c10::make_intrusive<c10d::PrefixStore>("strand/" + std::string(impl_->backend_name), base);

  detail::BackendRequest request;
  request.store = &impl_->pg_store;
  request.rank = env.rank;
  request.world_size = env.world_size;
  request.local_rank = env.local_rank;
  request.master_addr = env.master_addr;
  request.gloo_interfaces = env.gloo_socket_ifname;
  request.timeout = options.timeout;
  try {
    impl_->backend = nccl ? detail::make_nccl_backend(request) : detail::make_gloo_backend(request);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DistributedError(impl_->describe() + ": the " + impl_->backend_name + " process group could not connect "
                           "all " + std::to_string(env.world_size) + " ranks within " + seconds_text(options.timeout) +
                           " (store at " + where + "): " + exception_text(e),
                           env.rank);
  }
  if (nccl) {
    STRAND_ASSERT(env.local_rank.has_value(), "the NCCL backend was created without a local rank");
    impl_->scalar_device = at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(*env.local_rank));
  }
  if (env.rank == 0) {
    STRAND_LOG_INFO("distributed: ", env.world_size, " ranks (", launcher_name(env.launcher), "), ",
                    impl_->backend_name, ", store at ", where, env.agent_store ? " (torchrun agent's)" : "",
                    ", timeout ", seconds_text(options.timeout));
  }
  STRAND_LOG_DEBUG("distributed: ", impl_->describe(), " from ", env.source);
}

Distributed::~Distributed() = default;

int Distributed::rank() const noexcept { return impl_->env.rank; }
int Distributed::world_size() const noexcept { return impl_->env.world_size; }
const DistEnv& Distributed::env() const noexcept { return impl_->env; }
const DistributedOptions& Distributed::options() const noexcept { return impl_->options; }
const char* Distributed::backend_name() const noexcept { return impl_->backend_name; }
std::string Distributed::describe() const { return impl_->describe(); }

void Distributed::all_reduce_tensor(at::Tensor& tensor, ReduceKind kind, const std::string& what) {
  STRAND_CHECK(tensor.defined(), "distributed: ", what, ": undefined tensor");
  c10d::AllreduceOptions options;
  options.reduceOp = reduce_op(kind);
  std::vector<at::Tensor> io{tensor};
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = impl_->backend->allreduce(io, options);
  } catch (const std::exception& e) {
    impl_->fail(what, e);
  }
  impl_->wait(work, what);
}

std::vector<double> Distributed::all_reduce(const std::vector<double>& values, ReduceKind kind,
                                            const std::string& what) {
  if (values.empty()) return {};
  at::Tensor t = at::tensor(values, at::kDouble).to(impl_->scalar_device);
  all_reduce_tensor(t, kind, what);
  t = t.cpu();
  const double* p = t.data_ptr<double>();
  return std::vector<double>(p, p + t.numel());
}

std::vector<int64_t> Distributed::all_reduce(const std::vector<int64_t>& values, ReduceKind kind,
                                             const std::string& what) {
  if (values.empty()) return {};
  at::Tensor t = at::tensor(values, at::kLong).to(impl_->scalar_device);
  all_reduce_tensor(t, kind, what);
  t = t.cpu();
  const int64_t* p = t.data_ptr<int64_t>();
  return std::vector<int64_t>(p, p + t.numel());
}

void Distributed::barrier(const std::string& what) {
  c10::intrusive_ptr<c10d::Work> work;
  try {
    work = impl_->backend->barrier(c10d::BarrierOptions());
  } catch (const std::exception& e) {
    impl_->fail(what, e);
  }
  impl_->wait(work, what);
}

void Distributed::broadcast_module(torch::nn::Module& module, int root) {
  STRAND_CHECK(root >= 0 && root < world_size(), "distributed: broadcast root ", root, " is not a rank");
  std::vector<std::pair<std::string, at::Tensor>> items;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) items.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true))
    if (b.value().defined()) items.emplace_back(b.key(), b.value());

  // Same tensors everywhere? A fingerprint of names, dtypes and shapes, compared by min and max.
  uint64_t h = 1469598103934665603ULL;
  for (const auto& [name, t] : items) {
    h = fnv1a(h, name.data(), name.size());
    const auto dtype = static_cast<int>(t.scalar_type());
    h = fnv1a(h, &dtype, sizeof dtype);
    for (const int64_t s : t.sizes()) h = fnv1a(h, &s, sizeof s);
  }
  const auto fp = static_cast<int64_t>(h >> 2);  // 62 bits: its negation cannot overflow
  const auto n = static_cast<int64_t>(items.size());
  const auto ext = all_reduce(std::vector<int64_t>{fp, -fp, n, -n}, ReduceKind::Max, "model check before broadcast");
  if (ext[0] != -ext[1] || ext[2] != -ext[3]) {
    throw ConfigError(describe() + ": the model's tensors (names, shapes or dtypes) differ between ranks (" +
                      std::to_string(-ext[3]) + " to " + std::to_string(ext[2]) +
                      " tensors): every rank must build the same model");
  }

  // Coalesced by dtype and device, in the module's order.
  torch::NoGradGuard no_grad;
  size_t i = 0;
  while (i < items.size()) {
    size_t j = i;
    std::vector<at::Tensor> parts;
    while (j < items.size() && items[j].second.scalar_type() == items[i].second.scalar_type() &&
           items[j].second.device() == items[i].second.device()) {
      parts.push_back(items[j].second.reshape({-1}));
      ++j;
    }
    at::Tensor flat = at::cat(parts);
    c10d::BroadcastOptions options;
    options.rootRank = root;
    std::vector<at::Tensor> io{flat};
    const std::string what = "broadcast of the initial parameters from rank " + std::to_string(root);
    c10::intrusive_ptr<c10d::Work> work;
    try {
      work = impl_->backend->broadcast(io, options);
    } catch (const std::exception& e) {
      impl_->fail(what, e);
    }
    impl_->wait(work, what);
    int64_t offset = 0;
    for (size_t k = i; k < j; ++k) {
      at::Tensor target = items[k].second;
      const int64_t numel = target.numel();
      target.copy_(flat.narrow(0, offset, numel).view(target.sizes()));
      offset += numel;
    }
    i = j;
  }
}

void Distributed::all_reduce_gradients(const std::vector<at::Tensor>& params, const std::string& what) {
  // Agree on which gradients exist, so every rank builds the same buckets.
  std::vector<int64_t> has(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    STRAND_CHECK(params[i].defined(), "distributed: ", what, ": parameter ", i, " is undefined");
    const at::Tensor& g = params[i].grad();
    if (!g.defined()) continue;
    STRAND_CHECK(g.layout() == at::kStrided, "distributed: ", what, ": parameter ", i,
                 " has a sparse gradient, which the bucketed all-reduce does not support");
    has[i] = 1;
  }
  const auto counts = all_reduce(has, ReduceKind::Sum, what);
  std::vector<at::Tensor> grads;
  for (size_t i = 0; i < params.size(); ++i) {
    if (counts[i] == 0) continue;
    at::Tensor p = params[i];
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }

  struct Bucket {
    std::vector<at::Tensor> grads;
    int64_t bytes = 0;
    std::vector<at::Tensor> io;  // the flat tensor, as the backend wants it
    c10::intrusive_ptr<c10d::Work> work;
  };
  std::vector<Bucket> buckets;
  for (const auto& g : grads) {
    const int64_t bytes = static_cast<int64_t>(g.numel()) * static_cast<int64_t>(g.element_size());
    const bool fits = !buckets.empty() && buckets.back().grads.front().scalar_type() == g.scalar_type() &&
                      buckets.back().grads.front().device() == g.device() &&
                      buckets.back().bytes + bytes <= impl_->options.bucket_bytes;
    if (!fits) buckets.emplace_back();
    buckets.back().grads.push_back(g);
    buckets.back().bytes += bytes;
  }
  // Launch every bucket, then wait for them in order: the backend's threads overlap them.
  const size_t total = buckets.size();
  c10d::AllreduceOptions options;
  options.reduceOp = c10d::ReduceOp::SUM;
  for (size_t b = 0; b < total; ++b) {
    auto& bucket = buckets[b];
    std::vector<at::Tensor> parts;
    parts.reserve(bucket.grads.size());
    for (const auto& g : bucket.grads) parts.push_back(g.reshape({-1}));
    bucket.io = {at::cat(parts)};
    try {
      bucket.work = impl_->backend->allreduce(bucket.io, options);
    } catch (const std::exception& e) {
      impl_->fail(what, e);
    }
  }
  const auto world = static_cast<double>(world_size());
  for (size_t b = 0; b < total; ++b) {
    auto& bucket = buckets[b];
    impl_->wait(bucket.work, what);
    at::Tensor flat = bucket.io.front();
    flat.div_(world);
    int64_t offset = 0;
    for (auto& g : bucket.grads) {
      const int64_t numel = g.numel();
      g.copy_(flat.narrow(0, offset, numel).view(g.sizes()));
      offset += numel;
    }
  }
}

void Distributed::report_failure(const std::string& message) noexcept {
  if (impl_->reported) return;
  impl_->reported = true;
  try {
    STRAND_LOG_ERROR(describe(), " failed: ", message);
    const std::string text = describe() + " reported: " + message;
    const int64_t n = impl_->store->add(kFailureCounter, 1);
    impl_->store->set(failure_key(n), bytes_of(text));
  } catch (...) {
    // The store may be gone (rank 0 stopped); the other ranks then see their connections close.
  }
}

void report_current_exception(Distributed& dist) noexcept {
  try {
    throw;
  } catch (const DistributedError&) {
    // A consequence of another rank's failure, which that rank reported.
  } catch (const c10::Error& e) {
    dist.report_failure(exception_text(e));
  } catch (const std::exception& e) {
    dist.report_failure(e.what());
  } catch (...) {
    dist.report_failure("an unknown exception");
  }
}

std::shared_ptr<Distributed> init_distributed(const DistributedOptions& options) {
  const DistEnv env = dist_env_from_environment();
  if (!env.distributed()) return nullptr;
  return std::make_shared<Distributed>(env, options);
}

void quiet_unless_main(const Distributed& dist) {
  if (dist.is_main()) return;
  Progress::set_quiet(true);
  if (log::enabled(log::Level::Info)) log::set_level(log::Level::Warn);
}

}  // namespace strand::train
