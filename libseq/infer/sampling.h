// Autoregressive sampling from a causal language model, batched, on the models' step-by-step
// decoding (mixer states / KV caches): temperature, top-k and nucleus (top-p) filtering, a seeded
// generator so that the same seed gives the same samples.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "libseq/models/model.h"

namespace strand::infer {

struct SamplingOptions {
  double temperature = 1.0;    ///< > 0; logits are divided by it
  int64_t top_k = 0;           ///< keep the k most likely tokens; 0 = all
  double top_p = 1.0;          ///< keep the smallest set of tokens whose probability reaches p; 1 = all
  int64_t max_new_tokens = 128;
  /// Ids never sampled (e.g. <pad>, <bos>, <mask>, <unk>); their probability is set to 0.
  std::vector<int32_t> banned;
};

/// Probabilities (B, V) after temperature, top-k and top-p filtering of `logits` (B, V).
/// Throws InputError for temperature <= 0, top_k < 0 or top_p outside (0, 1].
at::Tensor filtered_probabilities(const at::Tensor& logits, const SamplingOptions& options);

/// Continues each prompt (token ids, special tokens included, at least one id) until `eos` or
/// max_new_tokens. Prompts may differ in length: each row is fed its own prompt, then its samples.
/// Returns the new tokens of each row (eos excluded). The model must be causal and support
/// step(); it is put in eval mode and run without gradients. `on_token(row)` (optional) is called
/// once per sampled token, e.g. for progress.
std::vector<std::vector<int32_t>> sample(models::SequenceModel& model, const std::vector<std::vector<int32_t>>& prompts,
                                         int32_t eos, const SamplingOptions& options, at::Generator& generator,
                                         const std::function<void(int64_t)>& on_token = {});

}  // namespace strand::infer
