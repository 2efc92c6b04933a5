// AdamW with decoupled weight decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay
// Regularization") over two parameter groups: weight matrices decay, everything else does not.
//
// Which parameters decay: a trainable parameter (requires_grad) is left out of weight decay when
//   - it is 1-D or 0-D (biases, norm gains, scalar gates), or
//   - its fully qualified name (as named_parameters() spells it, e.g. "layers.0.norm.weight")
//     contains "norm" or "embed", compared case-insensitively ("LayerNorm.weight" and
//     "tok_embeddings.weight" match), or
//   - its name contains "A_log" (the state-space decay rates of Mamba blocks, which Mamba trains
//     without weight decay), or
//   - its name contains one of the caller's extra fragments (also case-insensitive).
// Every other trainable parameter (in practice the weight matrices of linear and convolution
// layers) decays. Frozen parameters (requires_grad false) are in neither group.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace strand::train {

/// AdamW hyper-parameters. The defaults are LibTorch's.
struct AdamWOptions {
  double lr = 1e-3;                             ///< initial learning rate (a schedule overrides it)
  std::pair<double, double> betas{0.9, 0.999};  ///< moment decay rates, each in [0, 1)
  double eps = 1e-8;                            ///< denominator term, >= 0
  double weight_decay = 0.01;                   ///< decoupled decay of the decay group, >= 0
  /// More name fragments whose parameters never decay (case-insensitive), e.g. {"pos_bias"}.
  std::vector<std::string> extra_no_decay;
};

/// Index of each group in the optimizer's param_groups().
inline constexpr size_t kDecayGroup = 0;
inline constexpr size_t kNoDecayGroup = 1;

/// True when the parameter `name` with value `param` takes weight decay under the rule at the top
/// of this header. Pure; thread-safe.
bool applies_weight_decay(const std::string& name, const at::Tensor& param,
                          const std::vector<std::string>& extra_no_decay = {});

/// The names of a module's trainable parameters, split by the rule above, each list in
/// named_parameters() order.
struct WeightDecaySplit {
  std::vector<std::string> decay;
  std::vector<std::string> no_decay;
};
WeightDecaySplit split_weight_decay(const torch::nn::Module& module, const std::vector<std::string>& extra_no_decay = {});

/// Builds torch::optim::AdamW over `module`'s trainable parameters with exactly two groups:
/// param_groups()[kDecayGroup] (weight_decay = options.weight_decay) and
/// param_groups()[kNoDecayGroup] (weight_decay = 0). A group may hold no parameters. Both groups
/// share lr, betas and eps; amsgrad is off.
/// Throws strand::InputError for lr < 0, eps < 0, weight_decay < 0, a beta outside [0, 1), or a
/// module without trainable parameters. The optimizer keeps references to the module's parameter
/// tensors: the module must outlive it and its parameters must not be replaced (loading weights
/// in place with copy_ is fine).
std::unique_ptr<torch::optim::AdamW> make_adamw(const torch::nn::Module& module, const AdamWOptions& options);

}  // namespace strand::train
