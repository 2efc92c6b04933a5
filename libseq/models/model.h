// A sequence model: token embedding + backbone + head, its config.json, and the model directory
// (config.json + model.safetensors + tokenizer.json) it is saved to and loaded from.
//
// Architectures (config "architecture"):
//   "strand"  our own layout, any layer pattern, any head.
//   "esm"     the ESM / Nucleotide Transformer v2 encoder (pre-LayerNorm blocks, attention with
//             biases and rotary embeddings, SwiGLU without biases, final LayerNorm, ESM LM head).
//             It is the "strand" backbone with those settings; a Hugging Face NTv2 directory
//             (config.json with "model_type": "esm", model.safetensors) loads by key name.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <map>
#include <string>
#include <vector>

#include "libseq/models/backbone.h"
#include "libseq/models/rcps.h"
#include "libseq/nn/layers.h"

namespace strand::models {

enum class HeadKind { None, CausalLM, MaskedLM, SequenceClassification, SequenceRegression, TokenClassification };
enum class Pooling { Mean, Cls, Max, Last };

/// "none", "clm", "mlm", "seq_cls", "seq_reg", "token_cls".
HeadKind parse_head_kind(const std::string& name, const std::string& where);
const char* head_kind_name(HeadKind kind);
/// "mean", "cls", "max", "last".
Pooling parse_pooling(const std::string& name, const std::string& where);
const char* pooling_name(Pooling pooling);

struct HeadConfig {
  HeadKind kind = HeadKind::CausalLM;
  bool tied = true;         ///< LM heads: decoder weight shared with the token embedding
  bool transform = false;   ///< LM heads: dense + GELU + LayerNorm before the decoder (BERT/ESM)
  bool bias = false;        ///< LM heads: output bias (vocab); classifiers always have a bias
  int64_t num_labels = 0;   ///< classes (classification) or targets (regression)
  Pooling pooling = Pooling::Mean;  ///< sequence heads

  static HeadConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

struct ModelConfig {
  std::string architecture = "strand";
  int64_t vocab_size = 0;
  int64_t pad_id = 0;
  BackboneConfig backbone;
  HeadConfig head;
  /// Reverse-complement parameter sharing (see the top of this file); off by default.
  RcpsConfig rcps;
  /// Informational: the tokenizer spec and vocabulary size (tokenizer.json holds the tokenizer).
  nlohmann::json tokenizer = nlohmann::json::object();
  /// version, git_hash, command_line, training_data, created (free-form object).
  nlohmann::json provenance = nlohmann::json::object();

  /// Validates everything; ConfigError naming `source` and the key for anything wrong, including
  /// an unknown architecture (the message lists the known ones) and unknown keys.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  /// Checks what from_json checks after reading (vocabulary, pad, architecture constraints,
  /// RCPS); for configs built in code. ConfigError naming `source`.
  void validate(const std::string& source) const;
  /// Channels of the model's features (hidden, taps): d_model, or 2 * d_model with RCPS.
  int64_t hidden_size() const { return rcps.enabled ? 2 * backbone.d_model : backbone.d_model; }
};

/// The known architecture names, for messages and help.
const std::vector<std::string>& known_architectures();

struct ModelOutput {
  at::Tensor hidden;  ///< (B, L, hidden_size()) backbone output (after the final norm)
  at::Tensor logits;  ///< LM/token heads: (B, L, V or labels); sequence heads: (B, labels)
};

/// Pools (B, L, D) over real tokens (mask (B, L) bool, undefined = all real) into (B, D).
/// Mean and max ignore padding; cls takes position 0; last the last real token.
at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask, Pooling pooling);

/// LM head: [dense + GELU + LayerNorm when `transform`] -> decoder (its own weight, or the token
/// embedding's when tied) [+ bias]. Parameters: dense.*, norm.*, decoder.weight, bias.
class LmHeadImpl : public torch::nn::Module {
 public:
  LmHeadImpl(const HeadConfig& head, int64_t d_model, int64_t vocab_size, double norm_eps);
  at::Tensor forward(const at::Tensor& hidden, const at::Tensor& embedding_weight);

 private:
  torch::nn::Linear dense_{nullptr};
  nn::Norm norm_{nullptr};
  torch::nn::Linear decoder_{nullptr};
  at::Tensor bias_;
};
TORCH_MODULE(LmHead);

/// Classification / regression head: Linear(d_model, num_labels) with bias, named "classifier".
class ClassifierHeadImpl : public torch::nn::Module {
 public:
  ClassifierHeadImpl(int64_t d_model, int64_t num_labels);
  at::Tensor forward(const at::Tensor& x);

 private:
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(ClassifierHead);

class SequenceModelImpl : public torch::nn::Module {
 public:
  explicit SequenceModelImpl(const ModelConfig& config);

  /// ids (B, L) int64, mask undefined or (B, L) bool (true = real token; padding at the end of
  /// each row). Embeddings at padded positions are zeroed. Records `taps` (see Taps; hidden_size()
  /// channels) when given. RCPS models throw InputError for a mask that is not a prefix per row.
  ModelOutput forward(const at::Tensor& ids, const at::Tensor& mask, Taps* taps = nullptr);

  /// Logits of the LM / token head for features (B, L, hidden_size()) or (B, hidden_size()).
  at::Tensor head_logits(const at::Tensor& hidden);

  /// Step-by-step decoding for causal models: ids_t (B) -> logits (B, V). InputError for RCPS
  /// models and when a mixer cannot decode.
  BackboneState make_state(int64_t batch) const;
  at::Tensor step(const at::Tensor& ids_t, BackboneState& state);

  /// Also moves the RCPS complement map (kept out of the state dict: it is config, not weights).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  const ModelConfig& config() const noexcept { return config_; }
  Backbone& backbone() { return backbone_; }
  torch::nn::Embedding& embedding() { return embed_; }

 private:
  /// The head on the two RCPS streams (H_f, H_r'), each (..., d_model).
  at::Tensor rcps_head_logits(const at::Tensor& forward, const at::Tensor& reverse);
  /// complement_ on `device` (a copy when the model lives elsewhere).
  at::Tensor complement_on(const at::Device& device) const;

  ModelConfig config_;
  torch::nn::Embedding embed_{nullptr};
  Backbone backbone_{nullptr};
  LmHead lm_head_{nullptr};          ///< registered as "head" for clm / mlm
  ClassifierHead classifier_{nullptr};  ///< registered as "head" for the other kinds
  at::Tensor complement_;            ///< RCPS: (V) int64 complement map; undefined otherwise
};
TORCH_MODULE(SequenceModel);

/// Every parameter and buffer of a module by its canonical name, detached.
std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& module);

/// Copies `tensors` into the module's parameters and buffers. Every missing name, unexpected name
/// and shape mismatch is collected and reported in one InputError naming `source`; nothing is
/// copied unless all match. dtype is converted to the parameter's.
void load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                     const std::string& source);

/// A model directory in memory.
struct ModelDir {
  ModelConfig config;
  SequenceModel model{nullptr};
  /// tokenizer.json; null for an imported directory and for one of ours without tokenizer.json
  /// (written by `strand convert` when the source's tokenizer is unknown).
  nlohmann::json tokenizer;
  /// What was read: "strand", "hf-esm", "hf-mamba", "hf-mamba2" or "mamba_ssm".
  std::string format = "strand";
};

/// Writes dir/config.json, dir/model.safetensors and dir/tokenizer.json (not when `tokenizer` is
/// null), each atomically (the directory is created when missing); config.json last. The
/// safetensors metadata records the architecture. Throws IoError on failure.
void save_model_dir(const std::string& dir, const ModelConfig& config, SequenceModel& model,
                    const nlohmann::json& tokenizer);

/// Loads our layout, or by key name (weights: model.safetensors or a sharded
/// model.safetensors.index.json, any float dtype, converted to float32):
///   - a Hugging Face ESM / Nucleotide Transformer v2 directory (config.json with "model_type":
///     "esm"; rotary positions, GLU feed-forward, no FFN biases);
///   - a Hugging Face Mamba directory ("model_type": "mamba", MambaForCausalLM) or Mamba-2
///     directory ("model_type": "mamba2", n_groups 1), or a mamba_ssm directory (config.json with
///     d_model, n_layer and ssm_cfg; ssm_cfg.layer "Mamba1" or "Mamba2") saved as safetensors.
///     See config_from_hf_mamba and tensors_from_hf_mamba.
/// Imported directories have no tokenizer (ModelDir::tokenizer is null): transformers tokenizer
/// files are not read.
/// Errors: IoError for missing files; ConfigError for a bad config.json (unknown architecture,
/// unsupported HF options, each named); InputError listing every tensor whose name or shape does
/// not match.
ModelDir load_model_dir(const std::string& dir);

/// True for a mamba_ssm config.json (MambaConfig: d_model, n_layer, ssm_cfg; no model_type).
bool is_mamba_ssm_config(const nlohmann::json& raw);

/// A Mamba config.json -> ModelConfig: Mamba ('M') or Mamba-2 ('2') blocks, RMSNorm, no MLP,
/// final norm, causal-LM head (reference/mamba.md §1.4, §5). Hugging Face "mamba": hidden_size,
/// num_hidden_layers, vocab_size, state_size, conv_kernel, expand, intermediate_size (must be
/// expand x hidden_size), time_step_rank (integer or "auto"), layer_norm_epsilon, use_bias,
/// use_conv_bias, tie_word_embeddings (default true), pad_token_id, time_step_{min,max,floor,
/// scale,init_scheme} (initialisation only). "mamba2": also num_heads, head_dim, n_groups (must
/// be 1), chunk_size, time_step_limit; tie_word_embeddings defaults to false. mamba_ssm: d_model,
/// n_layer, vocab_size (padded up to pad_vocab_size_multiple), rms_norm, tie_embeddings and
/// ssm_cfg {layer, d_state, d_conv, expand, dt_rank, headdim, ngroups, ...}. residual_in_fp32
/// and fused_add_norm only change rounding and are ignored. Unsupported settings (another
/// activation, gated-MLP or attention layers, conv widths outside 2-4, ...) are one ConfigError
/// naming each. The tokenizer is left unknown (config.tokenizer is empty).
ModelConfig config_from_hf_mamba(const nlohmann::json& hf, const std::string& source);

/// Checkpoint key names -> ours: backbone.embeddings.weight or backbone.embedding.weight ->
/// embed.weight; backbone.layers.{i}.norm.* -> backbone.blocks.{i}.norm1.*;
/// backbone.layers.{i}.mixer.* -> backbone.blocks.{i}.mixer.*; backbone.norm_f.* unchanged;
/// lm_head.weight dropped when the head is tied and it equals the embedding, else it becomes
/// head.decoder.weight and config.head.tied is set to false. Other names pass through (and are
/// reported as unexpected by load_state_dict). InputError for both embedding spellings at once,
/// or an untied config without lm_head.weight.
std::map<std::string, at::Tensor> tensors_from_hf_mamba(const std::map<std::string, at::Tensor>& hf,
                                                        ModelConfig& config, const std::string& source);

/// Hugging Face ESM config.json -> ModelConfig (exposed for tests).
ModelConfig config_from_hf_esm(const nlohmann::json& hf, const std::string& source);
/// Hugging Face EsmForMaskedLM key names -> our names; keys HF carries that we do not use
/// (position_embeddings, rotary inv_freq, contact_head) are checked and dropped (exposed for tests).
std::map<std::string, at::Tensor> tensors_from_hf_esm(const std::map<std::string, at::Tensor>& hf,
                                                      const ModelConfig& config, const std::string& source);

}  // namespace strand::models
