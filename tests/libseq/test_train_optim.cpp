// AdamW parameter groups (weight-decay rule) and the warm-up + cosine schedule.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/utils.h>

#include <cmath>
#include <set>
#include <string>

#include "libseq/core/error.h"
#include "libseq/train/optim.h"
#include "libseq/train/schedule.h"

namespace {

using strand::train::AdamWOptions;
using strand::train::ScheduleOptions;

struct ToyImpl : torch::nn::Module {
  ToyImpl() {
    embed_tokens = register_module("embed_tokens", torch::nn::Embedding(10, 4));
    proj = register_module("proj", torch::nn::Linear(4, 3));
    norm = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({3})));
    // 2-D parameters whose names alone decide: upper-case "Norm" and an extra fragment.
    hf_norm = register_parameter("LayerNorm_scale", at::ones({3, 3}));
    gate = register_parameter("gate_logits", at::ones({2, 3}));
    frozen = register_parameter("frozen", at::ones({3, 3}), /*requires_grad=*/false);
    a_log = register_parameter("mixer_A_log", at::ones({3, 2}));
  }
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::Linear proj{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  at::Tensor hf_norm, gate, frozen, a_log;
};
TORCH_MODULE(Toy);

TEST(AdamWGroups, WeightMatricesDecayNormsBiasesAndEmbeddingsDoNot) {
  Toy toy;
  const auto split = strand::train::split_weight_decay(*toy, {"gate"});
  EXPECT_EQ(split.decay, (std::vector<std::string>{"proj.weight"}));
  const std::set<std::string> no_decay(split.no_decay.begin(), split.no_decay.end());
  EXPECT_EQ(no_decay, (std::set<std::string>{"LayerNorm_scale", "gate_logits", "embed_tokens.weight", "proj.bias",
                                             "norm.weight", "norm.bias", "mixer_A_log"}));
  // Without the extra fragment the gate matrix decays.
  const auto plain = strand::train::split_weight_decay(*toy);
  EXPECT_EQ(plain.decay, (std::vector<std::string>{"gate_logits", "proj.weight"}));

  AdamWOptions options;
  options.weight_decay = 0.1;
  options.extra_no_decay = {"gate"};
  auto adamw = strand::train::make_adamw(*toy, options);
  ASSERT_EQ(adamw->param_groups().size(), 2u);
  const auto& decay_group = adamw->param_groups()[strand::train::kDecayGroup];
  const auto& no_decay_group = adamw->param_groups()[strand::train::kNoDecayGroup];
  EXPECT_EQ(decay_group.params().size(), 1u);
  EXPECT_EQ(no_decay_group.params().size(), 7u);
  EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(decay_group.options()).weight_decay(), 0.1);
  EXPECT_EQ(static_cast<const torch::optim::AdamWOptions&>(no_decay_group.options()).weight_decay(), 0.0);
}

TEST(AdamWGroups, DecayIsDecoupledFromTheGradient) {
  // With a zero gradient Adam's update is 0 / (0 + eps) = 0, so only the decoupled decay acts:
  // decay parameters shrink by exactly (1 - lr * wd), the others do not move.
  Toy toy;
  AdamWOptions options;
  options.lr = 0.5;
  options.weight_decay = 0.2;
  auto adamw = strand::train::make_adamw(*toy, options);
  std::map<std::string, at::Tensor> before;
  for (const auto& p : toy->named_parameters()) {
    before[p.key()] = p.value().detach().clone();
    p.value().mutable_grad() = at::zeros_like(p.value());
  }
  adamw->step();
  for (const auto& p : toy->named_parameters()) {
    const at::Tensor& old = before[p.key()];
    if (p.key() == "proj.weight" || p.key() == "gate_logits") {
      EXPECT_TRUE(at::allclose(p.value(), old * (1 - 0.5 * 0.2), 1e-6, 1e-7)) << p.key();
      EXPECT_FALSE(p.value().equal(old)) << p.key();
    } else {
      EXPECT_TRUE(p.value().equal(old)) << p.key();
    }
  }
}

TEST(AdamWGroups, RejectsBadOptions) {
  Toy toy;
  AdamWOptions o;
  o.betas = {0.9, 1.0};
  EXPECT_THROW(strand::train::make_adamw(*toy, o), strand::InputError);
  o = AdamWOptions();
  o.weight_decay = -1;
  EXPECT_THROW(strand::train::make_adamw(*toy, o), strand::InputError);
  torch::nn::Module empty;
  EXPECT_THROW(strand::train::make_adamw(empty, AdamWOptions()), strand::InputError);
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  ScheduleOptions s;
  s.peak_lr = 1e-3;
  s.warmup_steps = 10;
  s.total_steps = 110;
  s.min_lr_ratio = 0.1;
  EXPECT_EQ(strand::train::lr_at(s, 0), 0.0);
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 1), 1e-4);
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 5), 5e-4);
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 10), 1e-3);
  // Half-way through the decay: the mean of peak and floor.
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 60), 0.5 * (1e-3 + 1e-4));
  // A quarter of the way: floor + (peak - floor) (1 + cos(pi/4)) / 2.
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 35), 1e-4 + 9e-4 * 0.5 * (1 + std::cos(M_PI / 4)));
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 110), 1e-4);
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 500), 1e-4);
  for (int64_t t = 1; t <= 10; ++t) EXPECT_GT(strand::train::lr_at(s, t), strand::train::lr_at(s, t - 1));
  for (int64_t t = 11; t <= 110; ++t) EXPECT_LT(strand::train::lr_at(s, t), strand::train::lr_at(s, t - 1));

  s.warmup_steps = 0;
  EXPECT_EQ(strand::train::lr_at(s, 0), 1e-3);
  s.warmup_steps = 110;
  EXPECT_DOUBLE_EQ(strand::train::lr_at(s, 110), 1e-3);  // no decay when warm-up fills the run
}

TEST(Schedule, ApplySetsEveryGroup) {
  Toy toy;
  auto adamw = strand::train::make_adamw(*toy, AdamWOptions());
  ScheduleOptions s;
  s.peak_lr = 2e-3;
  s.warmup_steps = 4;
  s.total_steps = 8;
  const strand::train::WarmupCosineSchedule schedule(s);
  EXPECT_DOUBLE_EQ(schedule.apply(*adamw, 2), 1e-3);
  for (const auto& g : adamw->param_groups()) EXPECT_DOUBLE_EQ(g.options().get_lr(), 1e-3);
}

TEST(Schedule, ValidatesAndRoundTripsJson) {
  ScheduleOptions s;
  s.peak_lr = 3e-4;
  s.warmup_steps = 7;
  s.total_steps = 70;
  s.min_lr_ratio = 0.05;
  EXPECT_EQ(ScheduleOptions::from_json(s.to_json(), "test"), s);
  auto j = s.to_json();
  j["warmup"] = 3;
  EXPECT_THROW(ScheduleOptions::from_json(j, "test"), strand::ConfigError);
  ScheduleOptions bad = s;
  bad.warmup_steps = 71;
  EXPECT_THROW(strand::train::WarmupCosineSchedule{bad}, strand::InputError);
  bad = s;
  bad.min_lr_ratio = 1.5;
  EXPECT_THROW(strand::train::lr_at(bad, 1), strand::InputError);
  EXPECT_THROW(strand::train::lr_at(s, -1), strand::InputError);
}

}  // namespace
