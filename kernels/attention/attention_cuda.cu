// CUDA forward of strand::attention: one thread block per (batch, head, block of 64 queries), one
// thread per query row keeping its running max, running sum and rescaled accumulator (online
// softmax, FlashAttention: Dao et al. 2022); key and value tiles are staged in shared memory.
// Straightforward rather than tuned: no tensor cores, accumulation in the input dtype.
// Sees only AttentionParams.
#include <cuda_runtime.h>
#include <math.h>

#include "kernels/attention/attention_params.h"

namespace strand::kernels {
namespace {

constexpr int kBlockQ = 64;              // threads per block, one query row each
constexpr int kSharedBytes = 48 * 1024;  // static shared memory limit without opt-in
constexpr int kMaxBlockK = 64;

__device__ inline float exp_of(float x) { return expf(x); }
__device__ inline double exp_of(double x) { return exp(x); }
__device__ inline float log_of(float x) { return logf(x); }
__device__ inline double log_of(double x) { return log(x); }

/// Keys per shared-memory tile so that the K and V tiles fit in kSharedBytes.
inline int block_k_for(int64_t head_dim, size_t elem) {
  const int64_t per_key = 2 * (head_dim > 0 ? head_dim : 1) * static_cast<int64_t>(elem);
  const int64_t fit = kSharedBytes / per_key;
  return static_cast<int>(fit < kMaxBlockK ? fit : kMaxBlockK);
}

template <typename T>
__global__ void __launch_bounds__(kBlockQ) attention_forward_kernel(AttentionParams<T> p, int block_k) {
  extern __shared__ unsigned char shared_raw[];
  T* k_tile = reinterpret_cast<T*>(shared_raw);  // block_k x head_dim
  T* v_tile = k_tile + static_cast<int64_t>(block_k) * p.head_dim;

  const int64_t n_qb = (p.len_q + kBlockQ - 1) / kBlockQ;
  const int64_t bh = static_cast<int64_t>(blockIdx.x) / n_qb;
  const int64_t b = bh / p.heads, h = bh % p.heads;
  const int64_t i0 = (static_cast<int64_t>(blockIdx.x) % n_qb) * kBlockQ;
  const int64_t i = i0 + static_cast<int64_t>(threadIdx.x);
  const bool active = i < p.len_q;
  const int64_t dim = p.head_dim;
  const T neg_inf = -INFINITY;

  T q_row[kAttentionCudaMaxHeadDim];
  T acc[kAttentionCudaMaxHeadDim];
  if (active) {
    const T* q = p.q + b * p.q_stride_b + h * p.q_stride_h + i * p.q_stride_l;
    for (int64_t d = 0; d < dim; ++d) {
      q_row[d] = q[d] * p.scale;
      acc[d] = T(0);
    }
  }
  T row_max = neg_inf;
  T row_sum = T(0);

  const T* k = p.k + b * p.k_stride_b + h * p.k_stride_h;
  const T* v = p.v + b * p.v_stride_b + h * p.v_stride_h;
  const bool* real = p.real_token != nullptr ? p.real_token + b * p.len_k : nullptr;
  const int64_t rows_end = i0 + kBlockQ < p.len_q ? i0 + kBlockQ : p.len_q;
  const int64_t j_end = p.causal && p.q_offset + rows_end < p.len_k ? p.q_offset + rows_end : p.len_k;

  for (int64_t j0 = 0; j0 < j_end; j0 += block_k) {
    const int64_t cols = j_end - j0 < block_k ? j_end - j0 : block_k;
    __syncthreads();  // every thread is done with the previous tile
    for (int64_t x = threadIdx.x; x < cols * dim; x += blockDim.x) {
      const int64_t c = x / dim, d = x % dim;
      k_tile[x] = k[(j0 + c) * p.k_stride_l + d];
      v_tile[x] = v[(j0 + c) * p.v_stride_l + d];
    }
    __syncthreads();
    if (!active) continue;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t j = j0 + c;
      if (p.causal && j > p.q_offset + i) break;
      if (real != nullptr && !real[j]) continue;
      const T* k_row = k_tile + c * dim;
      const T* v_row = v_tile + c * dim;
      T s = T(0);
      for (int64_t d = 0; d < dim; ++d) s += q_row[d] * k_row[d];
      if (s > row_max) {
        // New running max: rescale the sum and accumulator (exp(-inf) = 0 on the first key).
        const T rescale = exp_of(row_max - s);
        row_sum = row_sum * rescale + T(1);
        for (int64_t d = 0; d < dim; ++d) acc[d] = acc[d] * rescale + v_row[d];
        row_max = s;
      } else {
        const T e = exp_of(s - row_max);
        row_sum += e;
        for (int64_t d = 0; d < dim; ++d) acc[d] += e * v_row[d];
      }
    }
  }
  if (!active) return;
  T* out = p.out + ((b * p.heads + h) * p.len_q + i) * dim;
  if (row_sum > T(0)) {
    const T inv = T(1) / row_sum;
    for (int64_t d = 0; d < dim; ++d) out[d] = acc[d] * inv;
    p.lse[(b * p.heads + h) * p.len_q + i] = row_max + log_of(row_sum);
  } else {
    for (int64_t d = 0; d < dim; ++d) out[d] = T(0);
    p.lse[(b * p.heads + h) * p.len_q + i] = -neg_inf;
  }
}

template <typename T>
void launch(const AttentionParams<T>& p, void* stream) {
  const int64_t blocks = attention_cuda_grid_size(p.batch, p.heads, p.len_q);
  if (blocks == 0) return;
  const int block_k = block_k_for(p.head_dim, sizeof(T));
  const size_t shared =
      2 * static_cast<size_t>(block_k) * static_cast<size_t>(p.head_dim > 0 ? p.head_dim : 1) * sizeof(T);
  attention_forward_kernel<T>
      <<<static_cast<unsigned>(blocks), kBlockQ, shared, static_cast<cudaStream_t>(stream)>>>(p, block_k);
}

}  // namespace

int64_t attention_cuda_grid_size(int64_t batch, int64_t heads, int64_t len_q) {
  return batch * heads * ((len_q + kBlockQ - 1) / kBlockQ);
}

void launch_attention_forward_cuda(const AttentionParams<float>& p, void* stream) { launch(p, stream); }
void launch_attention_forward_cuda(const AttentionParams<double>& p, void* stream) { launch(p, stream); }

}  // namespace strand::kernels
