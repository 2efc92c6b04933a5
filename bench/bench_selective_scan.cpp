// strand::selective_scan (CPU kernel) against selective_scan_aten (the framework formulation,
// materialised (batch, dim, L, N) tensors and a time loop of ATen ops, differentiated by ATen
// autograd), forward + backward, at Mamba-1 block settings: batch 4, dim 1024, N 16, G = 1,
// delta_softplus with delta_bias, D and z given, float32, on one thread per hardware thread
// (the ATen path also on one thread: aten_1thread).
//
//   build/bench/bench_selective_scan [--benchmark_filter=...] [--benchmark_repetitions=3]
//
// Time: wall clock per call (UseRealTime; the kernels use LibTorch's thread pool). Counters:
//   s_per_token     time per token (batch * L tokens per call); flat in L for a linear scan
//   bytes_per_second  the bytes the scan must move at least (kernel_bytes below) per second,
//                   to compare with BM_Memcpy's read + write rate over the same threads
// BM_Memcpy copies a 512 MiB buffer split over the threads; its rate counts bytes read plus
// bytes written, as kernel_bytes does.
// An ATen run is skipped, with a message, when its estimated memory would not fit in
// MemAvailable minus a 6 GiB margin (the machine is shared; an out-of-memory kill would take
// other processes with it).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"

namespace {

constexpr int64_t kBatch = 4;
constexpr int64_t kDim = 1024;
constexpr int64_t kState = 16;
// Memory left to other processes when deciding whether an ATen run may start.
constexpr double kMarginGiB = 6.0;

enum class Kind { kKernel, kKernelPortable, kAten, kAtenOneThread };

struct Inputs {
  at::Tensor u, delta, A, B, C, D, z, bias, grad_out;
};

/// Mamba-1 block inputs: S4D-real A = -(n + 1), dt = softplus(delta + bias) around 0.05.
Inputs make_inputs(int64_t len) {
  at::manual_seed(0);
  Inputs in;
  in.u = at::randn({kBatch, kDim, len});
  in.delta = at::randn({kBatch, kDim, len}) * 0.5;
  in.A = -at::arange(1, kState + 1, at::kFloat).repeat({kDim, 1});
  in.B = at::randn({kBatch, kState, len});
  in.C = at::randn({kBatch, kState, len});
  in.D = at::ones({kDim});
  in.z = at::randn({kBatch, kDim, len});
  in.bias = at::full({kDim}, -3.0);
  in.grad_out = at::randn({kBatch, kDim, len});
  for (at::Tensor* t : {&in.u, &in.delta, &in.A, &in.B, &in.C, &in.D, &in.z, &in.bias}) t->requires_grad_();
  return in;
}

/// Forward and backward to every input; returns one gradient to keep the work observable.
at::Tensor run_once(Kind kind, const Inputs& in) {
  if (kind == Kind::kKernelPortable) {
    // The baseline-ISA build of the same kernel, through the internal entry points.
    using strand::kernels::ScanCpuPath;
    const at::NoGradGuard no_grad;
    const auto fwd = strand::kernels::selective_scan_forward_cpu(in.u, in.delta, in.A, in.B, in.C, in.D, in.z,
                                                                 in.bias, true, at::Tensor(), true,
                                                                 ScanCpuPath::kPortable);
    const auto grads = strand::kernels::selective_scan_backward_cpu(
        in.grad_out, at::Tensor(), in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, true, at::Tensor(),
        std::get<2>(fwd), ScanCpuPath::kPortable);
    return std::get<0>(grads);
  }
  const auto fn = kind == Kind::kKernel ? &strand::selective_scan : &strand::selective_scan_aten;
  const auto out = std::get<0>(fn(in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias, true, at::Tensor(), false));
  return torch::autograd::grad({out}, {in.u, in.delta, in.A, in.B, in.C, in.D, in.z, in.bias}, {in.grad_out})[0];
}

/// Bytes a forward + backward must read and write at least (float32): forward reads u, delta, z
/// and writes out (4 (batch, dim, L) tensors) and reads B, C; backward reads u, delta, z,
/// grad_out, writes du, ddelta, dz (7 tensors) and reads B, C, writes dB, dC.
double kernel_bytes(int64_t len) {
  const double seq = static_cast<double>(kBatch * kDim * len), bc = static_cast<double>(kBatch * kState * len);
  return 4.0 * (11.0 * seq + 6.0 * bc);
}

/// Memory the ATen path needs, in (batch, dim, L, N) float32 tensors: the peak resident set grew
/// by 9.5 such tensors per step of L between L = 1,024 and 2,048 (deltaA, deltaB_u, the states
/// autograd saves, the gradients stacked by unbind's backward, exp's backward); the estimate adds
/// about 15 %.
double aten_estimate_bytes(int64_t len) { return 11.0 * static_cast<double>(kBatch * kDim * len * kState) * 4.0; }

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

void BM_SelectiveScan(benchmark::State& state, Kind kind) {
  const int64_t len = state.range(0);
  // The ATen path frees thousands of step tensors into the heap; hand that memory back to the
  // system so that the next run's memory check sees it.
  malloc_trim(0);
  if (kind == Kind::kAten || kind == Kind::kAtenOneThread) {
    const double need = aten_estimate_bytes(len), margin = kMarginGiB * (1 << 30), avail = mem_available_bytes();
    if (need + margin > avail) {
      char msg[200];
      std::snprintf(msg, sizeof msg, "skipped: the ATen path needs ~%.1f GiB, %.1f GiB available (margin %.0f GiB)",
                    need / (1 << 30), avail / (1 << 30), kMarginGiB);
      state.SkipWithError(msg);
      for (auto _ : state) {
      }
      return;
    }
  }
  const Inputs in = make_inputs(len);
  const int threads = at::get_num_threads();
  if (kind == Kind::kAtenOneThread) at::set_num_threads(1);
  for (auto _ : state) {
    const auto result = run_once(kind, in);
    benchmark::DoNotOptimize(result.data_ptr());
  }
  at::set_num_threads(threads);
  state.counters["s_per_token"] =
      benchmark::Counter(static_cast<double>(kBatch * len),
                         benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["bytes_per_second"] =
      benchmark::Counter(kernel_bytes(len), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::OneK::kIs1024);
}

void BM_Memcpy(benchmark::State& state) {
  const int64_t bytes = int64_t{512} << 20;
  std::vector<char> src(static_cast<size_t>(bytes), 1), dst(static_cast<size_t>(bytes), 0);
  const int64_t threads = at::get_num_threads();
  for (auto _ : state) {
    at::parallel_for(0, threads, 1, [&](int64_t begin, int64_t end) {
      for (int64_t t = begin; t < end; ++t) {
        const int64_t lo = bytes * t / threads, hi = bytes * (t + 1) / threads;
        std::memcpy(dst.data() + lo, src.data() + lo, static_cast<size_t>(hi - lo));
      }
    });
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.counters["bytes_per_second"] = benchmark::Counter(2.0 * static_cast<double>(bytes),
                                                          benchmark::Counter::kIsIterationInvariantRate,
                                                          benchmark::Counter::OneK::kIs1024);
}

void lengths(benchmark::internal::Benchmark* b) {
  b->ArgNames({"L"});
  for (int64_t len : {1024, 2048, 4096, 8192, 16384}) b->Args({len});
  // On a shared machine other processes only ever add time: with --benchmark_repetitions the
  // "min" aggregate is the least disturbed run.
  b->Unit(benchmark::kMillisecond)
      ->UseRealTime()
      ->MinTime(0.5)
      ->ComputeStatistics("min", [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); });
}

BENCHMARK(BM_Memcpy)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.5);
BENCHMARK_CAPTURE(BM_SelectiveScan, kernel_forward_backward, Kind::kKernel)->Apply(lengths);
BENCHMARK_CAPTURE(BM_SelectiveScan, kernel_portable_forward_backward, Kind::kKernelPortable)->Apply(lengths);
BENCHMARK_CAPTURE(BM_SelectiveScan, aten_forward_backward, Kind::kAten)->Apply(lengths);
// ATen's small per-step ops on one thread: OpenMP's fork and join per op cost more than they
// save at this size on a shared 2-vCPU machine, so this is the ATen path's better configuration.
BENCHMARK_CAPTURE(BM_SelectiveScan, aten_1thread_forward_backward, Kind::kAtenOneThread)->Apply(lengths);

}  // namespace

int main(int argc, char** argv) {
  // One thread per hardware thread of the machine (LibTorch's default, set explicitly).
  at::set_num_threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
