// Autograd for strand::causal_conv1d: the forward saves only its inputs and calls the op again
// below the Autograd key; the backward calls strand::_causal_conv1d_backward, which each device
// implements and which recomputes the pre-activation. causal_conv1d_update gets an Autograd kernel
// that refuses inputs needing gradients instead of silently returning an untracked result.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/causal_conv1d/causal_conv1d_internal.h"

namespace strand::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class CausalConv1dFunction : public torch::autograd::Function<CausalConv1dFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& weight,
                            const compat::optional<at::Tensor>& bias, const compat::optional<at::Tensor>& init,
                            bool silu) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("strand::causal_conv1d", "")
                         .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const compat::optional<at::Tensor>&,
                                           const compat::optional<at::Tensor>&, bool)>();
    at::Tensor out;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      out = op.call(x, weight, bias, init, silu);
    }
    // Undefined tensors are saved as undefined and come back so.
    ctx->save_for_backward({x, weight, causal_conv1d_opt(bias), causal_conv1d_opt(init)});
    ctx->saved_data["silu"] = silu;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "strand::causal_conv1d: second derivatives are not supported (backward with create_graph)");
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("strand::_causal_conv1d_backward", "")
                         .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>(
                             const at::Tensor&, const at::Tensor&, const at::Tensor&,
                             const compat::optional<at::Tensor>&, const compat::optional<at::Tensor>&, bool)>();
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& weight = saved[1];
    const auto bias = saved[2].defined() ? compat::optional<at::Tensor>(saved[2]) : compat::nullopt;
    const auto init = saved[3].defined() ? compat::optional<at::Tensor>(saved[3]) : compat::nullopt;
    at::Tensor grad_x, grad_weight, grad_bias, grad_init;
    std::tie(grad_x, grad_weight, grad_bias, grad_init) =
        op.call(grad_outputs[0], x, weight, bias, init, ctx->saved_data["silu"].toBool());
    // The weight gradient in the layout the weight was given: (dim, W) or (dim, 1, W).
    grad_weight = grad_weight.view(weight.sizes());
    // One entry per forward argument: x, weight, bias, initial_state, silu.
    return {grad_x, grad_weight, grad_bias, grad_init, at::Tensor()};
  }
};

at::Tensor causal_conv1d_autograd(const at::Tensor& x, const at::Tensor& weight,
                                  const compat::optional<at::Tensor>& bias, const compat::optional<at::Tensor>& init,
                                  bool silu) {
  return CausalConv1dFunction::apply(x, weight, bias, init, silu);
}

at::Tensor causal_conv1d_update_autograd(const at::Tensor& x, const at::Tensor& conv_state, const at::Tensor& weight,
                                         const compat::optional<at::Tensor>& bias, bool silu) {
  if (at::GradMode::is_enabled()) {
    const bool needs_grad = x.requires_grad() || conv_state.requires_grad() || weight.requires_grad() ||
                            (bias.has_value() && bias->defined() && bias->requires_grad());
    TORCH_CHECK(!needs_grad,
                "strand::causal_conv1d_update is not differentiable and an input requires grad; run decoding "
                "under torch::NoGradGuard or c10::InferenceMode");
  }
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::causal_conv1d_update", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                         const compat::optional<at::Tensor>&, bool)>();
  at::Tensor out;
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    out = op.call(x, conv_state, weight, bias, silu);
  }
  // conv_state was written in place: bump its version so that saved copies of it are detected.
  if (!conv_state.is_inference()) torch::autograd::impl::bump_version(conv_state);
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, Autograd, m) {
  m.impl("causal_conv1d", &causal_conv1d_autograd);
  m.impl("causal_conv1d_update", &causal_conv1d_update_autograd);
}

}  // namespace strand::kernels
