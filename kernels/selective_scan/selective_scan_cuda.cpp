// Host launchers of the strand::selective_scan CUDA kernels: validate tensors, fill the plain
// params structs and launch (selective_scan_cuda.cu). Sequence inputs are read through their
// strides; small per-channel inputs and the incoming gradients are made contiguous.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"
#include "kernels/selective_scan/selective_scan_params.h"

namespace strand::kernels {
namespace {

void check_cuda_args(const char* op, const at::Tensor& u, const ScanSizes& s) {
  TORCH_CHECK(u.is_cuda(), op, ": the CUDA kernel needs CUDA tensors, got ", u.device());
  TORCH_CHECK(u.scalar_type() == at::kFloat || u.scalar_type() == at::kDouble, op,
              ": the CUDA kernel supports float32 and float64, got ", u.scalar_type(),
              " (convert, or use strand::selective_scan_aten)");
  TORCH_CHECK(s.dstate <= kSelectiveScanCudaMaxState, op, ": the CUDA kernel supports N <= ",
              kSelectiveScanCudaMaxState, ", got N = ", s.dstate, " (use strand::selective_scan_aten)");
  TORCH_CHECK(s.batch * s.dim <= std::numeric_limits<int32_t>::max(), op,
              ": batch * dim exceeds the CUDA grid limit: ", s.batch, " * ", s.dim);
}

at::Tensor contiguous_or_undefined(const at::Tensor& t) { return t.defined() ? t.contiguous() : t; }

template <typename T>
const T* ptr_or_null(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

template <typename T>
T* mutable_ptr_or_null(at::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

/// B or C as a 4-dim (batch, G, N, L) view.
at::Tensor grouped(const at::Tensor& t) { return t.dim() == 3 ? t.unsqueeze(1) : t; }

/// Inputs of the kernels with the layouts the params describe.
struct CudaInputs {
  at::Tensor u, delta, z, A, B, C, D, bias, h0;
};

CudaInputs prepare(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B,
                   const at::Tensor& C, const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias,
                   const at::Tensor& initial_state) {
  CudaInputs in;
  in.u = u;
  in.delta = delta;
  in.z = z;
  in.A = A;
  in.B = grouped(B);
  in.C = grouped(C);
  in.D = contiguous_or_undefined(D);
  in.bias = contiguous_or_undefined(delta_bias);
  in.h0 = contiguous_or_undefined(initial_state);
  return in;
}

template <typename T>
SelectiveScanParams<T> make_params(const CudaInputs& in, const ScanSizes& s, bool delta_softplus) {
  SelectiveScanParams<T> p{};
  p.batch = s.batch;
  p.dim = s.dim;
  p.len = s.len;
  p.dstate = s.dstate;
  p.groups = s.groups;
  p.delta_softplus = delta_softplus;
  p.u = in.u.data_ptr<T>();
  p.u_stride_b = in.u.stride(0);
  p.u_stride_c = in.u.stride(1);
  p.u_stride_l = in.u.stride(2);
  p.delta = in.delta.data_ptr<T>();
  p.delta_stride_b = in.delta.stride(0);
  p.delta_stride_c = in.delta.stride(1);
  p.delta_stride_l = in.delta.stride(2);
  p.z = ptr_or_null<T>(in.z);
  if (in.z.defined()) {
    p.z_stride_b = in.z.stride(0);
    p.z_stride_c = in.z.stride(1);
    p.z_stride_l = in.z.stride(2);
  }
  p.A = in.A.data_ptr<T>();
  p.A_stride_c = in.A.stride(0);
  p.A_stride_n = in.A.stride(1);
  p.B = in.B.data_ptr<T>();
  p.B_stride_b = in.B.stride(0);
  p.B_stride_g = in.B.stride(1);
  p.B_stride_n = in.B.stride(2);
  p.B_stride_l = in.B.stride(3);
  p.C = in.C.data_ptr<T>();
  p.C_stride_b = in.C.stride(0);
  p.C_stride_g = in.C.stride(1);
  p.C_stride_n = in.C.stride(2);
  p.C_stride_l = in.C.stride(3);
  p.D = ptr_or_null<T>(in.D);
  p.delta_bias = ptr_or_null<T>(in.bias);
  p.initial_state = ptr_or_null<T>(in.h0);
  return p;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_cuda(const at::Tensor& u, const at::Tensor& delta,
                                                            const at::Tensor& A, const at::Tensor& B,
                                                            const at::Tensor& C, const at::Tensor& D,
                                                            const at::Tensor& z, const at::Tensor& delta_bias,
                                                            bool delta_softplus, const at::Tensor& initial_state,
                                                            bool keep_chunk_states) {
  const auto s = check_selective_scan_args("strand::selective_scan", u, delta, A, B, C, D, z, delta_bias,
                                           initial_state);
  check_cuda_args("strand::selective_scan", u, s);
  const c10::cuda::CUDAGuard guard(u.device());
  const CudaInputs in = prepare(u, delta, A, B, C, D, z, delta_bias, initial_state);
  const auto opts = u.options().memory_format(at::MemoryFormat::Contiguous);
  auto out = at::empty({s.batch, s.dim, s.len}, opts);
  auto last = at::empty({s.batch, s.dim, s.dstate}, opts);
  auto states =
      keep_chunk_states ? at::empty({s.batch, s.dim, selective_scan_chunks(s.len), s.dstate}, opts) : at::Tensor();
  const auto stream = at::cuda::getCurrentCUDAStream().stream();
  if (u.scalar_type() == at::kFloat) {
    auto p = make_params<float>(in, s, delta_softplus);
    p.out = out.data_ptr<float>();
    p.last_state = last.data_ptr<float>();
    p.chunk_states = mutable_ptr_or_null<float>(states);
    launch_selective_scan_forward_cuda(p, stream);
  } else {
    auto p = make_params<double>(in, s, delta_softplus);
    p.out = out.data_ptr<double>();
    p.last_state = last.data_ptr<double>();
    p.chunk_states = mutable_ptr_or_null<double>(states);
    launch_selective_scan_forward_cuda(p, stream);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return {out, last, states};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> forward_cuda_op(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
    const compat::optional<at::Tensor>& D, const compat::optional<at::Tensor>& z,
    const compat::optional<at::Tensor>& delta_bias, bool delta_softplus,
    const compat::optional<at::Tensor>& initial_state) {
  return forward_cuda(u, delta, A, B, C, tensor_or_undefined(D), tensor_or_undefined(z),
                      tensor_or_undefined(delta_bias), delta_softplus, tensor_or_undefined(initial_state),
                      /*keep_chunk_states=*/true);
}

std::tuple<at::Tensor, at::Tensor> selective_scan_cuda_op(const at::Tensor& u, const at::Tensor& delta,
                                                          const at::Tensor& A, const at::Tensor& B,
                                                          const at::Tensor& C, const compat::optional<at::Tensor>& D,
                                                          const compat::optional<at::Tensor>& z,
                                                          const compat::optional<at::Tensor>& delta_bias,
                                                          bool delta_softplus,
                                                          const compat::optional<at::Tensor>& initial_state,
                                                          bool return_last_state) {
  // Reached without autograd (inference mode, or below the Autograd key): no states kept.
  auto [out, last, states] = forward_cuda(u, delta, A, B, C, tensor_or_undefined(D), tensor_or_undefined(z),
                                          tensor_or_undefined(delta_bias), delta_softplus,
                                          tensor_or_undefined(initial_state), /*keep_chunk_states=*/false);
  return {out, return_last_state ? last : at::Tensor()};
}

template <typename T>
void launch_backward(const CudaInputs& in, const ScanSizes& s, bool delta_softplus, const at::Tensor& states,
                     const at::Tensor& grad_out, const at::Tensor& grad_last, at::Tensor& grad_u,
                     at::Tensor& grad_delta, at::Tensor& grad_z, at::Tensor& grad_A_rows, at::Tensor& grad_D_rows,
                     at::Tensor& grad_bias_rows, at::Tensor& grad_B, at::Tensor& grad_C, at::Tensor& grad_h0) {
  SelectiveScanBackwardParams<T> q{};
  q.fwd = make_params<T>(in, s, delta_softplus);
  q.chunk_states = states.data_ptr<T>();
  q.grad_out = ptr_or_null<T>(grad_out);
  q.grad_last_state = ptr_or_null<T>(grad_last);
  q.grad_u = grad_u.data_ptr<T>();
  q.grad_delta = grad_delta.data_ptr<T>();
  q.grad_z = mutable_ptr_or_null<T>(grad_z);
  q.grad_A_rows = grad_A_rows.data_ptr<T>();
  q.grad_D_rows = mutable_ptr_or_null<T>(grad_D_rows);
  q.grad_bias_rows = mutable_ptr_or_null<T>(grad_bias_rows);
  q.grad_B = grad_B.data_ptr<T>();
  q.grad_C = grad_C.data_ptr<T>();
  q.grad_initial_state = mutable_ptr_or_null<T>(grad_h0);
  launch_selective_scan_backward_cuda(q, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
backward_cuda_op(const compat::optional<at::Tensor>& grad_out_in,
                 const compat::optional<at::Tensor>& grad_last_state_in, const at::Tensor& u, const at::Tensor& delta,
                 const at::Tensor& A, const at::Tensor& B, const at::Tensor& C, const compat::optional<at::Tensor>& D_in,
                 const compat::optional<at::Tensor>& z_in, const compat::optional<at::Tensor>& delta_bias_in,
                 bool delta_softplus, const compat::optional<at::Tensor>& initial_state_in,
                 const at::Tensor& chunk_states) {
  const at::Tensor D = tensor_or_undefined(D_in), z = tensor_or_undefined(z_in);
  const at::Tensor delta_bias = tensor_or_undefined(delta_bias_in);
  const at::Tensor initial_state = tensor_or_undefined(initial_state_in);
  const char* op = "strand::selective_scan backward";
  const auto s = check_selective_scan_args(op, u, delta, A, B, C, D, z, delta_bias, initial_state);
  check_cuda_args(op, u, s);
  const int64_t n_chunks = selective_scan_chunks(s.len);
  TORCH_CHECK(chunk_states.sizes() == at::IntArrayRef({s.batch, s.dim, n_chunks, s.dstate}), op,
              ": chunk_states must be (batch, dim, ceil(L / ", kSelectiveScanChunk, "), N) = (", s.batch, ", ", s.dim,
              ", ", n_chunks, ", ", s.dstate, "), got ", chunk_states.sizes());
  const at::Tensor grad_out_t = tensor_or_undefined(grad_out_in);
  const at::Tensor grad_last_t = tensor_or_undefined(grad_last_state_in);
  TORCH_CHECK(!grad_out_t.defined() || grad_out_t.sizes() == u.sizes(), op, ": grad_out must be ", u.sizes(),
              ", got ", grad_out_t.sizes());
  TORCH_CHECK(!grad_last_t.defined() || grad_last_t.sizes() == at::IntArrayRef({s.batch, s.dim, s.dstate}), op,
              ": grad_last_state must be (", s.batch, ", ", s.dim, ", ", s.dstate, "), got ", grad_last_t.sizes());
  const c10::cuda::CUDAGuard guard(u.device());
  const auto dtype = u.scalar_type();
  const CudaInputs in = prepare(u, delta, A, B, C, D, z, delta_bias, initial_state);
  const auto states = chunk_states.to(dtype).contiguous();
  const auto grad_out = grad_out_t.defined() ? grad_out_t.to(dtype).contiguous() : at::Tensor();
  const auto grad_last = grad_last_t.defined() ? grad_last_t.to(dtype).contiguous() : at::Tensor();
  const auto opts = u.options().memory_format(at::MemoryFormat::Contiguous);
  auto grad_u = at::empty({s.batch, s.dim, s.len}, opts);
  auto grad_delta = at::empty({s.batch, s.dim, s.len}, opts);
  auto grad_z = z.defined() ? at::empty({s.batch, s.dim, s.len}, opts) : at::Tensor();
  auto grad_A_rows = at::empty({s.batch, s.dim, s.dstate}, opts);
  auto grad_D_rows = D.defined() ? at::empty({s.batch, s.dim}, opts) : at::Tensor();
  auto grad_bias_rows = delta_bias.defined() ? at::empty({s.batch, s.dim}, opts) : at::Tensor();
  auto grad_B = at::zeros({s.batch, s.groups, s.dstate, s.len}, opts);  // accumulated with atomicAdd
  auto grad_C = at::zeros({s.batch, s.groups, s.dstate, s.len}, opts);
  auto grad_h0 = initial_state.defined() ? at::empty({s.batch, s.dim, s.dstate}, opts) : at::Tensor();
  if (dtype == at::kFloat) {
    launch_backward<float>(in, s, delta_softplus, states, grad_out, grad_last, grad_u, grad_delta, grad_z, grad_A_rows,
                           grad_D_rows, grad_bias_rows, grad_B, grad_C, grad_h0);
  } else {
    launch_backward<double>(in, s, delta_softplus, states, grad_out, grad_last, grad_u, grad_delta, grad_z,
                            grad_A_rows, grad_D_rows, grad_bias_rows, grad_B, grad_C, grad_h0);
  }
  // Per-sequence terms summed over the batch (a fixed-order reduction).
  const auto grad_A = grad_A_rows.sum(0);
  const auto grad_D = grad_D_rows.defined() ? grad_D_rows.sum(0) : at::Tensor();
  const auto grad_bias = grad_bias_rows.defined() ? grad_bias_rows.sum(0) : at::Tensor();
  if (B.dim() == 3) {
    grad_B = grad_B.squeeze(1);
    grad_C = grad_C.squeeze(1);
  }
  return {grad_u, grad_delta, grad_A, grad_B, grad_C, grad_D, grad_z, grad_bias, grad_h0};
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CUDA, m) {
  m.impl("selective_scan", &selective_scan_cuda_op);
  m.impl("_selective_scan_forward", &forward_cuda_op);
  m.impl("_selective_scan_backward", &backward_cuda_op);
}

}  // namespace strand::kernels
