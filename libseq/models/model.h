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
  /// Informational: the tokenizer spec and vocabulary size (tokenizer.json holds the tokenizer).
  nlohmann::json tokenizer = nlohmann::json::object();
  /// version, git_hash, command_line, training_data, created (free-form object).
  nlohmann::json provenance = nlohmann::json::object();

  /// Validates everything; ConfigError naming `source` and the key for anything wrong, including
  /// an unknown architecture (the message lists the known ones) and unknown keys.
  static ModelConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
};

/// The known architecture names, for messages and help.
const std::vector<std::string>& known_architectures();

struct ModelOutput {
  at::Tensor hidden;  ///< (B, L, D) backbone output (after the final norm)
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

  /// ids (B, L) int64, mask undefined or (B, L) bool (true = real token). Embeddings at padded
  /// positions are zeroed. Records `taps` (see Taps) when given.
  ModelOutput forward(const at::Tensor& ids, const at::Tensor& mask, Taps* taps = nullptr);

  /// Logits of the LM / token head for backbone output (B, L, D) or (B, D).
  at::Tensor head_logits(const at::Tensor& hidden);

  /// Step-by-step decoding for causal models: ids_t (B) -> logits (B, V).
  BackboneState make_state(int64_t batch) const { return backbone_->make_state(batch); }
  at::Tensor step(const at::Tensor& ids_t, BackboneState& state);

  const ModelConfig& config() const noexcept { return config_; }
  Backbone& backbone() { return backbone_; }
  torch::nn::Embedding& embedding() { return embed_; }

 private:
  ModelConfig config_;
  torch::nn::Embedding embed_{nullptr};
  Backbone backbone_{nullptr};
  LmHead lm_head_{nullptr};          ///< registered as "head" for clm / mlm
  ClassifierHead classifier_{nullptr};  ///< registered as "head" for the other kinds
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
  nlohmann::json tokenizer;  ///< tokenizer.json (null for a Hugging Face directory without one)
};

/// Writes dir/config.json, dir/model.safetensors and dir/tokenizer.json, each atomically (the
/// directory is created when missing). The safetensors metadata records the architecture and
/// provenance. Throws IoError on failure.
void save_model_dir(const std::string& dir, const ModelConfig& config, SequenceModel& model,
                    const nlohmann::json& tokenizer);

/// Loads our layout, or a Hugging Face ESM / Nucleotide Transformer v2 directory (config.json
/// with "model_type": "esm"; rotary positions, GLU feed-forward, no FFN biases) by key name.
/// Errors: IoError for missing files; ConfigError for a bad config.json (unknown architecture,
/// unsupported HF options); InputError listing every tensor whose name or shape does not match.
ModelDir load_model_dir(const std::string& dir);

/// Hugging Face ESM config.json -> ModelConfig (exposed for tests).
ModelConfig config_from_hf_esm(const nlohmann::json& hf, const std::string& source);
/// Hugging Face EsmForMaskedLM key names -> our names; keys HF carries that we do not use
/// (position_embeddings, rotary inv_freq, contact_head) are checked and dropped (exposed for tests).
std::map<std::string, at::Tensor> tensors_from_hf_esm(const std::map<std::string, at::Tensor>& hf,
                                                      const ModelConfig& config, const std::string& source);

}  // namespace strand::models
