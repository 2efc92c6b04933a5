// strand::slstm_forward: the sLSTM recurrence (slstm.h) with ATen ops, one batched matmul per
// time step for the block-diagonal recurrence; differentiable by ATen autograd.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <vector>

#include "kernels/slstm/slstm.h"

namespace strand {

at::Tensor slstm_forward(const at::Tensor& wx, const at::Tensor& R, const at::Tensor& bias, const SlstmState& initial,
                         SlstmState* last) {
  TORCH_CHECK(wx.dim() == 5 && wx.size(2) == 4, "slstm_forward: wx must be (batch, T, 4, heads, head_dim)");
  const int64_t B = wx.size(0), T = wx.size(1), N = wx.size(3), D = wx.size(4);
  TORCH_CHECK(T >= 1, "slstm_forward: T must be at least 1");
  TORCH_CHECK(R.sizes() == at::IntArrayRef({N, D, 4, D}), "slstm_forward: R must be (heads, head_dim, 4, head_dim)");
  TORCH_CHECK(bias.sizes() == at::IntArrayRef({4, N, D}), "slstm_forward: bias must be (4, heads, head_dim)");
  TORCH_CHECK(at::isFloatingType(wx.scalar_type()) && R.scalar_type() == wx.scalar_type() &&
                  bias.scalar_type() == wx.scalar_type() && R.device() == wx.device() && bias.device() == wx.device(),
              "slstm_forward: wx, R and bias must share a floating dtype and device");
  const auto ct = wx.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto opt = wx.options().dtype(ct);
  const auto state = [&](const at::Tensor& t) {
    if (!t.defined()) return at::zeros({B, N, D}, opt);
    TORCH_CHECK(t.sizes() == at::IntArrayRef({B, N, D}), "slstm_forward: state tensors must be (batch, heads, head_dim)");
    return t.to(ct);
  };
  at::Tensor h = state(initial.h), c = state(initial.c), n = state(initial.n), m = state(initial.m);
  // Recurrent kernel as (heads, head_dim, 4 * head_dim) for one bmm per step over heads.
  const at::Tensor Rm = R.to(ct).reshape({N, D, 4 * D});
  // Input projections plus bias, as (T, heads, batch, 4, head_dim).
  const at::Tensor xb = (wx.to(ct) + bias.to(ct).unsqueeze(0).unsqueeze(0)).permute({1, 3, 0, 2, 4});
  std::vector<at::Tensor> outputs;
  outputs.reserve(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    const at::Tensor rec = at::bmm(h.transpose(0, 1), Rm).view({N, B, 4, D});  // (heads, batch, 4, head_dim)
    const at::Tensor g = (xb[t] + rec).permute({2, 1, 0, 3});                 // (4, batch, heads, head_dim)
    const at::Tensor gi = g[0], gf = g[1], gz = g[2], go = g[3];
    const at::Tensor lf = at::log_sigmoid(gf);
    const at::Tensor m_new = at::where(n == 0, gi, at::maximum(lf + m, gi));
    const at::Tensor ig = at::clamp_max(at::exp(gi - m_new), 1.0);
    const at::Tensor fg = at::clamp_max(at::exp(lf + m - m_new), 1.0);
    c = fg * c + ig * at::tanh(gz);
    n = fg * n + ig;
    m = m_new;
    h = at::sigmoid(go) * c / n;
    outputs.push_back(h);
  }
  if (last != nullptr) *last = {h.to(wx.scalar_type()), c.to(wx.scalar_type()), n.to(wx.scalar_type()), m.to(wx.scalar_type())};
  return at::stack(outputs, 1).to(wx.scalar_type());
}

}  // namespace strand
