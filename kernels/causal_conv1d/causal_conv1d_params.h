// Plain parameters of strand::causal_conv1d kernels, shared by the CPU kernel, the CUDA launcher
// and the CUDA kernels. No LibTorch types: this header is compiled by nvcc in CPU builds too.
// Every tensor is described by a pointer and element strides, so kernels read any layout.
#pragma once

#include <cstdint>

namespace strand::kernels {

/// Smallest and largest kernel width the kernels implement (the time loop is unrolled per width).
constexpr int64_t kCausalConv1dMinWidth = 2;
constexpr int64_t kCausalConv1dMaxWidth = 4;

/// Forward: out = act(bias + depthwise causal convolution of [initial_state, x] with weight).
template <typename T>
struct CausalConv1dParams {
  const T* x;  // (batch, dim, len)
  int64_t x_stride_b, x_stride_c, x_stride_t;
  const T* weight;  // (dim, width): a (dim, 1, width) tensor is passed through its (dim, width) view
  int64_t w_stride_c, w_stride_k;
  const T* bias;  // (dim) or nullptr
  int64_t bias_stride;
  const T* initial_state;  // (batch, dim, width - 1) or nullptr (zeros)
  int64_t init_stride_b, init_stride_c, init_stride_k;
  T* out;  // (batch, dim, len) contiguous; unused by the backward
  int64_t batch, dim, len, width;
  bool silu;
};

/// Backward of the forward above for the cotangent grad_out.
template <typename T>
struct CausalConv1dBackwardParams {
  CausalConv1dParams<T> fwd;  // the forward's inputs (fwd.out is not read)
  const T* grad_out;          // (batch, dim, len)
  int64_t go_stride_b, go_stride_c, go_stride_t;
  T* grad_x;              // (batch, dim, len) contiguous
  T* grad_initial_state;  // (batch, dim, width - 1) contiguous, or nullptr when not wanted
  T* grad_weight;         // (dim, width) contiguous
  T* grad_bias;           // (dim) contiguous, or nullptr when there is no bias
  T* grad_pre;            // CUDA only: (batch, dim, len) contiguous scratch for d(loss)/d(pre-activation)
};

/// One decode step: conv_state <- (conv_state[:, :, 1:], x); out = act(bias + sum_k w * conv_state).
template <typename T>
struct CausalConv1dUpdateParams {
  const T* x;  // (batch, dim)
  int64_t x_stride_b, x_stride_c;
  T* conv_state;  // (batch, dim, width), updated in place
  int64_t state_stride_b, state_stride_c, state_stride_k;
  const T* weight;  // (dim, width)
  int64_t w_stride_c, w_stride_k;
  const T* bias;  // (dim) or nullptr
  int64_t bias_stride;
  T* out;  // (batch, dim) contiguous
  int64_t batch, dim, width;
  bool silu;
};

/// CUDA launches on `stream` (a cudaStream_t). Arguments must already be checked: width in
/// [kCausalConv1dMinWidth, kCausalConv1dMaxWidth], pointers valid for the sizes and strides given.
void launch_causal_conv1d_forward_cuda(const CausalConv1dParams<float>& p, void* stream);
void launch_causal_conv1d_forward_cuda(const CausalConv1dParams<double>& p, void* stream);
void launch_causal_conv1d_backward_cuda(const CausalConv1dBackwardParams<float>& p, void* stream);
void launch_causal_conv1d_backward_cuda(const CausalConv1dBackwardParams<double>& p, void* stream);
void launch_causal_conv1d_update_cuda(const CausalConv1dUpdateParams<float>& p, void* stream);
void launch_causal_conv1d_update_cuda(const CausalConv1dUpdateParams<double>& p, void* stream);

}  // namespace strand::kernels
