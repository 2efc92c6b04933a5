// Thread-count control and a small parallel-for for work that does not go through LibTorch
// (tokenization, parsing). Tensor work uses at::parallel_for, whose pool set_num_threads sizes too.
#pragma once

#include <cstdint>
#include <functional>

namespace strand {

/// Sets the number of worker threads strand uses (its own pool and LibTorch's intra-op pool).
/// n <= 0 means all hardware threads. Safe to call more than once.
void set_num_threads(int n);

/// The thread count set by set_num_threads (all hardware threads when never set).
int num_threads();

/// Number of hardware threads (at least 1).
int hardware_threads();

/// Runs fn(begin, end) over [0, n) split into contiguous chunks of at least `grain` items on up to
/// `threads` threads (0 = num_threads()). Chunks are disjoint and cover [0, n) exactly; the first
/// exception thrown by any chunk is rethrown in the caller after all chunks finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn, int threads = 0);

}  // namespace strand
