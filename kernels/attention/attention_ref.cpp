// Reference: written from softmax(scale * q k^T + mask) v as defined in attention.h, one query row
// at a time in double, with its own index arithmetic and no helpers shared with the kernels, so
// that it can catch a bug in them.
#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "kernels/attention/attention.h"

namespace strand {

at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& key_padding_mask, bool causal, double scale, int64_t q_offset) {
  TORCH_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4, "attention_reference: q, k, v must be 4-D");
  TORCH_CHECK(at::isFloatingType(q.scalar_type()), "attention_reference: q must be floating point");
  const int64_t batch = q.size(0), heads = q.size(1), len_q = q.size(2), dim = q.size(3);
  const int64_t len_k = k.size(2);
  TORCH_CHECK(k.size(0) == batch && k.size(1) == heads && k.size(3) == dim && v.sizes() == k.sizes(),
              "attention_reference: k and v must be (", batch, ", ", heads, ", Lk, ", dim, ")");
  TORCH_CHECK(q_offset >= 0, "attention_reference: q_offset must be >= 0");
  const bool has_mask = key_padding_mask.defined();
  if (has_mask) {
    TORCH_CHECK(key_padding_mask.dim() == 2 && key_padding_mask.size(0) == batch && key_padding_mask.size(1) == len_k &&
                    key_padding_mask.scalar_type() == at::kBool,
                "attention_reference: key_padding_mask must be (batch, Lk) bool");
  }
  const auto qd = q.to(at::kCPU, at::kDouble).contiguous();
  const auto kd = k.to(at::kCPU, at::kDouble).contiguous();
  const auto vd = v.to(at::kCPU, at::kDouble).contiguous();
  const auto md = has_mask ? key_padding_mask.to(at::kCPU).contiguous() : at::Tensor();
  auto out = at::zeros({batch, heads, len_q, dim}, qd.options());
  const auto qa = qd.accessor<double, 4>();
  const auto ka = kd.accessor<double, 4>();
  const auto va = vd.accessor<double, 4>();
  auto oa = out.accessor<double, 4>();
  const bool* real_token = has_mask ? md.data_ptr<bool>() : nullptr;  // (batch, Lk) row-major

  std::vector<double> score(static_cast<size_t>(len_k));
  std::vector<char> visible(static_cast<size_t>(len_k));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t h = 0; h < heads; ++h) {
      for (int64_t i = 0; i < len_q; ++i) {
        bool any = false;
        double max_score = 0.0;
        for (int64_t j = 0; j < len_k; ++j) {
          const bool padded = has_mask && !real_token[b * len_k + j];
          const bool in_future = causal && j > q_offset + i;
          visible[j] = !padded && !in_future;
          if (!visible[j]) continue;
          double dot = 0.0;
          for (int64_t d = 0; d < dim; ++d) dot += qa[b][h][i][d] * ka[b][h][j][d];
          score[j] = scale * dot;
          max_score = any ? std::max(max_score, score[j]) : score[j];
          any = true;
        }
        if (!any) continue;  // the row stays zero
        double denominator = 0.0;
        for (int64_t j = 0; j < len_k; ++j) {
          if (visible[j]) denominator += std::exp(score[j] - max_score);
        }
        for (int64_t j = 0; j < len_k; ++j) {
          if (!visible[j]) continue;
          const double p = std::exp(score[j] - max_score) / denominator;
          for (int64_t d = 0; d < dim; ++d) oa[b][h][i][d] += p * va[b][h][j][d];
        }
      }
    }
  }
  return out.to(q.scalar_type());
}

}  // namespace strand
