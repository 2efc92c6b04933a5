// Autograd for strand::selective_scan: the forward keeps its inputs and the states at chunk
// boundaries ((batch, dim, ceil(L / kSelectiveScanChunk), N)); the backward calls
// strand::_selective_scan_backward, which each device implements by recomputing the states
// inside each chunk. Nothing of size (batch, dim, L, N) is saved. The gradient of last_state is
// propagated.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <initializer_list>

#include "kernels/selective_scan/selective_scan.h"
#include "kernels/selective_scan/selective_scan_internal.h"

namespace strand::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;
using Opt = compat::optional<at::Tensor>;

class SelectiveScanFunction : public torch::autograd::Function<SelectiveScanFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                               const at::Tensor& B, const at::Tensor& C, const Opt& D, const Opt& z,
                               const Opt& delta_bias, bool delta_softplus, const Opt& initial_state) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("strand::_selective_scan_forward", "")
                         .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                             const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                             const at::Tensor&, const Opt&, const Opt&, const Opt&, bool, const Opt&)>();
    at::Tensor out, last_state, chunk_states;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      std::tie(out, last_state, chunk_states) = op.call(u, delta, A, B, C, D, z, delta_bias, delta_softplus,
                                                        initial_state);
    }
    ctx->save_for_backward({u, delta, A, B, C, tensor_or_undefined(D), tensor_or_undefined(z),
                            tensor_or_undefined(delta_bias), tensor_or_undefined(initial_state), chunk_states});
    ctx->saved_data["delta_softplus"] = delta_softplus;
    // Unused outputs (last_state when the caller drops it) arrive as undefined gradients, which
    // the backward treats as zero, instead of materialised zero tensors.
    ctx->set_materialize_grads(false);
    return {out, last_state};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "strand::selective_scan: second derivatives are not supported (backward with create_graph); "
                "use strand::selective_scan_aten for higher-order gradients");
    static auto op =
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("strand::_selective_scan_backward", "")
            .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor,
                              at::Tensor, at::Tensor>(const Opt&, const Opt&, const at::Tensor&, const at::Tensor&,
                                                      const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                      const Opt&, const Opt&, const Opt&, bool, const Opt&,
                                                      const at::Tensor&)>();
    const auto saved = ctx->get_saved_variables();
    auto grads = op.call(optional_if_defined(grad_outputs[0]), optional_if_defined(grad_outputs[1]), saved[0],
                         saved[1], saved[2], saved[3], saved[4], optional_if_defined(saved[5]),
                         optional_if_defined(saved[6]), optional_if_defined(saved[7]),
                         ctx->saved_data["delta_softplus"].toBool(), optional_if_defined(saved[8]), saved[9]);
    auto& [du, ddelta, dA, dB, dC, dD, dz, dbias, dh0] = grads;
    // One entry per forward argument: u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state.
    return {du, ddelta, dA, dB, dC, dD, dz, dbias, at::Tensor(), dh0};
  }
};

bool needs_graph(std::initializer_list<const at::Tensor*> tensors, std::initializer_list<const Opt*> optionals) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor* t : tensors) {
    if (t->requires_grad()) return true;
  }
  for (const Opt* t : optionals) {
    if (t->has_value() && (*t)->defined() && (*t)->requires_grad()) return true;
  }
  return false;
}

std::tuple<at::Tensor, at::Tensor> selective_scan_autograd(const at::Tensor& u, const at::Tensor& delta,
                                                           const at::Tensor& A, const at::Tensor& B,
                                                           const at::Tensor& C, const Opt& D, const Opt& z,
                                                           const Opt& delta_bias, bool delta_softplus,
                                                           const Opt& initial_state, bool return_last_state) {
  if (!needs_graph({&u, &delta, &A, &B, &C}, {&D, &z, &delta_bias, &initial_state})) {
    // Nothing to differentiate (no_grad, or no input requires grad): the device kernel, which
    // keeps no chunk states.
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("strand::selective_scan", "")
                         .typed<std::tuple<at::Tensor, at::Tensor>(
                             const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                             const at::Tensor&, const Opt&, const Opt&, const Opt&, bool, const Opt&, bool)>();
    at::AutoDispatchBelowADInplaceOrView guard;
    return op.call(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state, return_last_state);
  }
  auto outputs = SelectiveScanFunction::apply(u, delta, A, B, C, D, z, delta_bias, delta_softplus, initial_state);
  return {outputs[0], return_last_state ? outputs[1] : at::Tensor()};
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, Autograd, m) { m.impl("selective_scan", &selective_scan_autograd); }

}  // namespace strand::kernels
