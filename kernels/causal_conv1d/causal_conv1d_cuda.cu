// CUDA kernels of strand::causal_conv1d. Sees only the params structs of causal_conv1d_params.h.
//   forward:  one thread per output (b, c, t), consecutive threads on consecutive t (coalesced
//             for time-contiguous x); the W taps are unrolled (W a template parameter).
//   backward: (1) d pre-activation per element into a scratch buffer, recomputing the
//             pre-activation when silu is on; (2) one thread per input position for d x and
//             d initial_state (transposed convolution); (3) one thread block per channel reduces
//             d weight and d bias over (batch, time) in double through a fixed shared-memory tree,
//             so results are deterministic.
//   update:   one thread per (b, c): shift the state, append x, dot with the weight.
// Grid-stride loops with a capped grid: any size fits the grid limits.
#include <cuda_runtime.h>

#include "kernels/causal_conv1d/causal_conv1d_math.h"
#include "kernels/causal_conv1d/causal_conv1d_params.h"

namespace strand::kernels {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;

unsigned blocks_for(int64_t work) {
  const int64_t blocks = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < kMaxBlocks ? blocks : kMaxBlocks);
}

/// xin[b, c, s]: x for s >= 0, the initial state (or 0) for -(W-1) <= s < 0.
template <typename T, int W>
__device__ __forceinline__ T load_input(const CausalConv1dParams<T>& p, int64_t b, int64_t c, int64_t s) {
  if (s >= 0) return p.x[b * p.x_stride_b + c * p.x_stride_c + s * p.x_stride_t];
  if (p.initial_state == nullptr) return T(0);
  return p.initial_state[b * p.init_stride_b + c * p.init_stride_c + (W - 1 + s) * p.init_stride_k];
}

/// bias[c] + sum_k w[c, k] * xin[b, c, t - (W - 1) + k].
template <typename T, int W>
__device__ __forceinline__ T pre_activation(const CausalConv1dParams<T>& p, int64_t b, int64_t c, int64_t t) {
  T acc = p.bias != nullptr ? p.bias[c * p.bias_stride] : T(0);
#pragma unroll
  for (int k = 0; k < W; ++k) {
    acc += p.weight[c * p.w_stride_c + k * p.w_stride_k] * load_input<T, W>(p, b, c, t - (W - 1) + k);
  }
  return acc;
}

template <typename T, int W>
__global__ void __launch_bounds__(kThreads) forward_kernel(CausalConv1dParams<T> p) {
  const int64_t total = p.batch * p.dim * p.len;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t t = i % p.len, row = i / p.len;
    const int64_t c = row % p.dim, b = row / p.dim;
    p.out[i] = conv_math::activate(pre_activation<T, W>(p, b, c, t), p.silu);
  }
}

template <typename T, int W>
__global__ void __launch_bounds__(kThreads) grad_pre_kernel(CausalConv1dBackwardParams<T> q) {
  const CausalConv1dParams<T>& p = q.fwd;
  const int64_t total = p.batch * p.dim * p.len;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t t = i % p.len, row = i / p.len;
    const int64_t c = row % p.dim, b = row / p.dim;
    T g = q.grad_out[b * q.go_stride_b + c * q.go_stride_c + t * q.go_stride_t];
    if (p.silu) g *= conv_math::silu_grad(pre_activation<T, W>(p, b, c, t));
    q.grad_pre[i] = g;
  }
}

/// d xin[j] = sum_k w[k] * dpre[j - k] over j in [0, len + W - 1) per row; j < W - 1 are the
/// initial-state positions, the rest x.
template <typename T, int W>
__global__ void __launch_bounds__(kThreads) grad_input_kernel(CausalConv1dBackwardParams<T> q) {
  const CausalConv1dParams<T>& p = q.fwd;
  const int64_t span = p.len + W - 1;
  const int64_t total = p.batch * p.dim * span;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const int64_t j = i % span, row = i / span;
    const int64_t c = row % p.dim;
    const T* dpre = q.grad_pre + row * p.len;
    T acc = T(0);
#pragma unroll
    for (int k = 0; k < W; ++k) {
      const int64_t t = j - k;
      if (t >= 0 && t < p.len) acc += p.weight[c * p.w_stride_c + k * p.w_stride_k] * dpre[t];
    }
    if (j >= W - 1) {
      q.grad_x[row * p.len + (j - (W - 1))] = acc;
    } else if (q.grad_initial_state != nullptr) {
      q.grad_initial_state[row * (W - 1) + j] = acc;
    }
  }
}

/// One block per channel: d w[c, k] = sum_{b,t} dpre[b,c,t] xin[b,c,t-(W-1)+k], d bias[c] = sum dpre.
template <typename T, int W>
__global__ void __launch_bounds__(kThreads) grad_weight_kernel(CausalConv1dBackwardParams<T> q) {
  const CausalConv1dParams<T>& p = q.fwd;
  __shared__ double partial[kThreads];
  const int64_t per_channel = p.batch * p.len;
  for (int64_t c = blockIdx.x; c < p.dim; c += gridDim.x) {
    double acc[W + 1];
#pragma unroll
    for (int k = 0; k <= W; ++k) acc[k] = 0.0;
    for (int64_t i = threadIdx.x; i < per_channel; i += blockDim.x) {
      const int64_t b = i / p.len, t = i % p.len;
      const double d = static_cast<double>(q.grad_pre[(b * p.dim + c) * p.len + t]);
#pragma unroll
      for (int k = 0; k < W; ++k) acc[k] += d * static_cast<double>(load_input<T, W>(p, b, c, t - (W - 1) + k));
      acc[W] += d;
    }
#pragma unroll
    for (int k = 0; k <= W; ++k) {
      partial[threadIdx.x] = acc[k];
      __syncthreads();
      for (int half = kThreads / 2; half > 0; half /= 2) {
        if (static_cast<int>(threadIdx.x) < half) partial[threadIdx.x] += partial[threadIdx.x + half];
        __syncthreads();
      }
      if (threadIdx.x == 0) {
        if (k < W) {
          q.grad_weight[c * W + k] = static_cast<T>(partial[0]);
        } else if (q.grad_bias != nullptr) {
          q.grad_bias[c] = static_cast<T>(partial[0]);
        }
      }
      __syncthreads();  // partial is reused by the next component
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) update_kernel(CausalConv1dUpdateParams<T> p) {
  const int64_t total = p.batch * p.dim;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t row = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; row < total; row += stride) {
    const int64_t b = row / p.dim, c = row % p.dim;
    T* state = p.conv_state + b * p.state_stride_b + c * p.state_stride_c;
    const T* w = p.weight + c * p.w_stride_c;
    const T x_new = p.x[b * p.x_stride_b + c * p.x_stride_c];
    T acc = p.bias != nullptr ? p.bias[c * p.bias_stride] : T(0);
    for (int64_t k = 0; k + 1 < p.width; ++k) {
      const T v = state[(k + 1) * p.state_stride_k];
      state[k * p.state_stride_k] = v;
      acc += w[k * p.w_stride_k] * v;
    }
    state[(p.width - 1) * p.state_stride_k] = x_new;
    acc += w[(p.width - 1) * p.w_stride_k] * x_new;
    p.out[row] = conv_math::activate(acc, p.silu);
  }
}

template <typename T, int W>
void forward_width(const CausalConv1dParams<T>& p, cudaStream_t stream) {
  const int64_t total = p.batch * p.dim * p.len;
  if (total == 0) return;
  forward_kernel<T, W><<<blocks_for(total), kThreads, 0, stream>>>(p);
}

template <typename T, int W>
void backward_width(const CausalConv1dBackwardParams<T>& q, cudaStream_t stream) {
  const CausalConv1dParams<T>& p = q.fwd;
  const int64_t elements = p.batch * p.dim * p.len;
  if (elements > 0) grad_pre_kernel<T, W><<<blocks_for(elements), kThreads, 0, stream>>>(q);
  const int64_t inputs = p.batch * p.dim * (p.len + W - 1);
  if (inputs > 0) grad_input_kernel<T, W><<<blocks_for(inputs), kThreads, 0, stream>>>(q);
  if (p.dim > 0) {
    const unsigned blocks = static_cast<unsigned>(p.dim < kMaxBlocks ? p.dim : kMaxBlocks);
    grad_weight_kernel<T, W><<<blocks, kThreads, 0, stream>>>(q);
  }
}

template <typename T>
void forward(const CausalConv1dParams<T>& p, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  switch (p.width) {
    case 2:
      forward_width<T, 2>(p, s);
      break;
    case 3:
      forward_width<T, 3>(p, s);
      break;
    default:
      forward_width<T, 4>(p, s);
      break;
  }
}

template <typename T>
void backward(const CausalConv1dBackwardParams<T>& q, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  switch (q.fwd.width) {
    case 2:
      backward_width<T, 2>(q, s);
      break;
    case 3:
      backward_width<T, 3>(q, s);
      break;
    default:
      backward_width<T, 4>(q, s);
      break;
  }
}

template <typename T>
void update(const CausalConv1dUpdateParams<T>& p, void* stream) {
  const int64_t total = p.batch * p.dim;
  if (total == 0) return;
  update_kernel<T><<<blocks_for(total), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(p);
}

}  // namespace

void launch_causal_conv1d_forward_cuda(const CausalConv1dParams<float>& p, void* stream) { forward(p, stream); }
void launch_causal_conv1d_forward_cuda(const CausalConv1dParams<double>& p, void* stream) { forward(p, stream); }
void launch_causal_conv1d_backward_cuda(const CausalConv1dBackwardParams<float>& p, void* stream) {
  backward(p, stream);
}
void launch_causal_conv1d_backward_cuda(const CausalConv1dBackwardParams<double>& p, void* stream) {
  backward(p, stream);
}
void launch_causal_conv1d_update_cuda(const CausalConv1dUpdateParams<float>& p, void* stream) { update(p, stream); }
void launch_causal_conv1d_update_cuda(const CausalConv1dUpdateParams<double>& p, void* stream) { update(p, stream); }

}  // namespace strand::kernels
