// CUDA kernel for reverse_complement_ids: one thread per output element. Sees only RcIdsParams.
#include <cuda_runtime.h>

#include "kernels/rc_ids/rc_ids_params.h"

namespace strand::kernels {
namespace {

template <typename Index>
__global__ void rc_ids_kernel(RcIdsParams<Index> p) {
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.batch * p.length) return;
  const int64_t b = idx / p.length;
  const int64_t i = idx % p.length;
  const int64_t n = p.lengths != nullptr ? p.lengths[b] : p.length;
  const Index* row = p.ids + b * p.ids_stride_b;
  p.out[idx] = i < n ? p.complement[row[(n - 1 - i) * p.ids_stride_l]] : row[i * p.ids_stride_l];
}

template <typename Index>
void launch(const RcIdsParams<Index>& p, void* stream) {
  const int64_t total = p.batch * p.length;
  if (total == 0) return;
  constexpr int threads = 256;
  const auto blocks = static_cast<unsigned>((total + threads - 1) / threads);
  rc_ids_kernel<Index><<<blocks, threads, 0, static_cast<cudaStream_t>(stream)>>>(p);
}

}  // namespace

void launch_reverse_complement_ids_cuda(const RcIdsParams<int32_t>& p, void* stream) { launch(p, stream); }
void launch_reverse_complement_ids_cuda(const RcIdsParams<int64_t>& p, void* stream) { launch(p, stream); }

}  // namespace strand::kernels
