#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/causal_conv1d/causal_conv1d_internal.h"

TORCH_LIBRARY_FRAGMENT(strand, m) {
  // Public ops: Autograd (causal_conv1d_autograd.cpp), CPU (causal_conv1d_cpu.cpp), CUDA
  // (causal_conv1d_cuda.cpp).
  m.def("causal_conv1d(Tensor x, Tensor weight, Tensor? bias, Tensor? initial_state, bool silu) -> Tensor");
  m.def("causal_conv1d_update(Tensor x, Tensor(a!) conv_state, Tensor weight, Tensor? bias, bool silu) -> Tensor");
  // The backward the autograd function calls below the Autograd key (see causal_conv1d_internal.h).
  m.def(
      "_causal_conv1d_backward(Tensor grad_out, Tensor x, Tensor weight, Tensor? bias, Tensor? initial_state, "
      "bool silu) -> (Tensor, Tensor, Tensor, Tensor)");
}

namespace strand {
namespace {

compat::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? compat::optional<at::Tensor>(t) : compat::nullopt;
}

}  // namespace

at::Tensor causal_conv1d(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                         const at::Tensor& initial_state, bool silu) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::causal_conv1d", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const compat::optional<at::Tensor>&,
                                         const compat::optional<at::Tensor>&, bool)>();
  return op.call(x, weight, optional_of(bias), optional_of(initial_state), silu);
}

at::Tensor causal_conv1d_update(const at::Tensor& x, const at::Tensor& conv_state, const at::Tensor& weight,
                                const at::Tensor& bias, bool silu) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::causal_conv1d_update", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                         const compat::optional<at::Tensor>&, bool)>();
  return op.call(x, conv_state, weight, optional_of(bias), silu);
}

}  // namespace strand
