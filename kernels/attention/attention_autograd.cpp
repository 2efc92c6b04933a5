// Autograd for strand::attention: the forward keeps (q, k, v, out, logsumexp) and the backward
// calls strand::_attention_backward, which each device implements (blocked on CPU, materialised
// from the logsumexp on CUDA). Nothing of size Lq x Lk is saved.
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include "kernels/attention/attention.h"
#include "kernels/attention/attention_internal.h"

namespace strand::kernels {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class AttentionFunction : public torch::autograd::Function<AttentionFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const compat::optional<at::Tensor>& mask, bool causal, double scale, int64_t q_offset) {
    static auto op =
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("strand::_attention_forward", "")
            .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                                      const compat::optional<at::Tensor>&, bool, double, int64_t)>();
    at::Tensor out, lse;
    {
      at::AutoDispatchBelowADInplaceOrView guard;
      std::tie(out, lse) = op.call(q, k, v, mask, causal, scale, q_offset);
    }
    ctx->save_for_backward({q, k, v, out, lse});
    ctx->saved_data["mask"] = mask.has_value() && mask->defined() ? c10::IValue(*mask) : c10::IValue();
    ctx->saved_data["causal"] = causal;
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["q_offset"] = q_offset;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    TORCH_CHECK(!at::GradMode::is_enabled(),
                "strand::attention: second derivatives are not supported (backward with create_graph); "
                "use strand::attention_naive for higher-order gradients");
    static auto op =
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("strand::_attention_backward", "")
            .typed<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
                const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                const compat::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&, bool, double, int64_t)>();
    const auto saved = ctx->get_saved_variables();
    const c10::IValue& mask_value = ctx->saved_data["mask"];
    const compat::optional<at::Tensor> mask = mask_value.isTensor() && mask_value.toTensor().defined()
                                                  ? compat::optional<at::Tensor>(mask_value.toTensor())
                                                  : compat::nullopt;
    at::Tensor grad_q, grad_k, grad_v;
    std::tie(grad_q, grad_k, grad_v) = op.call(grad_outputs[0], saved[0], saved[1], saved[2], mask, saved[3], saved[4],
                                               ctx->saved_data["causal"].toBool(), ctx->saved_data["scale"].toDouble(),
                                               ctx->saved_data["q_offset"].toInt());
    // One entry per forward argument: q, k, v, then mask, causal, scale, q_offset (no gradient).
    return {grad_q, grad_k, grad_v, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor attention_autograd(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                              const compat::optional<at::Tensor>& mask, bool causal, double scale, int64_t q_offset) {
  return AttentionFunction::apply(q, k, v, mask, causal, scale, q_offset);
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, Autograd, m) { m.impl("attention", &attention_autograd); }

}  // namespace strand::kernels
