// CPU kernels of strand::causal_conv1d: forward, backward and the decode update, parallel over
// (batch, channel) rows. Each row is first gathered, through the strides of its tensors, into a
// contiguous buffer [initial_state or zeros, x]; the time loops then run over that buffer with
// the kernel width W a template parameter, so the W taps unroll and the loop over t (no
// reduction across t) vectorises.
//
// Backward per row, with pre the recomputed pre-activation and dpre = grad_out * act'(pre):
//   d xin[s] = sum_k w[k] * dpre[s + (W - 1) - k]   (d x and d initial_state are slices of it)
//   d w[k]   = sum_t dpre[t] * xin[t - (W - 1) + k],   d bias = sum_t dpre[t]
// The weight and bias sums are kept per (batch, channel) row in double and then added over the
// batch in a fixed order: results are deterministic and independent of the thread count.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <type_traits>
#include <vector>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/causal_conv1d/causal_conv1d_internal.h"
#include "kernels/causal_conv1d/causal_conv1d_math.h"
#include "kernels/causal_conv1d/causal_conv1d_params.h"

namespace strand::kernels {
namespace {

/// Rows per parallel task: about kGrainElements time steps of work each.
constexpr int64_t kGrainElements = 16384;

int64_t row_grain(int64_t len) { return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(len, 1)); }

/// Writes xin[0 .. W-1+len) of row (b, c) into buf: W-1 initial-state values (or zeros), then x.
template <typename T>
void gather_input(const CausalConv1dParams<T>& p, int64_t b, int64_t c, T* buf) {
  const int64_t pad = p.width - 1;
  if (p.initial_state != nullptr) {
    const T* init = p.initial_state + b * p.init_stride_b + c * p.init_stride_c;
    for (int64_t k = 0; k < pad; ++k) buf[k] = init[k * p.init_stride_k];
  } else {
    std::fill(buf, buf + pad, T(0));
  }
  const T* x = p.x + b * p.x_stride_b + c * p.x_stride_c;
  T* dst = buf + pad;
  if (p.x_stride_t == 1) {
    std::copy(x, x + p.len, dst);
  } else {
    for (int64_t t = 0; t < p.len; ++t) dst[t] = x[t * p.x_stride_t];
  }
}

template <typename T, int W>
std::array<T, W> row_weights(const CausalConv1dParams<T>& p, int64_t c) {
  std::array<T, W> w{};
  for (int k = 0; k < W; ++k) w[k] = p.weight[c * p.w_stride_c + k * p.w_stride_k];
  return w;
}

template <typename T>
T row_bias(const CausalConv1dParams<T>& p, int64_t c) {
  return p.bias != nullptr ? p.bias[c * p.bias_stride] : T(0);
}

/// pre[t] = bias + sum_k w[k] * xin[t + k] for t < len (xin as gathered by gather_input).
template <typename T, int W>
void convolve(const std::array<T, W>& w, T bias, const T* xin, int64_t len, T* pre) {
  for (int64_t t = 0; t < len; ++t) {
    T acc = bias;
    for (int k = 0; k < W; ++k) acc += w[k] * xin[t + k];
    pre[t] = acc;
  }
}

template <typename T, int W>
void forward(const CausalConv1dParams<T>& p) {
  at::parallel_for(0, p.batch * p.dim, row_grain(p.len), [&](int64_t begin, int64_t end) {
    std::vector<T> xin(p.len + W - 1);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / p.dim, c = row % p.dim;
      gather_input(p, b, c, xin.data());
      T* out = p.out + row * p.len;
      convolve<T, W>(row_weights<T, W>(p, c), row_bias(p, c), xin.data(), p.len, out);
      if (p.silu) {
        for (int64_t t = 0; t < p.len; ++t) out[t] = conv_math::silu(out[t]);
      }
    }
  });
}

/// Backward; partial (batch, dim, W + 1) receives each row's weight sums and its bias sum.
template <typename T, int W>
void backward(const CausalConv1dBackwardParams<T>& q, double* partial) {
  const CausalConv1dParams<T>& p = q.fwd;
  constexpr int pad = W - 1;
  at::parallel_for(0, p.batch * p.dim, row_grain(p.len), [&](int64_t begin, int64_t end) {
    std::vector<T> xin(p.len + pad), pre(p.len), dpre(p.len + 2 * pad), dxin(p.len + pad);
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / p.dim, c = row % p.dim;
      gather_input(p, b, c, xin.data());
      const auto w = row_weights<T, W>(p, c);
      // dpre, zero-padded by W - 1 on both sides so the transposed convolution needs no bounds.
      T* d = dpre.data() + pad;
      std::fill(dpre.begin(), dpre.begin() + pad, T(0));
      std::fill(dpre.end() - pad, dpre.end(), T(0));
      const T* g = q.grad_out + b * q.go_stride_b + c * q.go_stride_c;
      for (int64_t t = 0; t < p.len; ++t) d[t] = g[t * q.go_stride_t];
      if (p.silu) {
        convolve<T, W>(w, row_bias(p, c), xin.data(), p.len, pre.data());
        for (int64_t t = 0; t < p.len; ++t) d[t] *= conv_math::silu_grad(pre[t]);
      }
      // dxin[s] = sum_k w[k] * dpre[s - k], s in [0, len + W - 1).
      for (int64_t s = 0; s < p.len + pad; ++s) {
        T acc = T(0);
        for (int k = 0; k < W; ++k) acc += w[k] * dpre[s - k + pad];
        dxin[s] = acc;
      }
      std::copy(dxin.begin() + pad, dxin.end(), q.grad_x + row * p.len);
      if (q.grad_initial_state != nullptr) {
        std::copy(dxin.begin(), dxin.begin() + pad, q.grad_initial_state + row * pad);
      }
      double* sums = partial + row * (W + 1);
      std::array<double, W + 1> acc{};
      for (int64_t t = 0; t < p.len; ++t) {
        const double dt = d[t];
        for (int k = 0; k < W; ++k) acc[k] += dt * static_cast<double>(xin[t + k]);
        acc[W] += dt;
      }
      std::copy(acc.begin(), acc.end(), sums);
    }
  });
}

template <typename T>
void update(const CausalConv1dUpdateParams<T>& p) {
  at::parallel_for(0, p.batch * p.dim, 1024, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t b = row / p.dim, c = row % p.dim;
      T* state = p.conv_state + b * p.state_stride_b + c * p.state_stride_c;
      const T* w = p.weight + c * p.w_stride_c;
      // Read x before the shift in case the caller passed a view of the state's newest column.
      const T x_new = p.x[b * p.x_stride_b + c * p.x_stride_c];
      T acc = p.bias != nullptr ? p.bias[c * p.bias_stride] : T(0);
      for (int64_t k = 0; k + 1 < p.width; ++k) {
        const T v = state[(k + 1) * p.state_stride_k];
        state[k * p.state_stride_k] = v;
        acc += w[k * p.w_stride_k] * v;
      }
      state[(p.width - 1) * p.state_stride_k] = x_new;
      acc += w[(p.width - 1) * p.w_stride_k] * x_new;
      p.out[row] = conv_math::activate(acc, p.silu);
    }
  });
}

/// Calls f.template operator()<W>() for the runtime width (2..4, checked before).
template <typename F>
void with_width(int64_t width, F&& f) {
  switch (width) {
    case 2:
      f(std::integral_constant<int, 2>{});
      break;
    case 3:
      f(std::integral_constant<int, 3>{});
      break;
    case 4:
      f(std::integral_constant<int, 4>{});
      break;
    default:
      TORCH_INTERNAL_ASSERT(false, "strand::causal_conv1d: unchecked kernel width ", width);
  }
}

at::Tensor causal_conv1d_cpu(const at::Tensor& x, const at::Tensor& weight, const compat::optional<at::Tensor>& bias_in,
                             const compat::optional<at::Tensor>& init_in, bool silu) {
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const at::Tensor& init = causal_conv1d_opt(init_in);
  const auto s = check_causal_conv1d_args("strand::causal_conv1d", x, weight, bias, init);
  check_causal_conv1d_dtype("strand::causal_conv1d", x);
  auto out = at::empty({s.batch, s.dim, s.len}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  const auto w2 = causal_conv1d_weight_2d(weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d", [&] {
    const auto p = make_causal_conv1d_params<scalar_t>(s, x, w2, bias, init, silu, out.data_ptr<scalar_t>());
    with_width(s.width, [&](auto width) { forward<scalar_t, decltype(width)::value>(p); });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> causal_conv1d_backward_cpu(
    const at::Tensor& grad_out_in, const at::Tensor& x, const at::Tensor& weight,
    const compat::optional<at::Tensor>& bias_in, const compat::optional<at::Tensor>& init_in, bool silu) {
  const char* op = "strand::causal_conv1d backward";
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const at::Tensor& init = causal_conv1d_opt(init_in);
  const auto s = check_causal_conv1d_args(op, x, weight, bias, init);
  check_causal_conv1d_dtype(op, x);
  check_causal_conv1d_grad_out(op, grad_out_in, x);
  const auto grad_out = grad_out_in.to(x.scalar_type());
  const auto contiguous = x.options().memory_format(at::MemoryFormat::Contiguous);
  auto grad_x = at::empty({s.batch, s.dim, s.len}, contiguous);
  auto grad_init = init.defined() ? at::empty({s.batch, s.dim, s.width - 1}, contiguous) : at::Tensor();
  auto partial = at::zeros({s.batch, s.dim, s.width + 1}, contiguous.dtype(at::kDouble));
  const auto w2 = causal_conv1d_weight_2d(weight);
  if (s.batch * s.dim > 0) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d backward", [&] {
      CausalConv1dBackwardParams<scalar_t> q{};
      q.fwd = make_causal_conv1d_params<scalar_t>(s, x, w2, bias, init, silu, nullptr);
      q.grad_out = grad_out.data_ptr<scalar_t>();
      q.go_stride_b = grad_out.stride(0);
      q.go_stride_c = grad_out.stride(1);
      q.go_stride_t = grad_out.stride(2);
      q.grad_x = grad_x.data_ptr<scalar_t>();
      q.grad_initial_state = grad_init.defined() ? grad_init.data_ptr<scalar_t>() : nullptr;
      with_width(s.width, [&](auto width) {
        backward<scalar_t, decltype(width)::value>(q, partial.data_ptr<double>());
      });
    });
  }
  // Sum the rows' partial sums over the batch in index order (deterministic), then round once to
  // the dtype of x.
  auto sums = at::zeros({s.dim, s.width + 1}, partial.options());
  const double* part = partial.data_ptr<double>();
  double* sum = sums.data_ptr<double>();
  const int64_t row_size = s.dim * (s.width + 1);
  for (int64_t b = 0; b < s.batch; ++b) {
    for (int64_t i = 0; i < row_size; ++i) sum[i] += part[b * row_size + i];
  }
  auto grad_weight = sums.narrow(1, 0, s.width).to(x.scalar_type()).contiguous();
  auto grad_bias = bias.defined() ? sums.select(1, s.width).to(x.scalar_type()).contiguous() : at::Tensor();
  return {grad_x, grad_weight, grad_bias, grad_init};
}

at::Tensor causal_conv1d_update_cpu(const at::Tensor& x, const at::Tensor& conv_state, const at::Tensor& weight,
                                    const compat::optional<at::Tensor>& bias_in, bool silu) {
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const auto s = check_causal_conv1d_update_args("strand::causal_conv1d_update", x, conv_state, weight, bias);
  check_causal_conv1d_dtype("strand::causal_conv1d_update", x);
  auto out = at::empty({s.batch, s.dim}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  const auto w2 = causal_conv1d_weight_2d(weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d_update", [&] {
    update(make_causal_conv1d_update_params<scalar_t>(s, x, conv_state, w2, bias, silu, out.data_ptr<scalar_t>()));
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CPU, m) {
  m.impl("causal_conv1d", &causal_conv1d_cpu);
  m.impl("_causal_conv1d_backward", &causal_conv1d_backward_cpu);
  m.impl("causal_conv1d_update", &causal_conv1d_update_cpu);
}

}  // namespace strand::kernels
