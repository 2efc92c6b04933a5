// strand::mlstm_reference: the stabilised mLSTM recurrence (mlstm.h) in loops, in double.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/mlstm/mlstm.h"

namespace strand {
namespace {

double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }

}  // namespace

at::Tensor mlstm_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                           const at::Tensor& f, const MlstmState& initial, MlstmState* last) {
  TORCH_CHECK(q.dim() == 4 && k.sizes() == q.sizes() && v.dim() == 4 && v.size(0) == q.size(0) &&
                  v.size(1) == q.size(1) && v.size(2) == q.size(2),
              "mlstm_reference: q, k must be (batch, heads, S, d_qk) and v (batch, heads, S, d_v)");
  TORCH_CHECK(i.dim() == 3 && f.sizes() == i.sizes() && i.size(0) == q.size(0) && i.size(1) == q.size(1) &&
                  i.size(2) == q.size(2),
              "mlstm_reference: i and f must be (batch, heads, S)");
  const int64_t B = q.size(0), H = q.size(1), S = q.size(2), Dk = q.size(3), Dv = v.size(3);
  const auto opt = at::TensorOptions().dtype(at::kDouble);
  const auto qd = q.to(at::kDouble).contiguous(), kd = k.to(at::kDouble).contiguous(), vd = v.to(at::kDouble).contiguous();
  const auto id = i.to(at::kDouble).contiguous(), fd = f.to(at::kDouble).contiguous();
  at::Tensor C = initial.C.defined() ? initial.C.to(at::kDouble).contiguous().clone() : at::zeros({B, H, Dk, Dv}, opt);
  at::Tensor n = initial.n.defined() ? initial.n.to(at::kDouble).contiguous().clone() : at::zeros({B, H, Dk}, opt);
  at::Tensor m = initial.m.defined() ? initial.m.to(at::kDouble).contiguous().clone() : at::zeros({B, H}, opt);
  at::Tensor h = at::zeros({B, H, S, Dv}, opt);
  const auto Q = qd.accessor<double, 4>(), K = kd.accessor<double, 4>(), V = vd.accessor<double, 4>();
  const auto I = id.accessor<double, 3>(), F = fd.accessor<double, 3>();
  auto Ca = C.accessor<double, 4>();
  auto na = n.accessor<double, 3>();
  auto ma = m.accessor<double, 2>();
  auto ha = h.accessor<double, 4>();
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dk));
  std::vector<double> num(static_cast<size_t>(Dv));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t hh = 0; hh < H; ++hh)
      for (int64_t t = 0; t < S; ++t) {
        const double lf = log_sigmoid(F[b][hh][t]);
        const double m_new = std::max(lf + ma[b][hh], I[b][hh][t]);
        const double fa = std::exp(lf + ma[b][hh] - m_new);
        const double ia = std::exp(I[b][hh][t] - m_new);
        double den = 0;
        std::fill(num.begin(), num.end(), 0.0);
        for (int64_t a = 0; a < Dk; ++a) {
          na[b][hh][a] = fa * na[b][hh][a] + ia * K[b][hh][t][a];
          const double qs = scale * Q[b][hh][t][a];
          den += qs * na[b][hh][a];
          for (int64_t c = 0; c < Dv; ++c) {
            Ca[b][hh][a][c] = fa * Ca[b][hh][a][c] + ia * K[b][hh][t][a] * V[b][hh][t][c];
            num[static_cast<size_t>(c)] += qs * Ca[b][hh][a][c];
          }
        }
        const double denom = std::max(std::abs(den), std::exp(-m_new)) + kMlstmEps;
        for (int64_t c = 0; c < Dv; ++c) ha[b][hh][t][c] = num[static_cast<size_t>(c)] / denom;
        ma[b][hh] = m_new;
      }
  if (last != nullptr) *last = {C.to(q.scalar_type()), n.to(q.scalar_type()), m.to(q.scalar_type())};
  return h.to(q.scalar_type());
}

}  // namespace strand
