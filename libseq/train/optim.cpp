#include "libseq/train/optim.h"

#include <algorithm>
#include <cctype>
#include <tuple>

#include "libseq/core/error.h"

namespace strand::train {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_fragment(const std::string& lower_name, const std::string& fragment) {
  return !fragment.empty() && lower_name.find(lower(fragment)) != std::string::npos;
}

}  // namespace

bool applies_weight_decay(const std::string& name, const at::Tensor& param,
                          const std::vector<std::string>& extra_no_decay) {
  if (param.dim() <= 1) return false;
  const std::string n = lower(name);
  if (contains_fragment(n, "norm") || contains_fragment(n, "embed")) return false;
  // State-space decay rates (Mamba's A_log, (d_inner, d_state)) are not regularised towards 0.
  if (contains_fragment(n, "a_log")) return false;
  for (const auto& fragment : extra_no_decay)
    if (contains_fragment(n, fragment)) return false;
  return true;
}

WeightDecaySplit split_weight_decay(const torch::nn::Module& module, const std::vector<std::string>& extra_no_decay) {
  WeightDecaySplit split;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    (applies_weight_decay(item.key(), item.value(), extra_no_decay) ? split.decay : split.no_decay)
        .push_back(item.key());
  }
  return split;
}

std::unique_ptr<torch::optim::AdamW> make_adamw(const torch::nn::Module& module, const AdamWOptions& options) {
  STRAND_CHECK(options.lr >= 0, "AdamW: lr must be >= 0, got ", options.lr);
  STRAND_CHECK(options.eps >= 0, "AdamW: eps must be >= 0, got ", options.eps);
  STRAND_CHECK(options.weight_decay >= 0, "AdamW: weight_decay must be >= 0, got ", options.weight_decay);
  STRAND_CHECK(options.betas.first >= 0 && options.betas.first < 1, "AdamW: beta1 must be in [0, 1), got ",
               options.betas.first);
  STRAND_CHECK(options.betas.second >= 0 && options.betas.second < 1, "AdamW: beta2 must be in [0, 1), got ",
               options.betas.second);

  std::vector<at::Tensor> decay;
  std::vector<at::Tensor> no_decay;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    if (!item.value().requires_grad()) continue;
    (applies_weight_decay(item.key(), item.value(), options.extra_no_decay) ? decay : no_decay)
        .push_back(item.value());
  }
  STRAND_CHECK(!decay.empty() || !no_decay.empty(), "AdamW: the module has no trainable parameters");

  torch::optim::AdamWOptions base(options.lr);
  base.betas(std::make_tuple(options.betas.first, options.betas.second)).eps(options.eps).amsgrad(false);
  auto decay_options = std::make_unique<torch::optim::AdamWOptions>(base);
  decay_options->weight_decay(options.weight_decay);
  auto no_decay_options = std::make_unique<torch::optim::AdamWOptions>(base);
  no_decay_options->weight_decay(0.0);

  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::move(decay), std::move(decay_options));
  groups.emplace_back(std::move(no_decay), std::move(no_decay_options));
  base.weight_decay(options.weight_decay);
  return std::make_unique<torch::optim::AdamW>(std::move(groups), base);
}

}  // namespace strand::train
