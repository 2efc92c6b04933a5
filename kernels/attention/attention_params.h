// Plain parameters of the strand::attention CUDA forward, shared by the launcher and the kernel.
// No LibTorch types: this header is compiled by nvcc in CPU builds too.
#pragma once

#include <cstddef>
#include <cstdint>

namespace strand::kernels {

/// Largest head_dim the CUDA kernel takes (each thread keeps its query row and accumulator).
constexpr int64_t kAttentionCudaMaxHeadDim = 128;

template <typename T>
struct AttentionParams {
  const T* q;              // (batch, heads, len_q, head_dim), strides below, head_dim contiguous
  const T* k;              // (batch, heads, len_k, head_dim), strides below, head_dim contiguous
  const T* v;              // (batch, heads, len_k, head_dim), strides below, head_dim contiguous
  const bool* real_token;  // (batch, len_k) contiguous key padding mask, or nullptr
  T* out;                  // (batch, heads, len_q, head_dim) contiguous
  T* lse;                  // (batch, heads, len_q) contiguous; +inf where a row sees no key
  int64_t batch;
  int64_t heads;
  int64_t len_q;
  int64_t len_k;
  int64_t head_dim;  // <= kAttentionCudaMaxHeadDim
  int64_t q_stride_b, q_stride_h, q_stride_l;
  int64_t k_stride_b, k_stride_h, k_stride_l;
  int64_t v_stride_b, v_stride_h, v_stride_l;
  int64_t q_offset;  // query i sits at absolute position q_offset + i (causal only)
  T scale;
  bool causal;
};

/// Number of thread blocks the forward launches: batch * heads * ceil(len_q / 64).
int64_t attention_cuda_grid_size(int64_t batch, int64_t heads, int64_t len_q);

/// Launches the forward kernel on `stream` (a cudaStream_t). Arguments must already be checked,
/// including attention_cuda_grid_size(...) <= 2^31 - 1.
void launch_attention_forward_cuda(const AttentionParams<float>& p, void* stream);
void launch_attention_forward_cuda(const AttentionParams<double>& p, void* stream);

}  // namespace strand::kernels
