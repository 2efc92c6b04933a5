// A backbone: a stack of pre-norm residual blocks built from a layer-pattern string, one letter
// per block ("AAAA" four attention blocks; later letters add Mamba, xLSTM, ...), and a final norm.
//
//   block i:  x = x + mixer_i(norm1_i(x), mask);  x = x + mlp_i(norm2_i(x))   (MLP optional)
//   output:   norm_f(x)                                                       (optional)
//
// Parameter names: blocks.{i}.norm1.*, blocks.{i}.mixer.*, blocks.{i}.norm2.*, blocks.{i}.mlp.*,
// norm_f.*. Shapes (batch, length, d_model). Not thread-safe while training; forward in eval
// mode from several threads on the same backbone is safe.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <memory>
#include <string>
#include <vector>

#include "libseq/mixers/mixer.h"
#include "libseq/nn/layers.h"

namespace strand::models {

struct BackboneConfig {
  int64_t d_model = 128;
  std::string pattern = "AAAA";
  bool causal = true;  ///< false: bidirectional mixers (masked-LM models)
  nn::NormKind norm = nn::NormKind::RMS;
  double norm_eps = 1e-5;
  bool norm_bias = false;  ///< LayerNorm only
  nn::MlpKind mlp = nn::MlpKind::SwiGLU;
  int64_t mlp_hidden = 0;  ///< 0 = default: 4 * d_model (GELU) or 8/3 * d_model rounded up to 8 (SwiGLU)
  bool mlp_bias = false;
  bool final_norm = true;
  /// Per-letter mixer options, normalised (every default filled in) by from_json / normalise().
  nlohmann::json mixers = nlohmann::json::object();

  /// Reads and validates a "backbone" object; unknown keys, a bad pattern or bad sizes are a
  /// ConfigError naming `source`.
  static BackboneConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  /// Fills defaults (mlp_hidden, every mixer's options) so that to_json() is complete.
  void normalise(const std::string& source);
};

/// Which intermediate outputs forward() records. Layer k of a backbone with n blocks:
/// 0 = the input (embeddings), 1..n-1 = output of block k-1, n = the final output (after norm_f).
/// This is the Hugging Face hidden_states convention.
struct Taps {
  std::vector<int64_t> layers;           ///< requested (negative counts from the end: -1 = n)
  std::vector<at::Tensor> outputs;       ///< filled in the order of `layers`
};

class BlockImpl : public torch::nn::Module {
 public:
  BlockImpl(const BackboneConfig& config, int64_t layer, char letter);
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask);
  at::Tensor step(const at::Tensor& x_t, mixers::MixerState& state);
  at::Tensor prefill(const at::Tensor& x, mixers::MixerState& state);
  mixers::Mixer& mixer() { return *mixer_; }
  const mixers::Mixer& mixer() const { return *mixer_; }

 private:
  nn::Norm norm1_{nullptr};
  std::shared_ptr<mixers::Mixer> mixer_;
  nn::Norm norm2_{nullptr};
  nn::Mlp mlp_{nullptr};
};
TORCH_MODULE(Block);

/// Decoding state of a whole backbone: one mixer state per block.
struct BackboneState {
  std::vector<std::unique_ptr<mixers::MixerState>> layers;
  int64_t length = 0;
};

class BackboneImpl : public torch::nn::Module {
 public:
  explicit BackboneImpl(const BackboneConfig& config);

  /// x (B, L, D), mask undefined or (B, L) bool -> (B, L, D). Records `taps` when given.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask, Taps* taps = nullptr);

  /// True when every block's mixer supports step-by-step decoding.
  bool supports_step() const;
  BackboneState make_state(int64_t batch) const;
  /// x_t (B, D) -> (B, D), equal to the last row of forward() over the whole prefix.
  at::Tensor step(const at::Tensor& x_t, BackboneState& state);
  /// (B, L, D) without padding, continuing from state.
  at::Tensor prefill(const at::Tensor& x, BackboneState& state);

  int64_t num_layers() const { return static_cast<int64_t>(blocks_.size()); }
  const BackboneConfig& config() const noexcept { return config_; }

 private:
  BackboneConfig config_;
  std::vector<Block> blocks_;
  nn::Norm norm_f_{nullptr};
};
TORCH_MODULE(Backbone);

/// Resolves a tap layer index (negative from the end) against n blocks; InputError when outside
/// [-(n+1), n].
int64_t resolve_layer(int64_t layer, int64_t num_blocks);

}  // namespace strand::models
