// Materialised attention with ATen ops: the benchmark baseline, the path for devices without a
// strand kernel, and (from the saved logsumexp) the CUDA backward.
#include <ATen/ATen.h>

#include <limits>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"

namespace strand {
namespace {

/// Bool mask of visible (query, key) pairs broadcastable to (batch, heads, Lq, Lk), or an
/// undefined tensor when every key is visible to every query.
at::Tensor visible_pairs(const at::Tensor& q, const at::Tensor& k, const compat::optional<at::Tensor>& mask,
                         bool causal, int64_t q_offset) {
  const int64_t len_q = q.size(2), len_k = k.size(2);
  at::Tensor visible;
  if (causal) {
    const auto positions = at::TensorOptions().dtype(at::kLong).device(q.device());
    const auto query_pos = at::arange(q_offset, q_offset + len_q, positions).view({len_q, 1});
    const auto key_pos = at::arange(len_k, positions).view({1, len_k});
    visible = key_pos.le(query_pos).view({1, 1, len_q, len_k});
  }
  if (mask.has_value() && mask->defined()) {
    const auto real = mask->view({q.size(0), 1, 1, len_k});
    visible = visible.defined() ? visible.logical_and(real) : real;
  }
  return visible;
}

}  // namespace

at::Tensor attention_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& key_padding_mask, bool causal, double scale, int64_t q_offset) {
  const compat::optional<at::Tensor> mask =
      key_padding_mask.defined() ? compat::optional<at::Tensor>(key_padding_mask) : compat::nullopt;
  kernels::check_attention_args("attention_naive", q, k, v, mask, scale, q_offset);
  // Scaling q rather than the scores keeps one (Lq, Lk) matrix fewer alive.
  const auto scores = at::matmul(q.mul(scale), k.transpose(-2, -1));
  const auto visible = visible_pairs(q, k, mask, causal, q_offset);
  if (!visible.defined()) return at::matmul(at::softmax(scores, -1), v);
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  const bool has_mask = mask.has_value() && mask->defined();
  // Without a padding mask every causal row sees key 0 (q_offset >= 0), so no row is empty.
  if (!has_mask && k.size(2) > 0)
    return at::matmul(at::softmax(scores.masked_fill(visible.logical_not(), kNegInf), -1), v);
  // A row without visible keys is given all its keys for the softmax (so neither the softmax nor
  // its gradient sees a row of -inf, which would give NaN) and then zeroed.
  const auto row_empty = visible.any(-1, /*keepdim=*/true).logical_not();
  const auto softmax_keys = visible.logical_or(row_empty);
  const auto probs =
      at::softmax(scores.masked_fill(softmax_keys.logical_not(), kNegInf), -1).masked_fill(visible.logical_not(), 0.0);
  return at::matmul(probs, v);
}

namespace kernels {

std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_backward_materialised(
    const at::Tensor& grad_out, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
    const compat::optional<at::Tensor>& mask, const at::Tensor& out, const at::Tensor& logsumexp, bool causal,
    double scale, int64_t q_offset) {
  check_attention_args("attention backward", q, k, v, mask, scale, q_offset);
  TORCH_CHECK(grad_out.sizes() == q.sizes() && out.sizes() == q.sizes(),
              "attention backward: grad_out and out must have q's shape ", q.sizes());
  const auto scores = at::matmul(q.mul(scale), k.transpose(-2, -1));
  // logsumexp is +inf on rows without visible keys, so their probabilities are exp(-inf) = 0.
  auto probs = at::exp(scores - logsumexp.unsqueeze(-1));
  const auto visible = visible_pairs(q, k, mask, causal, q_offset);
  if (visible.defined()) probs = probs.masked_fill(visible.logical_not(), 0.0);
  const auto grad_v = at::matmul(probs.transpose(-2, -1), grad_out);
  const auto grad_probs = at::matmul(grad_out, v.transpose(-2, -1));
  // dS = P * (dP - D) with D_i = sum_d dO_id O_id (= sum_j P_ij dP_ij), as in the FlashAttention-2 backward.
  const auto delta = (grad_out * out).sum(-1, /*keepdim=*/true);
  const auto grad_scores = probs * (grad_probs - delta);
  const auto grad_q = at::matmul(grad_scores, k).mul(scale);
  const auto grad_k = at::matmul(grad_scores.transpose(-2, -1), q).mul(scale);
  return {grad_q, grad_k, grad_v};
}

}  // namespace kernels
}  // namespace strand
