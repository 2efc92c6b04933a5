// Reference: written from the definition in causal_conv1d.h, one output at a time in double,
// with its own index arithmetic and activation and no helpers shared with the kernels, so that it
// can catch a bug in them.
#include <ATen/ATen.h>

#include <cmath>

#include "kernels/causal_conv1d/causal_conv1d.h"

namespace strand {

at::Tensor causal_conv1d_reference(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                   const at::Tensor& initial_state, bool silu) {
  TORCH_CHECK(x.defined() && x.dim() == 3, "causal_conv1d_reference: x must be (batch, dim, L)");
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), "causal_conv1d_reference: x must be floating point");
  const int64_t batch = x.size(0), dim = x.size(1), len = x.size(2);
  TORCH_CHECK(weight.defined() && (weight.dim() == 2 || (weight.dim() == 3 && weight.size(1) == 1)) &&
                  weight.size(0) == dim,
              "causal_conv1d_reference: weight must be (dim, W) or (dim, 1, W)");
  const auto w = weight.reshape({dim, weight.size(-1)}).to(at::kCPU, at::kDouble).contiguous();
  const int64_t width = w.size(1);
  TORCH_CHECK(width >= 1, "causal_conv1d_reference: W must be >= 1");
  TORCH_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == dim), "causal_conv1d_reference: bias must be (dim)");
  TORCH_CHECK(!initial_state.defined() || initial_state.sizes() == at::IntArrayRef({batch, dim, width - 1}),
              "causal_conv1d_reference: initial_state must be (batch, dim, W - 1)");
  const auto xd = x.to(at::kCPU, at::kDouble).contiguous();
  const auto bd = bias.defined() ? bias.to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
  const auto sd = initial_state.defined() ? initial_state.to(at::kCPU, at::kDouble).contiguous() : at::Tensor();
  auto out = at::empty({batch, dim, len}, xd.options());
  const auto xa = xd.accessor<double, 3>();
  const auto wa = w.accessor<double, 2>();
  auto oa = out.accessor<double, 3>();
  const double* bias_values = bd.defined() ? bd.data_ptr<double>() : nullptr;   // (dim)
  const double* state_values = sd.defined() ? sd.data_ptr<double>() : nullptr;  // (batch, dim, W-1)
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t c = 0; c < dim; ++c) {
      for (int64_t t = 0; t < len; ++t) {
        double pre = bias_values != nullptr ? bias_values[c] : 0.0;
        for (int64_t k = 0; k < width; ++k) {
          const int64_t s = t - (width - 1) + k;  // input time read by tap k
          double input = 0.0;
          if (s >= 0) {
            input = xa[b][c][s];
          } else if (state_values != nullptr) {
            input = state_values[(b * dim + c) * (width - 1) + (width - 1 + s)];
          }
          pre += wa[c][k] * input;
        }
        oa[b][c][t] = silu ? pre / (1.0 + std::exp(-pre)) : pre;
      }
    }
  }
  return out.to(x.scalar_type());
}

}  // namespace strand
