// The sequence-mixer interface every backbone layer type implements (attention here; Mamba,
// xLSTM, Gated DeltaNet and others register further letters), and the registry that maps a
// layer-pattern letter to a mixer.
//
// Shapes: x is (batch, length, d_model); mask is undefined (every position is a token) or a
// (batch, length) bool tensor, true for real tokens. Padding sits at the end of each row.
// A mixer's output at padded positions is finite but otherwise unspecified, and real positions
// never depend on padded ones.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <functional>
#include <map>
#include <memory>
#include <string>

namespace strand::mixers {

/// Recurrent state of one mixer for step-by-step decoding (e.g. an attention KV cache, an SSM
/// state). Created by Mixer::make_state; owned by the caller; one per sequence batch.
struct MixerState {
  virtual ~MixerState() = default;
  /// Positions consumed so far.
  int64_t length = 0;
};

class Mixer : public torch::nn::Module {
 public:
  /// Full-sequence forward: (B, L, D) -> (B, L, D).
  virtual at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) = 0;

  /// True when step() and prefill() are available (causal mixers that can decode).
  virtual bool supports_step() const { return false; }
  /// A fresh state for `batch` sequences. Throws UnsupportedError when !supports_step().
  virtual std::unique_ptr<MixerState> make_state(int64_t batch) const;
  /// One position: x_t (B, D) -> (B, D), advancing `state` by one. The result equals row t of
  /// forward() over the whole sequence. Throws UnsupportedError when !supports_step().
  virtual at::Tensor step(const at::Tensor& x_t, MixerState& state);
  /// Several positions at once (B, L, D) -> (B, L, D) without padding, continuing from `state`
  /// and advancing it by L. The default runs step() L times.
  virtual at::Tensor prefill(const at::Tensor& x, MixerState& state);
};

/// What a mixer factory is given for one layer.
struct MixerContext {
  int64_t d_model = 0;
  int64_t layer = 0;      ///< 0-based layer index in the backbone
  int64_t n_layers = 1;   ///< blocks in the backbone (residual-scaled initialisation)
  bool has_mlp = false;   ///< the block adds an MLP residual after the mixer
  bool causal = true;     ///< false for bidirectional (masked-LM) backbones
  nlohmann::json options; ///< this letter's object from config "mixers" (already normalised)
  std::string where;      ///< config location for messages, e.g. "config.json: mixers.A"
};

/// A registered layer type.
struct MixerType {
  char letter = '?';
  std::string name;  ///< e.g. "attention"
  /// Fills defaults into a user's options object and validates it (unknown keys, ranges) for a
  /// backbone of width d_model; throws ConfigError naming `where`. The result is what config.json
  /// stores, so a saved model never depends on defaults that may change.
  std::function<nlohmann::json(const nlohmann::json& options, int64_t d_model, const std::string& where)> normalise;
  std::function<std::shared_ptr<Mixer>(const MixerContext&)> create;
};

/// The process-wide registry of layer letters. Registration happens at static initialisation of
/// the mixer's translation unit (see register_mixer); lookups are thread-safe afterwards.
class MixerRegistry {
 public:
  void add(MixerType type);
  /// Throws ConfigError listing the known letters when `letter` is unknown.
  const MixerType& get(char letter, const std::string& where) const;
  bool has(char letter) const;
  /// Letters and names, for help texts ("A attention, M mamba").
  std::string describe() const;

 private:
  std::map<char, MixerType> types_;
};

MixerRegistry& mixer_registry();

/// Registers the built-in mixers (idempotent). Called by the backbone before any lookup, so that
/// static libraries cannot drop a mixer's registration.
void register_builtin_mixers();

}  // namespace strand::mixers
