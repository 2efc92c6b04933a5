// Host launcher: validates tensors, fills the plain params struct and launches the CUDA kernel.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "kernels/rc_ids/rc_ids.h"
#include "kernels/rc_ids/rc_ids_check.h"
#include "kernels/rc_ids/rc_ids_params.h"

namespace strand::kernels {
namespace {

template <typename Index>
void run(const at::Tensor& ids, const at::Tensor& comp, const at::Tensor& lens, at::Tensor& out) {
  RcIdsParams<Index> p{};
  p.ids = ids.data_ptr<Index>();
  p.complement = comp.data_ptr<Index>();
  p.lengths = lens.defined() ? lens.data_ptr<int64_t>() : nullptr;
  p.out = out.data_ptr<Index>();
  p.batch = ids.size(0);
  p.length = ids.size(1);
  p.vocab = comp.size(0);
  p.ids_stride_b = ids.stride(0);
  p.ids_stride_l = ids.stride(1);
  launch_reverse_complement_ids_cuda(p, at::cuda::getCurrentCUDAStream().stream());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

at::Tensor reverse_complement_ids_cuda(const at::Tensor& ids, const at::Tensor& complement,
                                       const compat::optional<at::Tensor>& lengths) {
  check_rc_ids_args(ids, complement, lengths);
  if (ids.numel() > 0) {
    // The kernel cannot raise errors, so ids are range-checked here (valid tokens and padding alike).
    TORCH_CHECK(ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < complement.size(0),
                "reverse_complement_ids: ids must lie in [0, ", complement.size(0), ")");
  }
  const c10::cuda::CUDAGuard guard(ids.device());
  const auto comp = complement.contiguous();
  const at::Tensor lens = lengths.has_value() ? lengths->contiguous() : at::Tensor();
  auto out = at::empty(ids.sizes(), ids.options().memory_format(at::MemoryFormat::Contiguous));
  if (ids.scalar_type() == at::kInt) {
    run<int32_t>(ids, comp, lens, out);
  } else {
    run<int64_t>(ids, comp, lens, out);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CUDA, m) { m.impl("reverse_complement_ids", &reverse_complement_ids_cuda); }

}  // namespace strand::kernels
