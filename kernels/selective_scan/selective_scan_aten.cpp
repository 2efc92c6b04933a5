// The framework-level selective scan, formulated as mamba_ssm's selective_scan_ref does it
// (Gu & Dao 2023): exp(delta * A) and delta * B * u are materialised as (batch, dim, L, N)
// tensors, then a loop over time with ATen ops. Differentiable by ATen autograd, on any device.
// The baseline of bench/bench_selective_scan and the path for devices without a strand kernel.
#include <ATen/ATen.h>

#include <vector>

#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"

namespace strand {

std::tuple<at::Tensor, at::Tensor> selective_scan_aten(const at::Tensor& u_in, const at::Tensor& delta_in,
                                                       const at::Tensor& A_in, const at::Tensor& B_in,
                                                       const at::Tensor& C_in, const at::Tensor& D_in,
                                                       const at::Tensor& z_in, const at::Tensor& delta_bias_in,
                                                       bool delta_softplus, const at::Tensor& initial_state_in,
                                                       bool return_last_state) {
  const auto s = kernels::check_selective_scan_args("selective_scan_aten", u_in, delta_in, A_in, B_in, C_in, D_in,
                                                    z_in, delta_bias_in, initial_state_in);
  // Half and bfloat16 inputs are computed in float32, as mamba_ssm does.
  const auto compute = u_in.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto up = [compute](const at::Tensor& t) { return t.defined() ? t.to(compute) : t; };
  const auto u = up(u_in), A = up(A_in);
  auto delta = up(delta_in);
  if (delta_bias_in.defined()) delta = delta + up(delta_bias_in).unsqueeze(-1);
  if (delta_softplus) delta = at::softplus(delta);

  // B and C as (batch, dim or 1, L, N): a group's matrices repeated over its channels.
  const auto per_channel = [&](const at::Tensor& t) {
    const auto x = up(t);
    if (x.dim() == 3) return x.transpose(1, 2).unsqueeze(1);
    const int64_t per_group = s.dim / s.groups;
    return x.unsqueeze(2)
        .expand({s.batch, s.groups, per_group, s.dstate, s.len})
        .reshape({s.batch, s.dim, s.dstate, s.len})
        .transpose(2, 3);
  };
  const auto Bc = per_channel(B_in), Cc = per_channel(C_in);
  const auto deltaA = at::exp(delta.unsqueeze(-1) * A.unsqueeze(1));      // (batch, dim, L, N)
  const auto deltaB_u = (delta * u).unsqueeze(-1) * Bc;                   // (batch, dim, L, N)

  auto h = initial_state_in.defined() ? up(initial_state_in) : at::zeros({s.batch, s.dim, s.dstate}, u.options());
  // Steps as views from unbind rather than one index per step: autograd then stacks the step
  // gradients once, where indexing would scatter each into a full-size zero tensor (quadratic in L).
  const auto deltaA_steps = deltaA.unbind(2), deltaB_u_steps = deltaB_u.unbind(2), C_steps = Cc.unbind(2);
  std::vector<at::Tensor> ys;
  ys.reserve(static_cast<size_t>(s.len));
  for (int64_t t = 0; t < s.len; ++t) {
    h = deltaA_steps[t] * h + deltaB_u_steps[t];
    ys.push_back((h * C_steps[t]).sum(-1));
  }
  auto out = s.len > 0 ? at::stack(ys, 2) : at::zeros({s.batch, s.dim, 0}, u.options());
  if (D_in.defined()) out = out + u * up(D_in).unsqueeze(-1);
  if (z_in.defined()) out = out * at::silu(up(z_in));
  return {out.to(u_in.scalar_type()), return_last_state ? h : at::Tensor()};
}

}  // namespace strand
