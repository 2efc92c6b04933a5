// Plain parameters of reverse_complement_ids shared by the CUDA launcher and kernel.
// No LibTorch types: this header is compiled by nvcc in CPU builds too.
#pragma once

#include <cstdint>

namespace strand::kernels {

template <typename Index>
struct RcIdsParams {
  const Index* ids;         // (batch, length) with strides below
  const Index* complement;  // (vocab,) contiguous
  const int64_t* lengths;   // (batch,) contiguous, or nullptr for full rows
  Index* out;               // (batch, length) contiguous
  int64_t batch;
  int64_t length;
  int64_t vocab;
  int64_t ids_stride_b;
  int64_t ids_stride_l;
};

/// Launches the CUDA kernel on `stream` (a cudaStream_t). Ids and lengths must already be validated.
void launch_reverse_complement_ids_cuda(const RcIdsParams<int32_t>& p, void* stream);
void launch_reverse_complement_ids_cuda(const RcIdsParams<int64_t>& p, void* stream);

}  // namespace strand::kernels
