// Blocked attention (strand::attention) against materialised attention (strand::attention_naive),
// forward and forward + backward, float32, batch 1, 4 heads, head_dim 32, on all threads.
//
//   build/bench/bench_attention [--benchmark_filter=...] [--benchmark_repetitions=3]
//
// Time: wall clock per call (UseRealTime; the kernels use LibTorch's thread pool).
// Memory: counter peak_MiB = growth of the peak resident set size (getrusage ru_maxrss) over one
// call, measured in a fresh child process (this program re-run with --peak-rss-child) that first
// creates the inputs and warms up the thread pool on a tiny problem, so the figure is what the
// call itself adds: scores, probabilities, autograd buffers, kernel scratch.
// A materialised run is skipped, with a message, when its estimated memory would not fit in
// MemAvailable minus a 6 GiB margin (the machine is shared; an out-of-memory kill would take
// other processes with it).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <torch/csrc/autograd/autograd.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/attention/attention.h"

namespace {

constexpr int64_t kHeads = 4;
constexpr int64_t kHeadDim = 32;
// Memory left to other processes when deciding whether a materialised run may start.
constexpr double kMarginGiB = 6.0;

struct Config {
  bool naive;
  int64_t len;
  bool causal;
  bool backward;
};

struct Inputs {
  at::Tensor q, k, v, grad_out;
};

Inputs make_inputs(int64_t len, bool backward) {
  at::manual_seed(0);
  Inputs in;
  in.q = at::randn({1, kHeads, len, kHeadDim});
  in.k = at::randn({1, kHeads, len, kHeadDim});
  in.v = at::randn({1, kHeads, len, kHeadDim});
  if (backward) {
    in.q.requires_grad_();
    in.k.requires_grad_();
    in.v.requires_grad_();
    in.grad_out = at::randn({1, kHeads, len, kHeadDim});
  }
  return in;
}

/// One call: forward (without autograd recording), or forward and backward to q, k and v.
at::Tensor run_once(const Config& c, const Inputs& in) {
  const auto fn = c.naive ? &strand::attention_naive : &strand::attention;
  const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
  if (!c.backward) {
    const at::NoGradGuard no_grad;
    return fn(in.q, in.k, in.v, at::Tensor(), c.causal, scale, 0);
  }
  const auto out = fn(in.q, in.k, in.v, at::Tensor(), c.causal, scale, 0);
  return torch::autograd::grad({out}, {in.q, in.k, in.v}, {in.grad_out})[0];
}

/// Bytes the materialised path is expected to need, in (heads, L, L) float32 matrices: peaks
/// measured at L = 2048 and 4096 were 2.0 (forward), 3.0 (forward + backward) and 3.1 (causal,
/// with its masks) matrices; the estimate adds about 15 %.
double naive_estimate_bytes(const Config& c) {
  const double matrix = static_cast<double>(kHeads) * c.len * c.len * 4.0;
  return matrix * (c.causal || c.backward ? 3.5 : 2.3);
}

double mem_available_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  double kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024.0;
    meminfo.ignore(256, '\n');
  }
  return 0;
}

/// Empty when the configuration may run, else why it is skipped.
std::string skip_reason(const Config& c) {
  if (!c.naive) return "";
  const double need = naive_estimate_bytes(c), margin = kMarginGiB * (1 << 30), avail = mem_available_bytes();
  if (need + margin <= avail) return "";
  char msg[200];
  std::snprintf(msg, sizeof msg,
                "skipped: materialised attention needs ~%.1f GiB, %.1f GiB available (margin %.0f GiB)",
                need / (1 << 30), avail / (1 << 30), kMarginGiB);
  return msg;
}

double max_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

/// Child mode: run one configuration once, print the peak RSS growth in MiB.
int peak_rss_child(const Config& c) {
  const Inputs in = make_inputs(c.len, c.backward);
  run_once({c.naive, 256, c.causal, c.backward}, make_inputs(256, c.backward));  // thread pool, allocator
  const double before = max_rss_mib();
  const auto result = run_once(c, in);
  const double after = max_rss_mib();
  benchmark::DoNotOptimize(result.data_ptr());
  std::printf("%.1f\n", after - before);
  return 0;
}

/// Peak RSS growth of one call of `c`, from a child process; -1 when the child failed.
double peak_rss_delta_mib(const Config& c) {
  static std::map<std::tuple<bool, int64_t, bool, bool>, double> cache;
  const auto key = std::make_tuple(c.naive, c.len, c.causal, c.backward);
  if (const auto it = cache.find(key); it != cache.end()) return it->second;
  const std::string command = "/proc/" + std::to_string(getpid()) + "/exe --peak-rss-child " + std::to_string(c.naive) +
                              " " + std::to_string(c.len) + " " + std::to_string(c.causal) + " " +
                              std::to_string(c.backward);
  double mib = -1;
  if (FILE* child = popen(command.c_str(), "r")) {
    if (std::fscanf(child, "%lf", &mib) != 1) mib = -1;
    if (pclose(child) != 0) mib = -1;
  }
  return cache[key] = mib;
}

void BM_Attention(benchmark::State& state, bool naive, bool backward) {
  const Config c{naive, state.range(0), state.range(1) != 0, backward};
  if (const auto why = skip_reason(c); !why.empty()) {
    state.SkipWithError(why.c_str());
    for (auto _ : state) {
    }
    return;
  }
  const Inputs in = make_inputs(c.len, c.backward);
  for (auto _ : state) {
    const auto result = run_once(c, in);
    benchmark::DoNotOptimize(result.data_ptr());
  }
  state.counters["peak_MiB"] = peak_rss_delta_mib(c);
}

void lengths(benchmark::internal::Benchmark* b) {
  b->ArgNames({"L", "causal"});
  for (int64_t causal : {0, 1}) {
    for (int64_t len : {1024, 2048, 4096, 8192, 16384}) b->Args({len, causal});
  }
  // On a shared machine other processes only ever add time: with --benchmark_repetitions the
  // "min" aggregate is the least disturbed run.
  b->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(0.5)
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

/// Training shapes: batch 32, 4 heads, head_dim 24 (the `tiny` preset), forward + backward.
void BM_AttentionTraining(benchmark::State& state, bool naive) {
  const int64_t len = state.range(0);
  const bool causal = state.range(1) != 0;
  at::manual_seed(0);
  const auto make = [&] { return at::randn({32, kHeads, len, 24}).requires_grad_(); };
  const auto q = make(), k = make(), v = make();
  const auto grad_out = at::randn({32, kHeads, len, 24});
  const auto fn = naive ? &strand::attention_naive : &strand::attention;
  for (auto _ : state) {
    const auto out = fn(q, k, v, at::Tensor(), causal, 1.0 / std::sqrt(24.0), 0);
    const auto grads = torch::autograd::grad({out}, {q, k, v}, {grad_out});
    benchmark::DoNotOptimize(grads[0].data_ptr());
  }
}

void training_lengths(benchmark::internal::Benchmark* b) {
  b->ArgNames({"L", "causal"});
  for (int64_t causal : {0, 1}) {
    for (int64_t len : {128, 256, 512}) b->Args({len, causal});
  }
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
}

BENCHMARK_CAPTURE(BM_AttentionTraining, blocked, false)->Apply(training_lengths);
BENCHMARK_CAPTURE(BM_AttentionTraining, naive, true)->Apply(training_lengths);
BENCHMARK_CAPTURE(BM_Attention, blocked_forward, false, false)->Apply(lengths);
BENCHMARK_CAPTURE(BM_Attention, naive_forward, true, false)->Apply(lengths);
BENCHMARK_CAPTURE(BM_Attention, blocked_forward_backward, false, true)->Apply(lengths);
BENCHMARK_CAPTURE(BM_Attention, naive_forward_backward, true, true)->Apply(lengths);

}  // namespace

int main(int argc, char** argv) {
  if (argc == 6 && std::strcmp(argv[1], "--peak-rss-child") == 0) {
    return peak_rss_child(
        {std::atoi(argv[2]) != 0, std::atoll(argv[3]), std::atoi(argv[4]) != 0, std::atoi(argv[5]) != 0});
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
