// Reference: written from the recurrence in selective_scan.h, one (batch, channel, state) triple
// at a time in double, with its own index arithmetic and no helpers shared with the kernels, so
// that it can catch a bug in them.
#include <ATen/ATen.h>

#include <cmath>
#include <vector>

#include "kernels/selective_scan/selective_scan.h"

namespace strand {

std::tuple<at::Tensor, at::Tensor> selective_scan_reference(const at::Tensor& u, const at::Tensor& delta,
                                                            const at::Tensor& A, const at::Tensor& B,
                                                            const at::Tensor& C, const at::Tensor& D,
                                                            const at::Tensor& z, const at::Tensor& delta_bias,
                                                            bool delta_softplus, const at::Tensor& initial_state,
                                                            bool return_last_state) {
  TORCH_CHECK(u.dim() == 3 && delta.sizes() == u.sizes(),
              "selective_scan_reference: u and delta must be (batch, dim, L)");
  TORCH_CHECK(at::isFloatingType(u.scalar_type()), "selective_scan_reference: u must be floating point");
  const int64_t batch = u.size(0), dim = u.size(1), len = u.size(2);
  TORCH_CHECK(A.dim() == 2 && A.size(0) == dim, "selective_scan_reference: A must be (dim, N)");
  const int64_t dstate = A.size(1);
  TORCH_CHECK((B.dim() == 3 || B.dim() == 4) && C.sizes() == B.sizes(),
              "selective_scan_reference: B and C must be (batch, N, L) or (batch, G, N, L)");
  // Grouped form for both layouts: (batch, G, N, L).
  const auto Bd = (B.dim() == 3 ? B.unsqueeze(1) : B).to(at::kCPU, at::kDouble).contiguous();
  const auto Cd = (C.dim() == 3 ? C.unsqueeze(1) : C).to(at::kCPU, at::kDouble).contiguous();
  const int64_t groups = Bd.size(1);
  TORCH_CHECK(Bd.size(0) == batch && Bd.size(2) == dstate && Bd.size(3) == len && groups > 0 && dim % groups == 0,
              "selective_scan_reference: B must be (batch, N, L) or (batch, G, N, L) with dim % G == 0");
  TORCH_CHECK(!D.defined() || D.numel() == dim, "selective_scan_reference: D must be (dim)");
  TORCH_CHECK(!delta_bias.defined() || delta_bias.numel() == dim, "selective_scan_reference: delta_bias must be (dim)");
  TORCH_CHECK(!z.defined() || z.sizes() == u.sizes(), "selective_scan_reference: z must be (batch, dim, L)");
  TORCH_CHECK(!initial_state.defined() || initial_state.sizes() == at::IntArrayRef({batch, dim, dstate}),
              "selective_scan_reference: initial_state must be (batch, dim, N)");

  const auto to_double = [](const at::Tensor& t) { return t.to(at::kCPU, at::kDouble).contiguous(); };
  const auto ud = to_double(u), deltad = to_double(delta), Ad = to_double(A);
  const auto ua = ud.accessor<double, 3>(), da = deltad.accessor<double, 3>();
  const auto Aa = Ad.accessor<double, 2>();
  const auto Ba = Bd.accessor<double, 4>(), Ca = Cd.accessor<double, 4>();
  const at::Tensor Dd = D.defined() ? to_double(D) : at::Tensor();
  const at::Tensor zd = z.defined() ? to_double(z) : at::Tensor();
  const at::Tensor biasd = delta_bias.defined() ? to_double(delta_bias) : at::Tensor();
  const at::Tensor h0d = initial_state.defined() ? to_double(initial_state) : at::Tensor();
  // Row-major raw views of the optional inputs, nullptr when absent.
  const double* Dp = Dd.defined() ? Dd.data_ptr<double>() : nullptr;
  const double* zp = zd.defined() ? zd.data_ptr<double>() : nullptr;  // (batch, dim, L)
  const double* biasp = biasd.defined() ? biasd.data_ptr<double>() : nullptr;
  const double* h0p = h0d.defined() ? h0d.data_ptr<double>() : nullptr;  // (batch, dim, N)

  auto out = at::zeros({batch, dim, len}, ud.options());
  auto last = at::zeros({batch, dim, dstate}, ud.options());
  auto oa = out.accessor<double, 3>();
  auto la = last.accessor<double, 3>();
  const int64_t channels_per_group = dim / groups;
  std::vector<double> dt(static_cast<size_t>(len));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < dim; ++c) {
      const int64_t g = c / channels_per_group;
      for (int64_t t = 0; t < len; ++t) {
        double x = da[b][c][t] + (biasp != nullptr ? biasp[c] : 0.0);
        // softplus(x) = log(1 + exp(x)), and x above 20 (torch.nn.functional.softplus).
        if (delta_softplus) x = x > 20.0 ? x : std::log1p(std::exp(x));
        dt[t] = x;
      }
      for (int64_t n = 0; n < dstate; ++n) {
        double h = h0p != nullptr ? h0p[(b * dim + c) * dstate + n] : 0.0;
        for (int64_t t = 0; t < len; ++t) {
          h = std::exp(dt[t] * Aa[c][n]) * h + dt[t] * Ba[b][g][n][t] * ua[b][c][t];
          oa[b][c][t] += Ca[b][g][n][t] * h;
        }
        la[b][c][n] = h;
      }
      for (int64_t t = 0; t < len; ++t) {
        if (Dp != nullptr) oa[b][c][t] += Dp[c] * ua[b][c][t];
        if (zp != nullptr) {
          const double zv = zp[(b * dim + c) * len + t];
          oa[b][c][t] *= zv / (1.0 + std::exp(-zv));
        }
      }
    }
  }
  const auto dtype = u.scalar_type();
  return {out.to(dtype), return_last_state ? last.to(dtype) : at::Tensor()};
}

}  // namespace strand
