#include "libseq/infer/sampling.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <limits>

#include "libseq/core/error.h"

namespace strand::infer {

at::Tensor filtered_probabilities(const at::Tensor& logits, const SamplingOptions& o) {
  STRAND_CHECK(o.temperature > 0, "sampling temperature must be > 0, got ", o.temperature);
  STRAND_CHECK(o.top_k >= 0, "top-k must be >= 0, got ", o.top_k);
  STRAND_CHECK(o.top_p > 0 && o.top_p <= 1, "top-p must be in (0, 1], got ", o.top_p);
  at::Tensor x = logits.to(at::kFloat) / o.temperature;
  const int64_t vocab = x.size(-1);
  const float neg_inf = -std::numeric_limits<float>::infinity();
  if (!o.banned.empty()) {
    std::vector<int64_t> ids;
    for (const int32_t id : o.banned)
      if (id >= 0 && id < vocab) ids.push_back(id);
    if (!ids.empty()) x.index_fill_(-1, at::tensor(ids, at::kLong).to(x.device()), neg_inf);
  }
  if (o.top_k > 0 && o.top_k < vocab) {
    const at::Tensor kth = std::get<0>(x.topk(o.top_k, -1)).select(-1, o.top_k - 1).unsqueeze(-1);
    x = x.masked_fill(x < kth, neg_inf);
  }
  at::Tensor probs = at::softmax(x, -1);
  if (o.top_p < 1) {
    auto [sorted, order] = probs.sort(-1, /*descending=*/true);
    const at::Tensor before = sorted.cumsum(-1) - sorted;  // mass of the more likely tokens
    // Keep a token while the mass before it is below p (the most likely token is always kept).
    const at::Tensor drop_sorted = before >= o.top_p;
    const at::Tensor drop = at::zeros_like(drop_sorted).scatter(-1, order, drop_sorted);
    probs = probs.masked_fill(drop, 0);
    probs = probs / probs.sum(-1, true);
  }
  return probs;
}

std::vector<std::vector<int32_t>> sample(models::SequenceModel& model, const std::vector<std::vector<int32_t>>& prompts,
                                         int32_t eos, const SamplingOptions& o,
                                         at::Generator& generator, const std::function<void(int64_t)>& on_token) {
  STRAND_CHECK(model->config().backbone.causal, "sampling needs a causal language model (trained with --objective clm)");
  const auto batch = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<int32_t>> out(prompts.size());
  if (batch == 0) return out;
  size_t longest = 0;
  for (const auto& p : prompts) {
    STRAND_CHECK(!p.empty(), "every prompt needs at least one token (e.g. <bos>)");
    longest = std::max(longest, p.size());
  }
  const c10::NoGradGuard no_grad;
  model->eval();
  const at::Device device = model->embedding()->weight.device();
  models::BackboneState state = model->make_state(batch);
  std::vector<int64_t> next(prompts.size());
  std::vector<bool> done(prompts.size(), false);
  int64_t running = batch;
  for (size_t t = 0; running > 0; ++t) {
    for (size_t b = 0; b < prompts.size(); ++b)
      next[b] = t < prompts[b].size() ? prompts[b][t] : (out[b].empty() ? prompts[b].back() : out[b].back());
    const at::Tensor logits = model->step(at::tensor(next, at::kLong).to(device), state);
    const at::Tensor probs = filtered_probabilities(logits, o).to(at::kCPU);
    const at::Tensor drawn = at::multinomial(probs, 1, false, generator).view(-1);
    const auto* ids = drawn.data_ptr<int64_t>();
    for (size_t b = 0; b < prompts.size(); ++b) {
      if (done[b] || t + 1 < prompts[b].size()) continue;  // still reading the prompt
      const auto id = static_cast<int32_t>(ids[b]);
      if (id == eos || static_cast<int64_t>(out[b].size()) >= o.max_new_tokens) {
        done[b] = true;
        --running;
        continue;
      }
      out[b].push_back(id);
      if (on_token) on_token(static_cast<int64_t>(b));
    }
  }
  return out;
}

}  // namespace strand::infer
