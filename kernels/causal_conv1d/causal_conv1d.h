// strand::causal_conv1d — depthwise causal 1-D convolution with optional bias and fused SiLU, the
// short convolution of Mamba blocks (Gu & Dao 2023, arXiv:2312.00752, Fig. 3), and its one-step
// decode update.
//
// For batch b, channel c, time t and kernel width W:
//   pre[b,c,t] = bias[c] + sum_{k=0}^{W-1} weight[c,k] * xin[b,c,t-(W-1)+k]
//   out[b,c,t] = silu(pre[b,c,t]) if silu else pre[b,c,t]
// where xin[b,c,s] = x[b,c,s] for s >= 0, initial_state[b,c,W-1+s] for -(W-1) <= s < 0 when an
// initial state is given (the W-1 inputs that preceded x), and 0 otherwise.
//
//   x               (batch, dim, L)
//   weight          (dim, W) or (dim, 1, W) (the layout of a PyTorch depthwise Conv1d), 2 <= W <= 4
//   bias            undefined or (dim)
//   initial_state   undefined or (batch, dim, W-1)
//   returns         (batch, dim, L), dtype of x, contiguous
// Every tensor shares the dtype and device of x; any strides. Dtypes: float32 and float64.
// Autograd: gradients flow to x, weight, bias and initial_state; second derivatives are rejected.
//
// causal_conv1d_update — one decode step (Mamba-1 cache layout: the state holds the last W
// inputs, the newest last):
//   conv_state[b,c,:] <- (conv_state[b,c,1:], x[b,c])        (in place)
//   out[b,c] = act(bias[c] + sum_k weight[c,k] * conv_state[b,c,k])
//   x (batch, dim); conv_state (batch, dim, W), same dtype and device, updated in place; returns
//   (batch, dim). Not differentiable (decoding runs without gradients).
// Feeding x[:, :, t] for t = 0..L-1 through causal_conv1d_update from a zero state gives
// causal_conv1d(x) column by column.
//
// Devices: CPU kernel (parallel over batch x channels), CUDA kernel in builds with STRAND_CUDA;
// in builds without CUDA kernels a CUDA input throws "strand::causal_conv1d has no CUDA
// implementation in this build".
// Failures (c10::Error): wrong ranks or sizes, W outside 2..4, dtype or device mismatch.
// Thread-safe except that causal_conv1d_update writes conv_state.
#pragma once

#include <ATen/core/Tensor.h>

namespace strand {

/// Causal depthwise convolution (see above); differentiable.
at::Tensor causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& initial_state, bool silu);

/// One decode step; updates conv_state in place and returns (batch, dim).
at::Tensor causal_conv1d_update(const at::Tensor& x, const at::Tensor& conv_state, const at::Tensor& weight,
                                const at::Tensor& bias, bool silu);

/// Plain reference (loops, double accumulation, CPU, any floating dtype). Not differentiable.
at::Tensor causal_conv1d_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                   const at::Tensor& initial_state, bool silu);

}  // namespace strand
