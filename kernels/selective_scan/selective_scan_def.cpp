#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"

TORCH_LIBRARY_FRAGMENT(strand, m) {
  // Public op: Autograd (selective_scan_autograd.cpp), CPU (selective_scan_cpu.cpp), CUDA
  // (selective_scan_cuda.cpp).
  m.def(
      "selective_scan(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, "
      "Tensor? delta_bias, bool delta_softplus, Tensor? initial_state, bool return_last_state) -> (Tensor, Tensor)");
  // Pieces the autograd function calls below the Autograd key (see selective_scan_internal.h).
  m.def(
      "_selective_scan_forward(Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C, Tensor? D, Tensor? z, "
      "Tensor? delta_bias, bool delta_softplus, Tensor? initial_state) -> (Tensor, Tensor, Tensor)");
  m.def(
      "_selective_scan_backward(Tensor? grad_out, Tensor? grad_last_state, Tensor u, Tensor delta, Tensor A, "
      "Tensor B, Tensor C, Tensor? D, Tensor? z, Tensor? delta_bias, bool delta_softplus, Tensor? initial_state, "
      "Tensor chunk_states) -> (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
}

namespace strand {

std::tuple<at::Tensor, at::Tensor> selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                  const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                                  const at::Tensor& z, const at::Tensor& delta_bias,
                                                  bool delta_softplus, const at::Tensor& initial_state,
                                                  bool return_last_state) {
  // Devices without a strand kernel take the ATen formulation (documented in selective_scan.h).
  if (u.defined() && !u.is_cpu() && !u.is_cuda()) {
    return selective_scan_aten(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state,
                               return_last_state);
  }
  using kernels::optional_if_defined;
  using Opt = compat::optional<at::Tensor>;
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::selective_scan", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(
                           const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                           const at::Tensor&, const Opt&, const Opt&, const Opt&, bool, const Opt&, bool)>();
  return op.call(u, delta, A, B, C, optional_if_defined(D), optional_if_defined(z), optional_if_defined(delta_bias),
                 delta_softplus, optional_if_defined(initial_state), return_last_state);
}

}  // namespace strand
