// Sampling from causal models: the filters against hand-computed distributions, determinism under
// a seed, prompts of different lengths, stopping at <eos> and at the token limit, and agreement of
// the step-by-step logits with the full forward pass that sampling relies on.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>

#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "libseq/infer/sampling.h"

namespace infer = strand::infer;
namespace models = strand::models;

namespace {

models::SequenceModel tiny_lm() {
  models::ModelConfig c;
  c.vocab_size = 9;
  c.pad_id = 0;
  c.backbone.d_model = 16;
  c.backbone.pattern = "AA";
  c.backbone.causal = true;
  c.backbone.mixers = {{"A", {{"n_heads", 2}}}};
  c.backbone.normalise("test");
  c.head.kind = models::HeadKind::CausalLM;
  strand::manual_seed(3);
  return models::SequenceModel(c);
}

}  // namespace

TEST(Sampling, FiltersFollowTheirDefinitions) {
  const at::Tensor logits = at::log(at::tensor({0.5, 0.2, 0.15, 0.1, 0.05}, at::kDouble)).unsqueeze(0);
  infer::SamplingOptions o;
  at::Tensor p = infer::filtered_probabilities(logits, o);
  EXPECT_TRUE(at::allclose(p, at::tensor({0.5, 0.2, 0.15, 0.1, 0.05}, at::kFloat).unsqueeze(0), 1e-6, 1e-6));
  o.top_k = 2;  // 0.5 and 0.2, renormalised
  p = infer::filtered_probabilities(logits, o);
  EXPECT_TRUE(at::allclose(p, at::tensor({5.0 / 7, 2.0 / 7, 0.0, 0.0, 0.0}, at::kFloat).unsqueeze(0), 1e-6, 1e-6));
  o.top_k = 0;
  o.top_p = 0.8;  // 0.5 + 0.2 < 0.8, so 0.15 is needed too
  p = infer::filtered_probabilities(logits, o);
  EXPECT_TRUE(at::allclose(p, at::tensor({0.5 / 0.85, 0.2 / 0.85, 0.15 / 0.85, 0.0, 0.0}, at::kFloat).unsqueeze(0), 1e-6, 1e-6));
  o.top_p = 1;
  o.temperature = 2;  // p^(1/2), renormalised
  p = infer::filtered_probabilities(logits, o);
  const double z = std::sqrt(0.5) + std::sqrt(0.2) + std::sqrt(0.15) + std::sqrt(0.1) + std::sqrt(0.05);
  EXPECT_NEAR(p[0][0].item<double>(), std::sqrt(0.5) / z, 1e-6);
  o.temperature = 1;
  o.banned = {0};
  p = infer::filtered_probabilities(logits, o);
  EXPECT_EQ(p[0][0].item<double>(), 0.0);
  EXPECT_NEAR(p[0][1].item<double>(), 0.4, 1e-6);
  o.temperature = 0;
  EXPECT_THROW(infer::filtered_probabilities(logits, o), strand::InputError);
  o.temperature = 1;
  o.top_p = 0;
  EXPECT_THROW(infer::filtered_probabilities(logits, o), strand::InputError);
}

TEST(Sampling, SameSeedSameSamplesAndPromptsOfAnyLength) {
  auto model = tiny_lm();
  infer::SamplingOptions o;
  o.max_new_tokens = 12;
  o.banned = {0};
  const std::vector<std::vector<int32_t>> prompts = {{1}, {1, 4, 5, 6}, {1, 2}};
  at::Generator g1 = at::detail::createCPUGenerator(7);
  at::Generator g2 = at::detail::createCPUGenerator(7);
  const auto a = infer::sample(model, prompts, /*eos=*/8, o, g1);
  const auto b = infer::sample(model, prompts, 8, o, g2);
  EXPECT_EQ(a, b);
  ASSERT_EQ(a.size(), 3u);
  for (const auto& row : a) {
    EXPECT_LE(row.size(), 12u);
    for (const int32_t id : row) {
      EXPECT_NE(id, 8);  // eos ends a row and is not returned
      EXPECT_NE(id, 0);  // banned
    }
  }
  // A row decoded alone equals the same row in a batch only in distribution, not draw for draw;
  // but the first token after a long prompt must follow the full forward pass's last logits.
  const at::Tensor ids = at::tensor({1, 4, 5, 6}, at::kLong).unsqueeze(0);
  const at::Tensor full = model->forward(ids, at::Tensor()).logits.select(1, 3);
  auto state = model->make_state(1);
  at::Tensor stepped;
  for (int64_t t = 0; t < 4; ++t) stepped = model->step(ids.select(1, t), state);
  EXPECT_TRUE(at::allclose(stepped, full, 1e-5, 1e-5));
}

TEST(Sampling, StopsAtEosAndAtTheLimit) {
  auto model = tiny_lm();
  infer::SamplingOptions o;
  o.max_new_tokens = 5;
  // Only eos allowed: every row stops at once with nothing sampled.
  o.banned = {0, 1, 2, 3, 4, 5, 6, 7};
  at::Generator g = at::detail::createCPUGenerator(1);
  for (const auto& row : infer::sample(model, {{1}, {1, 2, 3}}, 8, o, g)) EXPECT_TRUE(row.empty());
  // eos banned: rows run to the limit.
  o.banned = {8};
  for (const auto& row : infer::sample(model, {{1}, {1, 2, 3}}, 8, o, g)) EXPECT_EQ(row.size(), 5u);
  EXPECT_THROW(infer::sample(model, {{}}, 8, o, g), strand::InputError);
}
