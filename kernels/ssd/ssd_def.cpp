// strand::ssd_scan: argument checks, then the selective scan on CPU or the chunked algorithm on
// other devices (see kernels/ssd/ssd.h).
//
// Autograd. ssd_scan is a composite of differentiable pieces (strand::selective_scan with its own
// autograd function, or ATen ops in ssd_chunked), so gradients flow through them and no backward
// is written here. The C++ entry calls those pieces directly; the op strand::ssd_scan, for callers
// that go through the dispatcher, is registered as CompositeImplicitAutograd with the same
// function, so the dispatcher also runs it above autograd and never needs a backward formula.
#include <torch/library.h>

#include "kernels/common/torch_compat.h"
#include "kernels/selective_scan/selective_scan.h"
#include "kernels/ssd/ssd.h"
#include "kernels/ssd/ssd_internal.h"

TORCH_LIBRARY_FRAGMENT(strand, m) {
  m.def(
      "ssd_scan(Tensor x, Tensor dt, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? dt_bias, "
      "bool dt_softplus, Tensor? initial_state, bool return_final_state, int chunk_size=256) -> (Tensor, Tensor)");
}

namespace strand {

std::tuple<at::Tensor, at::Tensor> ssd_scan(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                            const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                            const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                            const at::Tensor& initial_state, bool return_final_state,
                                            int64_t chunk_size) {
  const auto s = kernels::check_ssd_args("strand::ssd_scan", x, dt, A, B, C, D, z, dt_bias, initial_state);
  TORCH_CHECK(x.scalar_type() == at::kFloat || x.scalar_type() == at::kDouble,
              "strand::ssd_scan: supports float32 and float64, got ", x.scalar_type(),
              " (convert, or use strand::ssd_chunked)");
  TORCH_CHECK(chunk_size >= 1, "strand::ssd_scan: chunk_size must be >= 1, got ", chunk_size);
  if (!x.is_cpu()) {
    return ssd_chunked(x, dt, A, B, C, D, z, dt_bias, dt_softplus, initial_state, return_final_state, chunk_size);
  }
  // The selective scan over channels c = h * P + p: u = x and delta = dt broadcast over P as
  // (batch, H*P, L); A broadcast to (H*P, N); D and dt_bias to (H*P); B and C as (batch, G, N, L),
  // whose group c / (H*P / G) = h / (H / G) is the head's group. Broadcasts are expand + reshape,
  // so autograd sums their gradients back to the per-head tensors.
  const int64_t b = s.batch, len = s.len, h = s.heads, p = s.head_dim, n = s.state;
  const auto channels = [&](const at::Tensor& t) {  // (b, L, H, P) -> (b, H*P, L)
    return t.defined() ? t.permute({0, 2, 3, 1}).reshape({b, h * p, len}) : at::Tensor();
  };
  const auto per_channel = [&](const at::Tensor& t) {  // (H) -> (H*P)
    return t.defined() ? t.unsqueeze(1).expand({h, p}).reshape({h * p}) : at::Tensor();
  };
  const auto u = channels(x);
  const auto delta = dt.permute({0, 2, 1}).unsqueeze(2).expand({b, h, p, len}).reshape({b, h * p, len});
  const auto a = A.view({h, 1, 1}).expand({h, p, n}).reshape({h * p, n});
  const auto init = initial_state.defined() ? initial_state.reshape({b, h * p, n}) : at::Tensor();
  const auto [out, last] = selective_scan(u, delta, a, B.permute({0, 2, 3, 1}), C.permute({0, 2, 3, 1}),
                                          per_channel(D), channels(z), per_channel(dt_bias), dt_softplus, init,
                                          return_final_state);
  const auto y = out.reshape({b, h, p, len}).permute({0, 3, 1, 2}).contiguous();
  return {y, return_final_state ? last.reshape({b, h, p, n}) : at::Tensor()};
}

namespace {

std::tuple<at::Tensor, at::Tensor> ssd_scan_op(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                               const at::Tensor& B, const at::Tensor& C,
                                               const compat::optional<at::Tensor>& D,
                                               const compat::optional<at::Tensor>& z,
                                               const compat::optional<at::Tensor>& dt_bias, bool dt_softplus,
                                               const compat::optional<at::Tensor>& initial_state,
                                               bool return_final_state, int64_t chunk_size) {
  const auto value = [](const compat::optional<at::Tensor>& t) { return t.has_value() ? *t : at::Tensor(); };
  return ssd_scan(x, dt, A, B, C, value(D), value(z), value(dt_bias), dt_softplus, value(initial_state),
                  return_final_state, chunk_size);
}

}  // namespace
}  // namespace strand

TORCH_LIBRARY_IMPL(strand, CompositeImplicitAutograd, m) { m.impl("ssd_scan", &strand::ssd_scan_op); }
