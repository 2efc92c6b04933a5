#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/core/parallel.h"
#include "libseq/core/system_info.h"

TEST(Parallel, ChunksCoverRangeExactlyOnce) {
  for (int threads : {1, 2, 3, 8}) {
    for (int64_t n : {0, 1, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
      strand::parallel_for(n, 3, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)]++;
      }, threads);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << "n=" << n << " i=" << i;
    }
  }
}

TEST(Parallel, ExceptionInWorkerReachesCaller) {
  EXPECT_THROW(strand::parallel_for(100, 1, [](int64_t b, int64_t) {
    if (b > 0) throw strand::InputError("bad chunk");
  }, 4), strand::InputError);
}

TEST(Parallel, ThreadCountIsSettable) {
  strand::set_num_threads(3);
  EXPECT_EQ(strand::num_threads(), 3);
  strand::set_num_threads(0);
  EXPECT_EQ(strand::num_threads(), strand::hardware_threads());
}

TEST(Parallel, ThreadCountReachesLibTorchAndOpenBlas) {
  // `--threads N` must bound every pool: LibTorch's intra-op pool and, where LibTorch's BLAS is
  // OpenBLAS, OpenBLAS's own pool (otherwise a one-thread job still multiplies on every core).
  void* symbol = dlsym(RTLD_DEFAULT, "openblas_get_num_threads");
  int (*blas_threads)() = nullptr;
  if (symbol != nullptr) std::memcpy(&blas_threads, &symbol, sizeof(blas_threads));
  for (int n : {1, 2}) {
    strand::set_num_threads(n);
    EXPECT_EQ(at::get_num_threads(), n);
    if (blas_threads != nullptr) {
      EXPECT_EQ(blas_threads(), n);
    }
  }
  strand::set_num_threads(0);
}

TEST(SystemInfo, OpenBlasCoreTypeHint) {
  using strand::kernels::CpuIsa;
  // Debian 12's OpenBLAS 0.3.21 falls back to its Prescott (SSE3) kernels on CPUs it does not know.
  EXPECT_EQ(strand::openblas_coretype_hint("Prescott", CpuIsa::kAvx512), "SkylakeX");
  EXPECT_EQ(strand::openblas_coretype_hint("prescott", CpuIsa::kAvx2), "Haswell");
  EXPECT_EQ(strand::openblas_coretype_hint("Sandybridge", CpuIsa::kAvx2), "Haswell");
  EXPECT_EQ(strand::openblas_coretype_hint("Prescott", CpuIsa::kBaseline), "");
  EXPECT_EQ(strand::openblas_coretype_hint("Haswell", CpuIsa::kAvx512), "");
  EXPECT_EQ(strand::openblas_coretype_hint("SkylakeX", CpuIsa::kAvx512), "");
  EXPECT_EQ(strand::openblas_coretype_hint("", CpuIsa::kAvx512), "");
  const auto blas = strand::blas_info();
  if (blas.vendor == "OpenBLAS") {
    EXPECT_FALSE(blas.core.empty());
  }
}
