// Reference: the recurrence of kernels/ssd/ssd.h in plain loops, one (batch, head, channel) row
// at a time in double, with its own index arithmetic and activations and no helpers shared with
// ssd_chunked or the selective scan, so that it can catch a bug in them.
#include <ATen/ATen.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "kernels/ssd/ssd.h"

namespace strand {

std::tuple<at::Tensor, at::Tensor> ssd_reference(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                                 const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                                 const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                                 const at::Tensor& initial_state, bool return_final_state) {
  TORCH_CHECK(x.defined() && x.dim() == 4 && at::isFloatingType(x.scalar_type()),
              "ssd_reference: x must be a floating (batch, L, H, P) tensor");
  const int64_t batch = x.size(0), len = x.size(1), heads = x.size(2), hdim = x.size(3);
  TORCH_CHECK(B.defined() && B.dim() == 4 && C.defined() && C.sizes() == B.sizes(),
              "ssd_reference: B and C must be (batch, L, G, N)");
  const int64_t groups = B.size(2), nstate = B.size(3);
  TORCH_CHECK(groups >= 1 && heads % groups == 0, "ssd_reference: H must be a multiple of G");
  TORCH_CHECK(dt.sizes() == at::IntArrayRef({batch, len, heads}), "ssd_reference: dt must be (batch, L, H)");
  TORCH_CHECK(A.sizes() == at::IntArrayRef({heads}), "ssd_reference: A must be (H)");
  TORCH_CHECK(B.size(0) == batch && B.size(1) == len, "ssd_reference: B must be (batch, L, G, N)");
  TORCH_CHECK(!D.defined() || D.sizes() == at::IntArrayRef({heads}), "ssd_reference: D must be (H)");
  TORCH_CHECK(!dt_bias.defined() || dt_bias.sizes() == at::IntArrayRef({heads}), "ssd_reference: dt_bias must be (H)");
  TORCH_CHECK(!z.defined() || z.sizes() == x.sizes(), "ssd_reference: z must be (batch, L, H, P)");
  TORCH_CHECK(!initial_state.defined() || initial_state.sizes() == at::IntArrayRef({batch, heads, hdim, nstate}),
              "ssd_reference: initial_state must be (batch, H, P, N)");
  const auto as_double = [](const at::Tensor& t) {
    return t.defined() ? t.to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
  };
  const auto xd = as_double(x), dtd = as_double(dt), ad = as_double(A), bd = as_double(B), cd = as_double(C);
  const auto dd = as_double(D), zd = as_double(z), biasd = as_double(dt_bias), initd = as_double(initial_state);
  auto out = at::empty({batch, len, heads, hdim}, xd.options());
  auto final_state = at::empty({batch, heads, hdim, nstate}, xd.options());
  const double* xp = xd.data_ptr<double>();
  const double* dtp = dtd.data_ptr<double>();
  const double* ap = ad.data_ptr<double>();
  const double* bp = bd.data_ptr<double>();
  const double* cp = cd.data_ptr<double>();
  double* op = out.data_ptr<double>();
  double* fp = final_state.data_ptr<double>();
  // Row-major offsets of the (batch, L, H, P), (batch, L, H) and (batch, L, G, N) layouts.
  const auto x_at = [&](int64_t bb, int64_t t, int64_t h, int64_t pp) {
    return ((bb * len + t) * heads + h) * hdim + pp;
  };
  const auto bc_at = [&](int64_t bb, int64_t t, int64_t gg, int64_t nn) {
    return ((bb * len + t) * groups + gg) * nstate + nn;
  };
  std::vector<double> state(static_cast<size_t>(nstate));
  for (int64_t bb = 0; bb < batch; ++bb) {
    for (int64_t h = 0; h < heads; ++h) {
      const int64_t gg = h / (heads / groups);
      for (int64_t pp = 0; pp < hdim; ++pp) {
        for (int64_t nn = 0; nn < nstate; ++nn) {
          state[nn] = initd.defined() ? initd.data_ptr<double>()[((bb * heads + h) * hdim + pp) * nstate + nn] : 0.0;
        }
        for (int64_t t = 0; t < len; ++t) {
          double step = dtp[(bb * len + t) * heads + h] + (biasd.defined() ? biasd.data_ptr<double>()[h] : 0.0);
          if (dt_softplus) step = step > 20.0 ? step : std::log1p(std::exp(step));  // torch's threshold
          const double decay = std::exp(step * ap[h]);
          const double xv = xp[x_at(bb, t, h, pp)];
          double y = 0.0;
          for (int64_t nn = 0; nn < nstate; ++nn) {
            state[nn] = decay * state[nn] + step * xv * bp[bc_at(bb, t, gg, nn)];
            y += cp[bc_at(bb, t, gg, nn)] * state[nn];
          }
          if (dd.defined()) y += dd.data_ptr<double>()[h] * xv;
          if (zd.defined()) {
            const double zv = zd.data_ptr<double>()[x_at(bb, t, h, pp)];
            y *= zv / (1.0 + std::exp(-zv));
          }
          op[x_at(bb, t, h, pp)] = y;
        }
        for (int64_t nn = 0; nn < nstate; ++nn) fp[((bb * heads + h) * hdim + pp) * nstate + nn] = state[nn];
      }
    }
  }
  return {out.to(x.scalar_type()),
          return_final_state ? final_state.to(x.scalar_type()) : at::Tensor()};
}

}  // namespace strand
