// strand::slstm_reference: the sLSTM recurrence (slstm.h) in loops, in double.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/slstm/slstm.h"

namespace strand {
namespace {

double log_sigmoid(double x) { return x >= 0 ? -std::log1p(std::exp(-x)) : x - std::log1p(std::exp(x)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

at::Tensor state_or_zero(const at::Tensor& t, int64_t B, int64_t N, int64_t D) {
  if (t.defined()) {
    TORCH_CHECK(t.sizes() == at::IntArrayRef({B, N, D}), "slstm: state tensors must be (batch, heads, head_dim)");
    return t.to(at::kDouble).contiguous().clone();
  }
  return at::zeros({B, N, D}, at::TensorOptions().dtype(at::kDouble));
}

}  // namespace

at::Tensor slstm_reference(const at::Tensor& wx, const at::Tensor& R, const at::Tensor& bias, const SlstmState& initial,
                           SlstmState* last) {
  TORCH_CHECK(wx.dim() == 5 && wx.size(2) == 4, "slstm_reference: wx must be (batch, T, 4, heads, head_dim)");
  const int64_t B = wx.size(0), T = wx.size(1), N = wx.size(3), D = wx.size(4);
  TORCH_CHECK(R.sizes() == at::IntArrayRef({N, D, 4, D}), "slstm_reference: R must be (heads, head_dim, 4, head_dim)");
  TORCH_CHECK(bias.sizes() == at::IntArrayRef({4, N, D}), "slstm_reference: bias must be (4, heads, head_dim)");
  const auto X = wx.to(at::kDouble).contiguous();
  const auto Rd = R.to(at::kDouble).contiguous();
  const auto bd = bias.to(at::kDouble).contiguous();
  at::Tensor h = state_or_zero(initial.h, B, N, D), c = state_or_zero(initial.c, B, N, D);
  at::Tensor n = state_or_zero(initial.n, B, N, D), m = state_or_zero(initial.m, B, N, D);
  at::Tensor out = at::zeros({B, T, N, D}, at::TensorOptions().dtype(at::kDouble));
  const auto x = X.accessor<double, 5>();
  const auto r = Rd.accessor<double, 4>();
  const auto bb = bd.accessor<double, 3>();
  auto ha = h.accessor<double, 3>(), ca = c.accessor<double, 3>(), na = n.accessor<double, 3>(), ma = m.accessor<double, 3>();
  auto oa = out.accessor<double, 4>();
  std::vector<double> gates(static_cast<size_t>(4 * N * D));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      // Every gate from the previous h (all units) before any unit is updated.
      for (int64_t g = 0; g < 4; ++g)
        for (int64_t hh = 0; hh < N; ++hh)
          for (int64_t d = 0; d < D; ++d) {
            double s = x[b][t][g][hh][d] + bb[g][hh][d];
            for (int64_t j = 0; j < D; ++j) s += ha[b][hh][j] * r[hh][j][g][d];
            gates[static_cast<size_t>((g * N + hh) * D + d)] = s;
          }
      for (int64_t hh = 0; hh < N; ++hh)
        for (int64_t d = 0; d < D; ++d) {
          const double gi = gates[static_cast<size_t>((0 * N + hh) * D + d)];
          const double gf = gates[static_cast<size_t>((1 * N + hh) * D + d)];
          const double gz = gates[static_cast<size_t>((2 * N + hh) * D + d)];
          const double go = gates[static_cast<size_t>((3 * N + hh) * D + d)];
          const double lf = log_sigmoid(gf);
          const double m_prev = ma[b][hh][d];
          const double m_new = na[b][hh][d] == 0.0 ? gi : std::max(lf + m_prev, gi);
          const double ig = std::min(1.0, std::exp(gi - m_new));
          const double fg = std::min(1.0, std::exp(lf + m_prev - m_new));
          ca[b][hh][d] = fg * ca[b][hh][d] + ig * std::tanh(gz);
          na[b][hh][d] = fg * na[b][hh][d] + ig;
          ma[b][hh][d] = m_new;
          oa[b][t][hh][d] = sigmoid(go) * ca[b][hh][d] / na[b][hh][d];
        }
      for (int64_t hh = 0; hh < N; ++hh)
        for (int64_t d = 0; d < D; ++d) ha[b][hh][d] = oa[b][t][hh][d];
    }
  const auto type = wx.scalar_type();
  if (last != nullptr) *last = {h.to(type), c.to(type), n.to(type), m.to(type)};
  return out.to(type);
}

}  // namespace strand
