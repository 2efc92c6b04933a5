// strand::mlstm_parallel, mlstm_chunkwise and mlstm_step with ATen ops (mlstm.h); differentiable
// by ATen autograd. Gate and state arithmetic in at least float32.
#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/mlstm/mlstm.h"

namespace strand {
namespace {

void check_inputs(const char* op, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                  const at::Tensor& f) {
  TORCH_CHECK(q.dim() == 4 && k.sizes() == q.sizes(), op, ": q and k must be (batch, heads, S, d_qk) of one shape");
  TORCH_CHECK(v.dim() == 4 && v.size(0) == q.size(0) && v.size(1) == q.size(1) && v.size(2) == q.size(2), op,
              ": v must be (batch, heads, S, d_v) with q's batch, heads and S");
  TORCH_CHECK(i.dim() == 3 && f.sizes() == i.sizes() && i.size(0) == q.size(0) && i.size(1) == q.size(1) &&
                  i.size(2) == q.size(2),
              op, ": i and f must be (batch, heads, S)");
  TORCH_CHECK(q.size(2) >= 1, op, ": S must be at least 1");
  TORCH_CHECK(at::isFloatingType(q.scalar_type()), op, ": floating tensors expected");
  for (const at::Tensor* t : {&k, &v, &i, &f})
    TORCH_CHECK(t->scalar_type() == q.scalar_type() && t->device() == q.device(), op,
                ": every tensor must share q's dtype and device");
}

/// The dtype gate and state arithmetic runs in: float64 stays, anything else becomes float32.
at::ScalarType compute_type(const at::Tensor& q) {
  return q.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

/// Strictly-upper (s > t) positions of an (L, L) matrix, for masking.
at::Tensor future_mask(int64_t L, const at::Device& device) {
  return at::ones({L, L}, at::TensorOptions().dtype(at::kBool).device(device)).triu(1);
}

}  // namespace

at::Tensor mlstm_parallel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                          const at::Tensor& f) {
  check_inputs("mlstm_parallel", q, k, v, i, f);
  const auto ct = compute_type(q);
  const int64_t S = q.size(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  const at::Tensor lf = at::log_sigmoid(f.to(ct));
  const at::Tensor F = lf.cumsum(-1);  // (B, H, S)
  at::Tensor log_d = F.unsqueeze(-1) - F.unsqueeze(-2) + i.to(ct).unsqueeze(-2);  // (B, H, t, s)
  log_d = log_d.masked_fill(future_mask(S, q.device()), -std::numeric_limits<double>::infinity());
  // The zero initial state contributes F_t to the stabiliser, as in the recurrence (m_0 = 0).
  const at::Tensor m = at::maximum(std::get<0>(log_d.max(-1)), F);  // (B, H, S)
  const at::Tensor weights = (q.to(ct) * scale).matmul(k.to(ct).transpose(-1, -2)) * at::exp(log_d - m.unsqueeze(-1));
  const at::Tensor den = at::maximum(weights.sum(-1).abs(), at::exp(-m)) + kMlstmEps;
  return (weights / den.unsqueeze(-1)).matmul(v.to(ct)).to(q.scalar_type());
}

at::Tensor mlstm_chunkwise(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                           const at::Tensor& f, const MlstmState& initial, MlstmState* last, int64_t chunk_size) {
  check_inputs("mlstm_chunkwise", q, k, v, i, f);
  TORCH_CHECK(chunk_size >= 1, "mlstm_chunkwise: chunk_size must be at least 1, found ", chunk_size);
  const auto ct = compute_type(q);
  const int64_t B = q.size(0), H = q.size(1), S = q.size(2), Dk = q.size(3), Dv = v.size(3);
  const auto opt = q.options().dtype(ct);
  const double scale = 1.0 / std::sqrt(static_cast<double>(Dk));
  at::Tensor C = initial.C.defined() ? initial.C.to(ct) : at::zeros({B, H, Dk, Dv}, opt);
  at::Tensor n = initial.n.defined() ? initial.n.to(ct) : at::zeros({B, H, Dk}, opt);
  at::Tensor m = initial.m.defined() ? initial.m.to(ct) : at::zeros({B, H}, opt);
  TORCH_CHECK(C.sizes() == at::IntArrayRef({B, H, Dk, Dv}) && n.sizes() == at::IntArrayRef({B, H, Dk}) &&
                  m.sizes() == at::IntArrayRef({B, H}),
              "mlstm_chunkwise: the initial state must be C (batch, heads, d_qk, d_v), n (batch, heads, d_qk), "
              "m (batch, heads)");
  const at::Tensor qs = q.to(ct) * scale, kc = k.to(ct), vc = v.to(ct), ic = i.to(ct);
  const at::Tensor lf_all = at::log_sigmoid(f.to(ct));
  std::vector<at::Tensor> outputs;
  for (int64_t start = 0; start < S; start += chunk_size) {
    const int64_t L = std::min(chunk_size, S - start);
    const at::Tensor qk = qs.narrow(2, start, L), kk = kc.narrow(2, start, L), vk = vc.narrow(2, start, L);
    const at::Tensor ik = ic.narrow(2, start, L);
    const at::Tensor b = lf_all.narrow(2, start, L).cumsum(-1);  // local cumulative log forget gates
    const at::Tensor g = b.select(-1, L - 1);                   // the chunk's total decay (B, H)
    // Outputs: the state at the chunk start (inter) and the chunk's own inputs (intra).
    at::Tensor log_d = b.unsqueeze(-1) - b.unsqueeze(-2) + ik.unsqueeze(-2);
    log_d = log_d.masked_fill(future_mask(L, q.device()), -std::numeric_limits<double>::infinity());
    const at::Tensor m_inter = b + m.unsqueeze(-1);
    const at::Tensor m_comb = at::maximum(m_inter, std::get<0>(log_d.max(-1)));
    const at::Tensor inter = at::exp(m_inter - m_comb);
    const at::Tensor weights = qk.matmul(kk.transpose(-1, -2)) * at::exp(log_d - m_comb.unsqueeze(-1));
    const at::Tensor num = inter.unsqueeze(-1) * qk.matmul(C) + weights.matmul(vk);
    const at::Tensor den = inter * (qk * n.unsqueeze(-2)).sum(-1) + weights.sum(-1);
    outputs.push_back(num / (at::maximum(den.abs(), at::exp(-m_comb)) + kMlstmEps).unsqueeze(-1));
    // The state at the chunk end.
    const at::Tensor a = g.unsqueeze(-1) - b + ik;  // log weight of each input carried to the end
    const at::Tensor m_new = at::maximum(g + m, std::get<0>(a.max(-1)));
    const at::Tensor decay = at::exp(g + m - m_new);
    const at::Tensor w = at::exp(a - m_new.unsqueeze(-1)).unsqueeze(-1) * kk;  // (B, H, L, d_qk)
    C = decay.unsqueeze(-1).unsqueeze(-1) * C + w.transpose(-1, -2).matmul(vk);
    n = decay.unsqueeze(-1) * n + w.sum(-2);
    m = m_new;
  }
  if (last != nullptr) *last = {C.to(q.scalar_type()), n.to(q.scalar_type()), m.to(q.scalar_type())};
  return at::cat(outputs, 2).to(q.scalar_type());
}

at::Tensor mlstm_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                      const at::Tensor& f, MlstmState& state) {
  TORCH_CHECK(q.dim() == 3 && k.sizes() == q.sizes() && v.dim() == 3 && v.size(0) == q.size(0) &&
                  v.size(1) == q.size(1) && i.dim() == 2 && f.sizes() == i.sizes() && i.size(0) == q.size(0) &&
                  i.size(1) == q.size(1),
              "mlstm_step: q, k (batch, heads, d_qk), v (batch, heads, d_v), i, f (batch, heads) expected");
  const auto ct = compute_type(q);
  const int64_t B = q.size(0), H = q.size(1), Dk = q.size(2), Dv = v.size(2);
  const auto opt = q.options().dtype(ct);
  const at::Tensor C = state.C.defined() ? state.C.to(ct) : at::zeros({B, H, Dk, Dv}, opt);
  const at::Tensor n = state.n.defined() ? state.n.to(ct) : at::zeros({B, H, Dk}, opt);
  const at::Tensor m = state.m.defined() ? state.m.to(ct) : at::zeros({B, H}, opt);
  const at::Tensor lf = at::log_sigmoid(f.to(ct));
  const at::Tensor m_new = at::maximum(lf + m, i.to(ct));
  const at::Tensor fa = at::exp(lf + m - m_new), ia = at::exp(i.to(ct) - m_new);
  const at::Tensor kc = k.to(ct);
  const at::Tensor C_new = fa.unsqueeze(-1).unsqueeze(-1) * C + (ia.unsqueeze(-1) * kc).unsqueeze(-1) * v.to(ct).unsqueeze(-2);
  const at::Tensor n_new = fa.unsqueeze(-1) * n + ia.unsqueeze(-1) * kc;
  const at::Tensor qs = q.to(ct) / std::sqrt(static_cast<double>(Dk));
  const at::Tensor num = qs.unsqueeze(-2).matmul(C_new).squeeze(-2);
  const at::Tensor den = (qs * n_new).sum(-1);
  state = {C_new, n_new, m_new};
  return (num / (at::maximum(den.abs(), at::exp(-m_new)) + kMlstmEps).unsqueeze(-1)).to(q.scalar_type());
}

}  // namespace strand
