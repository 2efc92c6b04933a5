#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"

TORCH_LIBRARY_FRAGMENT(strand, m) {
  // Public op: Autograd (attention_autograd.cpp), CPU (attention_cpu.cpp), CUDA (attention_cuda.cpp).
  m.def(
      "attention(Tensor q, Tensor k, Tensor v, Tensor? key_padding_mask, bool causal, float scale, "
      "int q_offset=0) -> Tensor");
  // Pieces the autograd function calls below the Autograd key (see attention_internal.h).
  m.def(
      "_attention_forward(Tensor q, Tensor k, Tensor v, Tensor? key_padding_mask, bool causal, float scale, "
      "int q_offset) -> (Tensor, Tensor)");
  m.def(
      "_attention_backward(Tensor grad_out, Tensor q, Tensor k, Tensor v, Tensor? key_padding_mask, Tensor out, "
      "Tensor logsumexp, bool causal, float scale, int q_offset) -> (Tensor, Tensor, Tensor)");
}

namespace strand {

at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_padding_mask,
                     bool causal, double scale, int64_t q_offset) {
  const compat::optional<at::Tensor> mask =
      key_padding_mask.defined() ? compat::optional<at::Tensor>(key_padding_mask) : compat::nullopt;
  // Devices without a strand kernel take the materialised path (documented in attention.h).
  if (q.defined() && !q.is_cpu() && !q.is_cuda()) {
    return attention_naive(q, k, v, key_padding_mask, causal, scale, q_offset);
  }
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::attention", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                         const compat::optional<at::Tensor>&, bool, double, int64_t)>();
  return op.call(q, k, v, mask, causal, scale, q_offset);
}

}  // namespace strand
