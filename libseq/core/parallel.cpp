#include "libseq/core/parallel.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace strand {
namespace {
std::atomic<int> g_threads{0};

/// OpenBLAS (Debian's libopenblas0-pthread, which LibTorch's matmul calls) keeps its own thread
/// pool, sized to every core and untouched by at::set_num_threads: without this, `--threads 1`
/// still ran every matrix product on all cores. Looked up at run time, since the BLAS behind
/// LibTorch is chosen by the system (another BLAS simply has no such symbol).
void set_blas_threads(int n) {
  using SetThreads = void (*)(int);
  if (void* symbol = dlsym(RTLD_DEFAULT, "openblas_set_num_threads")) {
    SetThreads set = nullptr;
    static_assert(sizeof(set) == sizeof(symbol), "function and object pointers differ in size");
    std::memcpy(&set, &symbol, sizeof(set));
    set(n);
  }
}
}  // namespace

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

void set_num_threads(int n) {
  const int t = n <= 0 ? hardware_threads() : n;
  g_threads.store(t);
  // LibTorch 1.13 starts with one intra-op thread on small machines; size its pool explicitly.
  at::set_num_threads(t);
  set_blas_threads(t);
}

int num_threads() {
  const int t = g_threads.load();
  return t > 0 ? t : hardware_threads();
}

void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn, int threads) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t want = threads > 0 ? threads : num_threads();
  const int64_t chunks = std::max<int64_t>(1, std::min<int64_t>(want, (n + grain - 1) / grain));
  if (chunks == 1) {
    fn(0, n);
    return;
  }
  const int64_t step = (n + chunks - 1) / chunks;
  std::exception_ptr first_error;
  std::mutex error_mutex;
  auto run = [&](int64_t begin, int64_t end) {
    try {
      fn(begin, end);
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mutex);
      if (!first_error) first_error = std::current_exception();
    }
  };
  std::vector<std::thread> workers;
  workers.reserve(static_cast<size_t>(chunks - 1));
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t begin = c * step;
    const int64_t end = std::min(n, begin + step);
    if (begin < end) workers.emplace_back(run, begin, end);
  }
  run(0, std::min(n, step));
  for (auto& w : workers) w.join();
  if (first_error) std::rethrow_exception(first_error);
}

}  // namespace strand
