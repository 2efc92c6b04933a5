// Pieces shared by the files of kernels/attention (host side, LibTorch allowed). Not a public API.
//
// Internal ops, registered by attention_def.cpp:
//   strand::_attention_forward(q, k, v, mask?, causal, scale, q_offset) -> (out, logsumexp)
//   strand::_attention_backward(grad_out, q, k, v, mask?, out, logsumexp, causal, scale, q_offset)
//       -> (grad_q, grad_k, grad_v)
// logsumexp is (batch, heads, Lq) in the dtype of q: log sum_j exp(s_ij) over the visible keys
// of row i, with s_ij = scale * q_i . k_j. A row without visible keys stores +infinity, so that
// the backward's p_ij = exp(s_ij - logsumexp_i) is 0 there without a special case.
#pragma once

#include <ATen/ATen.h>

#include <cmath>
#include <tuple>

#include "kernels/common/device.h"
#include "kernels/common/torch_compat.h"

namespace strand::kernels {

/// Checks ranks, matching sizes, dtypes, devices and the mask of attention arguments (not which
/// dtypes a device supports: each implementation checks that). `op` names the caller in messages.
inline void check_attention_args(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                 const compat::optional<at::Tensor>& mask, double scale, int64_t q_offset) {
  TORCH_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v must be defined tensors");
  TORCH_CHECK(q.dim() == 4, op, ": q must be (batch, heads, Lq, head_dim), got ", q.sizes());
  TORCH_CHECK(k.dim() == 4, op, ": k must be (batch, heads, Lk, head_dim), got ", k.sizes());
  TORCH_CHECK(v.dim() == 4, op, ": v must be (batch, heads, Lk, head_dim), got ", v.sizes());
  TORCH_CHECK(k.size(0) == q.size(0) && v.size(0) == q.size(0), op, ": batch sizes differ: q ", q.sizes(), ", k ",
              k.sizes(), ", v ", v.sizes());
  TORCH_CHECK(k.size(1) == q.size(1) && v.size(1) == q.size(1), op, ": head counts differ: q ", q.sizes(), ", k ",
              k.sizes(), ", v ", v.sizes());
  TORCH_CHECK(v.size(2) == k.size(2), op, ": k and v lengths differ: k ", k.sizes(), ", v ", v.sizes());
  TORCH_CHECK(k.size(3) == q.size(3) && v.size(3) == q.size(3), op, ": head_dim differs: q ", q.sizes(), ", k ",
              k.sizes(), ", v ", v.sizes());
  TORCH_CHECK(at::isFloatingType(q.scalar_type()), op, ": q must be a floating-point tensor, got ", q.scalar_type());
  TORCH_CHECK(k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type(), op,
              ": q, k and v must share one dtype, got ", q.scalar_type(), ", ", k.scalar_type(), ", ", v.scalar_type());
  TORCH_CHECK(k.device() == q.device() && v.device() == q.device(), op, ": q, k and v must be on one device, got ",
              q.device(), ", ", k.device(), ", ", v.device());
  if (mask.has_value() && mask->defined()) {
    const at::Tensor& m = *mask;
    TORCH_CHECK(m.dim() == 2 && m.size(0) == q.size(0) && m.size(1) == k.size(2), op,
                ": key_padding_mask must be (batch, Lk) = (", q.size(0), ", ", k.size(2), "), got ", m.sizes());
    TORCH_CHECK(m.scalar_type() == at::kBool, op, ": key_padding_mask must be bool (true = real token), got ",
                m.scalar_type());
    TORCH_CHECK(m.device() == q.device(), op, ": key_padding_mask is on ", m.device(), " but q is on ", q.device());
  }
  TORCH_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);
  TORCH_CHECK(q_offset >= 0, op, ": q_offset must be >= 0, got ", q_offset);
}

/// The CPU kernel's forward and backward on one instruction-set path (`isa` at most cpu_isa();
/// the registered ops use cpu_isa()): exposed so that tests check every compiled path.
std::tuple<at::Tensor, at::Tensor> attention_forward_cpu(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                                                         const compat::optional<at::Tensor>& mask, bool causal,
                                                         double scale, int64_t q_offset, CpuIsa isa);
std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_backward_cpu(
    const at::Tensor& grad_out, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const compat::optional<at::Tensor>& mask, const at::Tensor& out, const at::Tensor& logsumexp, bool causal,
    double scale, int64_t q_offset, CpuIsa isa);

/// Backward from the saved logsumexp with the probabilities materialised by ATen ops
/// (O(Lq * Lk) memory per (batch, head)); any device. The CUDA backward of strand::attention.
std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_backward_materialised(
    const at::Tensor& grad_out, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const compat::optional<at::Tensor>& mask, const at::Tensor& out, const at::Tensor& logsumexp, bool causal,
    double scale, int64_t q_offset);

}  // namespace strand::kernels
