// Host launchers of the strand::causal_conv1d CUDA kernels: validate tensors, fill the plain
// params structs (strides are passed through, so no input is copied) and launch on the current
// stream. Compiled only in builds with STRAND_CUDA.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <tuple>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/causal_conv1d/causal_conv1d_internal.h"
#include "kernels/causal_conv1d/causal_conv1d_params.h"

namespace strand::kernels {
namespace {

void check_cuda_args(const char* op, const at::Tensor& x) {
  TORCH_CHECK(x.is_cuda(), op, ": the CUDA kernel needs CUDA tensors, got ", x.device());
  check_causal_conv1d_dtype(op, x);
}

at::Tensor causal_conv1d_cuda(const at::Tensor& x, const at::Tensor& weight,
                              const compat::optional<at::Tensor>& bias_in, const compat::optional<at::Tensor>& init_in,
                              bool silu) {
  const char* op = "strand::causal_conv1d";
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const at::Tensor& init = causal_conv1d_opt(init_in);
  const auto s = check_causal_conv1d_args(op, x, weight, bias, init);
  check_cuda_args(op, x);
  const c10::cuda::CUDAGuard guard(x.device());
  auto out = at::empty({s.batch, s.dim, s.len}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  const auto w2 = causal_conv1d_weight_2d(weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d cuda", [&] {
    const auto p = make_causal_conv1d_params<scalar_t>(s, x, w2, bias, init, silu, out.data_ptr<scalar_t>());
    launch_causal_conv1d_forward_cuda(p, at::cuda::getCurrentCUDAStream().stream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> causal_conv1d_backward_cuda(
    const at::Tensor& grad_out_in, const at::Tensor& x, const at::Tensor& weight,
    const compat::optional<at::Tensor>& bias_in, const compat::optional<at::Tensor>& init_in, bool silu) {
  const char* op = "strand::causal_conv1d backward";
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const at::Tensor& init = causal_conv1d_opt(init_in);
  const auto s = check_causal_conv1d_args(op, x, weight, bias, init);
  check_cuda_args(op, x);
  check_causal_conv1d_grad_out(op, grad_out_in, x);
  const c10::cuda::CUDAGuard guard(x.device());
  const auto grad_out = grad_out_in.to(x.scalar_type());
  const auto contiguous = x.options().memory_format(at::MemoryFormat::Contiguous);
  auto grad_x = at::empty({s.batch, s.dim, s.len}, contiguous);
  auto grad_init = init.defined() ? at::empty({s.batch, s.dim, s.width - 1}, contiguous) : at::Tensor();
  auto grad_weight = at::empty({s.dim, s.width}, contiguous);
  auto grad_bias = bias.defined() ? at::empty({s.dim}, contiguous) : at::Tensor();
  auto grad_pre = at::empty({s.batch, s.dim, s.len}, contiguous);
  const auto w2 = causal_conv1d_weight_2d(weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d backward cuda", [&] {
    CausalConv1dBackwardParams<scalar_t> q{};
    q.fwd = make_causal_conv1d_params<scalar_t>(s, x, w2, bias, init, silu, nullptr);
    q.grad_out = grad_out.data_ptr<scalar_t>();
    q.go_stride_b = grad_out.stride(0);
    q.go_stride_c = grad_out.stride(1);
    q.go_stride_t = grad_out.stride(2);
    q.grad_x = grad_x.data_ptr<scalar_t>();
    q.grad_initial_state = grad_init.defined() ? grad_init.data_ptr<scalar_t>() : nullptr;
    q.grad_weight = grad_weight.data_ptr<scalar_t>();
    q.grad_bias = grad_bias.defined() ? grad_bias.data_ptr<scalar_t>() : nullptr;
    q.grad_pre = grad_pre.data_ptr<scalar_t>();
    launch_causal_conv1d_backward_cuda(q, at::cuda::getCurrentCUDAStream().stream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {grad_x, grad_weight, grad_bias, grad_init};
}

at::Tensor causal_conv1d_update_cuda(const at::Tensor& x, const at::Tensor& conv_state, const at::Tensor& weight,
                                     const compat::optional<at::Tensor>& bias_in, bool silu) {
  const char* op = "strand::causal_conv1d_update";
  const at::Tensor& bias = causal_conv1d_opt(bias_in);
  const auto s = check_causal_conv1d_update_args(op, x, conv_state, weight, bias);
  check_cuda_args(op, x);
  const c10::cuda::CUDAGuard guard(x.device());
  auto out = at::empty({s.batch, s.dim}, x.options().memory_format(at::MemoryFormat::Contiguous));
  if (out.numel() == 0) return out;
  const auto w2 = causal_conv1d_weight_2d(weight);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "strand::causal_conv1d_update cuda", [&] {
    const auto p =
        make_causal_conv1d_update_params<scalar_t>(s, x, conv_state, w2, bias, silu, out.data_ptr<scalar_t>());
    launch_causal_conv1d_update_cuda(p, at::cuda::getCurrentCUDAStream().stream());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CUDA, m) {
  m.impl("causal_conv1d", &causal_conv1d_cuda);
  m.impl("_causal_conv1d_backward", &causal_conv1d_backward_cuda);
  m.impl("causal_conv1d_update", &causal_conv1d_update_cuda);
}

}  // namespace strand::kernels
