// Pieces shared by the host files of kernels/causal_conv1d (LibTorch allowed). Not a public API.
//
// Ops registered by causal_conv1d_def.cpp:
//   strand::causal_conv1d(x, weight, bias?, initial_state?, silu) -> out        public; Autograd,
//       CPU and CUDA kernels. The autograd function calls it again below the Autograd key as its
//       forward piece: the backward needs nothing but the inputs (it recomputes the
//       pre-activation, W <= 4 multiply-adds per element), so no separate forward op exists.
//   strand::_causal_conv1d_backward(grad_out, x, weight, bias?, initial_state?, silu)
//       -> (grad_x, grad_weight, grad_bias, grad_initial_state)
//       grad_weight is (dim, W) whatever the layout of weight; grad_bias / grad_initial_state are
//       undefined when bias / initial_state are absent.
//   strand::causal_conv1d_update(x, conv_state!, weight, bias?, silu) -> out     public; CPU, CUDA,
//       and an Autograd kernel that rejects inputs needing gradients.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "kernels/causal_conv1d/causal_conv1d_params.h"
#include "kernels/common/torch_compat.h"

namespace strand::kernels {

struct CausalConv1dShape {
  int64_t batch, dim, len, width;
};

/// The (dim, W) view of a weight given as (dim, W) or (dim, 1, W); shares storage and strides.
inline at::Tensor causal_conv1d_weight_2d(const at::Tensor& weight) {
  return weight.dim() == 3 ? weight.select(1, 0) : weight;
}

inline const at::Tensor& causal_conv1d_opt(const compat::optional<at::Tensor>& t) {
  static const at::Tensor undefined;
  return t.has_value() ? *t : undefined;
}

/// Checks a weight (dim, W) or (dim, 1, W) with 2 <= W <= 4 and an optional bias (dim) against
/// `like` (dtype, device); returns W.
inline int64_t check_causal_conv1d_weight(const char* op, const at::Tensor& weight, const at::Tensor& bias,
                                          int64_t dim, const at::Tensor& like) {
  TORCH_CHECK(weight.defined(), op, ": weight must be a defined tensor");
  TORCH_CHECK(weight.dim() == 2 || (weight.dim() == 3 && weight.size(1) == 1), op,
              ": weight must be (dim, W) or (dim, 1, W), got ", weight.sizes());
  TORCH_CHECK(weight.size(0) == dim, op, ": weight has ", weight.size(0), " channels but x has dim = ", dim,
              " (weight ", weight.sizes(), ")");
  const int64_t width = weight.size(weight.dim() - 1);
  TORCH_CHECK(width >= kCausalConv1dMinWidth && width <= kCausalConv1dMaxWidth, op, ": kernel width W must be in ",
              kCausalConv1dMinWidth, "..", kCausalConv1dMaxWidth, ", got W = ", width, " (weight ", weight.sizes(), ")");
  TORCH_CHECK(weight.scalar_type() == like.scalar_type(), op, ": weight must have the dtype of x (",
              like.scalar_type(), "), got ", weight.scalar_type());
  TORCH_CHECK(weight.device() == like.device(), op, ": weight is on ", weight.device(), " but x is on ",
              like.device());
  if (bias.defined()) {
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == dim, op, ": bias must be (dim) = (", dim, "), got ", bias.sizes());
    TORCH_CHECK(bias.scalar_type() == like.scalar_type(), op, ": bias must have the dtype of x (", like.scalar_type(),
                "), got ", bias.scalar_type());
    TORCH_CHECK(bias.device() == like.device(), op, ": bias is on ", bias.device(), " but x is on ", like.device());
  }
  return width;
}

/// Checks the arguments of causal_conv1d (not which dtypes a device supports: see
/// check_causal_conv1d_dtype). `op` names the caller in messages.
inline CausalConv1dShape check_causal_conv1d_args(const char* op, const at::Tensor& x, const at::Tensor& weight,
                                                  const at::Tensor& bias, const at::Tensor& initial_state) {
  TORCH_CHECK(x.defined(), op, ": x must be a defined tensor");
  TORCH_CHECK(x.dim() == 3, op, ": x must be (batch, dim, L), got ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op, ": x must be a floating-point tensor, got ", x.scalar_type());
  CausalConv1dShape s{x.size(0), x.size(1), x.size(2), 0};
  s.width = check_causal_conv1d_weight(op, weight, bias, s.dim, x);
  if (initial_state.defined()) {
    TORCH_CHECK(initial_state.dim() == 3 && initial_state.size(0) == s.batch && initial_state.size(1) == s.dim &&
                    initial_state.size(2) == s.width - 1,
                op, ": initial_state must be (batch, dim, W - 1) = (", s.batch, ", ", s.dim, ", ", s.width - 1,
                "), got ", initial_state.sizes());
    TORCH_CHECK(initial_state.scalar_type() == x.scalar_type(), op, ": initial_state must have the dtype of x (",
                x.scalar_type(), "), got ", initial_state.scalar_type());
    TORCH_CHECK(initial_state.device() == x.device(), op, ": initial_state is on ", initial_state.device(),
                " but x is on ", x.device());
  }
  return s;
}

/// Checks the arguments of causal_conv1d_update; returns (batch, dim, 1, W).
inline CausalConv1dShape check_causal_conv1d_update_args(const char* op, const at::Tensor& x,
                                                         const at::Tensor& conv_state, const at::Tensor& weight,
                                                         const at::Tensor& bias) {
  TORCH_CHECK(x.defined() && conv_state.defined(), op, ": x and conv_state must be defined tensors");
  TORCH_CHECK(x.dim() == 2, op, ": x must be (batch, dim), got ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op, ": x must be a floating-point tensor, got ", x.scalar_type());
  CausalConv1dShape s{x.size(0), x.size(1), 1, 0};
  s.width = check_causal_conv1d_weight(op, weight, bias, s.dim, x);
  TORCH_CHECK(conv_state.dim() == 3 && conv_state.size(0) == s.batch && conv_state.size(1) == s.dim &&
                  conv_state.size(2) == s.width,
              op, ": conv_state must be (batch, dim, W) = (", s.batch, ", ", s.dim, ", ", s.width, "), got ",
              conv_state.sizes());
  TORCH_CHECK(conv_state.scalar_type() == x.scalar_type(), op, ": conv_state must have the dtype of x (",
              x.scalar_type(), "), got ", conv_state.scalar_type());
  TORCH_CHECK(conv_state.device() == x.device(), op, ": conv_state is on ", conv_state.device(), " but x is on ",
              x.device());
  return s;
}

/// The CPU and CUDA kernels implement float32 and float64.
inline void check_causal_conv1d_dtype(const char* op, const at::Tensor& x) {
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble, op,
              ": the kernels support float32 and float64, got ", x.scalar_type(), " (convert to float32)");
}

/// Fills the forward params from checked tensors (weight2d: the (dim, W) view; out contiguous).
template <typename T>
CausalConv1dParams<T> make_causal_conv1d_params(const CausalConv1dShape& s, const at::Tensor& x,
                                                const at::Tensor& weight2d, const at::Tensor& bias,
                                                const at::Tensor& initial_state, bool silu, T* out) {
  CausalConv1dParams<T> p{};
  p.x = x.data_ptr<T>();
  p.x_stride_b = x.stride(0);
  p.x_stride_c = x.stride(1);
  p.x_stride_t = x.stride(2);
  p.weight = weight2d.data_ptr<T>();
  p.w_stride_c = weight2d.stride(0);
  p.w_stride_k = weight2d.stride(1);
  p.bias = bias.defined() ? bias.data_ptr<T>() : nullptr;
  p.bias_stride = bias.defined() ? bias.stride(0) : 0;
  p.initial_state = initial_state.defined() ? initial_state.data_ptr<T>() : nullptr;
  p.init_stride_b = initial_state.defined() ? initial_state.stride(0) : 0;
  p.init_stride_c = initial_state.defined() ? initial_state.stride(1) : 0;
  p.init_stride_k = initial_state.defined() ? initial_state.stride(2) : 0;
  p.out = out;
  p.batch = s.batch;
  p.dim = s.dim;
  p.len = s.len;
  p.width = s.width;
  p.silu = silu;
  return p;
}

/// Fills the update params from checked tensors.
template <typename T>
CausalConv1dUpdateParams<T> make_causal_conv1d_update_params(const CausalConv1dShape& s, const at::Tensor& x,
                                                             const at::Tensor& conv_state,
                                                             const at::Tensor& weight2d, const at::Tensor& bias,
                                                             bool silu, T* out) {
  CausalConv1dUpdateParams<T> p{};
  p.x = x.data_ptr<T>();
  p.x_stride_b = x.stride(0);
  p.x_stride_c = x.stride(1);
  p.conv_state = conv_state.data_ptr<T>();
  p.state_stride_b = conv_state.stride(0);
  p.state_stride_c = conv_state.stride(1);
  p.state_stride_k = conv_state.stride(2);
  p.weight = weight2d.data_ptr<T>();
  p.w_stride_c = weight2d.stride(0);
  p.w_stride_k = weight2d.stride(1);
  p.bias = bias.defined() ? bias.data_ptr<T>() : nullptr;
  p.bias_stride = bias.defined() ? bias.stride(0) : 0;
  p.out = out;
  p.batch = s.batch;
  p.dim = s.dim;
  p.width = s.width;
  p.silu = silu;
  return p;
}

/// Checks grad_out of the backward against the forward shape.
inline void check_causal_conv1d_grad_out(const char* op, const at::Tensor& grad_out, const at::Tensor& x) {
  TORCH_CHECK(grad_out.defined() && grad_out.sizes() == x.sizes(), op, ": grad_out must be ", x.sizes(), ", got ",
              grad_out.defined() ? grad_out.sizes() : at::IntArrayRef{});
  TORCH_CHECK(grad_out.device() == x.device(), op, ": grad_out is on ", grad_out.device(), " but x is on ",
              x.device());
}

}  // namespace strand::kernels
