// Multi-head self-attention mixer (layer letter 'A'): causal or bidirectional, rotary position
// embeddings (rotate-half, base 10000 by default), padding masks, and a KV cache for decoding.
// Scores are computed by strand::attention (kernels/attention), the blocked online-softmax kernel
// whose memory is O(length), never (length x length).
//
// Options (config.json "mixers": {"A": {...}}), defaults in brackets:
//   n_heads [max(1, d_model / 64)]   number of heads; d_model must be divisible by it
//   rotary [true]                    rotary position embeddings on q and k
//   rope_base [10000]
//   bias [false]                     biases on the q, k, v and output projections
// Parameters: q_proj, k_proj, v_proj, o_proj (Linear d_model -> d_model; ".weight", ".bias").
// Queries are scaled by head_dim^-1/2.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/linear.h>

#include <optional>

#include "libseq/mixers/mixer.h"
#include "libseq/nn/layers.h"

namespace strand::mixers {

struct AttentionOptions {
  int64_t d_model = 0;
  int64_t n_heads = 1;
  bool causal = true;
  bool rotary = true;
  double rope_base = 10000.0;
  bool bias = false;
};

/// KV cache: keys and values of every position seen, (B, H, capacity, head_dim), first `length`
/// valid. Capacity doubles as needed, so decoding n tokens copies O(n) elements in total.
struct AttentionState : MixerState {
  at::Tensor k;
  at::Tensor v;
};

class AttentionMixer : public Mixer {
 public:
  explicit AttentionMixer(const AttentionOptions& options);

  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) override;
  bool supports_step() const override { return options_.causal; }
  std::unique_ptr<MixerState> make_state(int64_t batch) const override;
  at::Tensor step(const at::Tensor& x_t, MixerState& state) override;
  at::Tensor prefill(const at::Tensor& x, MixerState& state) override;

  const AttentionOptions& options() const noexcept { return options_; }

 private:
  /// (B, L, D) -> (B, H, L, head_dim) for q, k, v with rotary applied at positions offset...
  void project(const at::Tensor& x, int64_t offset, at::Tensor& q, at::Tensor& k, at::Tensor& v);
  at::Tensor merge(const at::Tensor& heads);  ///< (B, H, L, hd) -> o_proj((B, L, D))
  at::Tensor cached_forward(const at::Tensor& x, AttentionState& state);

  AttentionOptions options_;
  int64_t head_dim_;
  std::optional<nn::Rotary> rotary_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, o_proj_{nullptr};
};

/// The registry entry for letter 'A'.
MixerType attention_mixer_type();

}  // namespace strand::mixers
