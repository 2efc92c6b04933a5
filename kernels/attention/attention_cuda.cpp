// Host launcher of the strand::attention CUDA forward: validates tensors, fills the plain params
// struct and launches the kernel. The CUDA backward recomputes the probabilities materialised with
// ATen ops from the saved logsumexp (attention_backward_materialised), O(Lq * Lk) memory.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <limits>
#include <tuple>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"
#include "kernels/attention/attention_params.h"

namespace strand::kernels {
namespace {

void check_cuda_args(const at::Tensor& q) {
  TORCH_CHECK(q.is_cuda(), "strand::attention: the CUDA kernel needs CUDA tensors, got ", q.device());
  TORCH_CHECK(q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble,
              "strand::attention: the CUDA kernel supports float32 and float64, got ", q.scalar_type(),
              " (convert, or use strand::attention_naive)");
  TORCH_CHECK(q.size(3) <= kAttentionCudaMaxHeadDim,
              "strand::attention: the CUDA kernel supports head_dim <= ", kAttentionCudaMaxHeadDim, ", got ", q.size(3),
              " (use strand::attention_naive)");
}

/// The kernel reads rows through strides but needs head_dim contiguous.
at::Tensor rows_contiguous(const at::Tensor& t) { return t.size(3) <= 1 || t.stride(3) == 1 ? t : t.contiguous(); }

template <typename T>
void run(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, bool causal,
         double scale, int64_t q_offset, at::Tensor& out, at::Tensor& lse) {
  AttentionParams<T> p{};
  p.q = q.data_ptr<T>();
  p.k = k.data_ptr<T>();
  p.v = v.data_ptr<T>();
  p.real_token = mask.defined() ? mask.data_ptr<bool>() : nullptr;
  p.out = out.data_ptr<T>();
  p.lse = lse.data_ptr<T>();
  p.batch = q.size(0);
  p.heads = q.size(1);
  p.len_q = q.size(2);
  p.len_k = k.size(2);
  p.head_dim = q.size(3);
  p.q_stride_b = q.stride(0);
  p.q_stride_h = q.stride(1);
  p.q_stride_l = q.stride(2);
  p.k_stride_b = k.stride(0);
  p.k_stride_h = k.stride(1);
  p.k_stride_l = k.stride(2);
  p.v_stride_b = v.stride(0);
  p.v_stride_h = v.stride(1);
  p.v_stride_l = v.stride(2);
  p.q_offset = q_offset;
  p.scale = static_cast<T>(scale);
  p.causal = causal;
  launch_attention_forward_cuda(p, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::tuple<at::Tensor, at::Tensor> attention_forward_cuda(const at::Tensor& q_in, const at::Tensor& k_in,
                                                          const at::Tensor& v_in,
                                                          const compat::optional<at::Tensor>& mask_in, bool causal,
                                                          double scale, int64_t q_offset) {
  check_attention_args("strand::attention", q_in, k_in, v_in, mask_in, scale, q_offset);
  check_cuda_args(q_in);
  TORCH_CHECK(attention_cuda_grid_size(q_in.size(0), q_in.size(1), q_in.size(2)) <= std::numeric_limits<int32_t>::max(),
              "strand::attention: batch * heads * ceil(Lq / 64) exceeds the CUDA grid limit for ", q_in.sizes());
  const c10::cuda::CUDAGuard guard(q_in.device());
  const auto q = rows_contiguous(q_in), k = rows_contiguous(k_in), v = rows_contiguous(v_in);
  const auto mask = mask_in.has_value() && mask_in->defined() ? mask_in->contiguous() : at::Tensor();
  auto out = at::empty(q.sizes(), q.options().memory_format(at::MemoryFormat::Contiguous));
  auto lse = at::empty({q.size(0), q.size(1), q.size(2)}, q.options().memory_format(at::MemoryFormat::Contiguous));
  if (q.scalar_type() == at::kFloat) {
    run<float>(q, k, v, mask, causal, scale, q_offset, out, lse);
  } else {
    run<double>(q, k, v, mask, causal, scale, q_offset, out, lse);
  }
  return {out, lse};
}

at::Tensor attention_cuda(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const compat::optional<at::Tensor>& mask, bool causal, double scale, int64_t q_offset) {
  return std::get<0>(attention_forward_cuda(q, k, v, mask, causal, scale, q_offset));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> attention_backward_cuda(const at::Tensor& grad_out, const at::Tensor& q,
                                                                       const at::Tensor& k, const at::Tensor& v,
                                                                       const compat::optional<at::Tensor>& mask,
                                                                       const at::Tensor& out, const at::Tensor& lse,
                                                                       bool causal, double scale, int64_t q_offset) {
  check_attention_args("strand::attention backward", q, k, v, mask, scale, q_offset);
  check_cuda_args(q);
  const c10::cuda::CUDAGuard guard(q.device());
  return attention_backward_materialised(grad_out, q, k, v, mask, out, lse, causal, scale, q_offset);
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CUDA, m) {
  m.impl("attention", &attention_cuda);
  m.impl("_attention_forward", &attention_forward_cuda);
  m.impl("_attention_backward", &attention_backward_cuda);
}

}  // namespace strand::kernels
