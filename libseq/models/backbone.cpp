#include "libseq/models/backbone.h"

#include <ATen/ATen.h>
#include <torch/nn/modules/container/modulelist.h>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::models {

BackboneConfig BackboneConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ConfigReader r(j, source, "backbone");
  BackboneConfig c;
  c.d_model = r.required<int64_t>("d_model");
  c.pattern = r.required<std::string>("pattern");
  c.causal = r.required<bool>("causal");
  c.norm = nn::parse_norm_kind(r.optional<std::string>("norm", "rms"), r.where("norm"));
  c.norm_eps = r.optional<double>("norm_eps", 1e-5);
  c.norm_bias = r.optional<bool>("norm_bias", false);
  c.mlp = nn::parse_mlp_kind(r.optional<std::string>("mlp", "swiglu"), r.where("mlp"));
  c.mlp_hidden = r.optional<int64_t>("mlp_hidden", 0);
  c.mlp_bias = r.optional<bool>("mlp_bias", false);
  c.final_norm = r.optional<bool>("final_norm", true);
  if (r.has("mixers")) c.mixers = r.raw("mixers");
  r.finish();
  c.normalise(source);
  return c;
}

void BackboneConfig::normalise(const std::string& source) {
  const std::string where = source + ": backbone";
  if (d_model <= 0) throw ConfigError(where + ".d_model must be positive, got " + std::to_string(d_model));
  if (pattern.empty()) throw ConfigError(where + ".pattern is empty: give one letter per layer, e.g. \"AAAA\"");
  if (!(norm_eps > 0)) throw ConfigError(where + ".norm_eps must be positive");
  if (mlp_hidden < 0) throw ConfigError(where + ".mlp_hidden must not be negative");
  if (mlp_hidden == 0 && mlp != nn::MlpKind::None)
    mlp_hidden = mlp == nn::MlpKind::GELU ? 4 * d_model : (8 * d_model / 3 + 7) / 8 * 8;
  if (!mixers.is_object()) throw ConfigError(where + ".mixers must be an object keyed by layer letter");
  mixers::register_builtin_mixers();
  for (const auto& [key, value] : mixers.items()) {
    if (key.size() != 1 || pattern.find(key[0]) == std::string::npos)
      throw ConfigError(where + ".mixers: key '" + key + "' is not a letter of the pattern '" + pattern + "'");
  }
  nlohmann::json normalised = nlohmann::json::object();
  for (const char letter : pattern) {
    const std::string key(1, letter);
    if (normalised.contains(key)) continue;
    const auto& type = mixers::mixer_registry().get(letter, where + ".pattern");
    const nlohmann::json given = mixers.contains(key) ? mixers.at(key) : nlohmann::json::object();
    normalised[key] = type.normalise(given, d_model, where + ".mixers." + key);
  }
  mixers = normalised;
}

nlohmann::json BackboneConfig::to_json() const {
  return {{"d_model", d_model},
          {"pattern", pattern},
          {"causal", causal},
          {"norm", nn::norm_kind_name(norm)},
          {"norm_eps", norm_eps},
          {"norm_bias", norm_bias},
          {"mlp", nn::mlp_kind_name(mlp)},
          {"mlp_hidden", mlp_hidden},
          {"mlp_bias", mlp_bias},
          {"final_norm", final_norm},
          {"mixers", mixers}};
}

BlockImpl::BlockImpl(const BackboneConfig& config, int64_t layer, char letter) {
  norm1_ = register_module("norm1", nn::Norm(config.d_model, config.norm, config.norm_eps, config.norm_bias));
  mixers::MixerContext context;
  context.d_model = config.d_model;
  context.layer = layer;
  context.n_layers = static_cast<int64_t>(config.pattern.size());
  context.has_mlp = config.mlp != nn::MlpKind::None;
  context.causal = config.causal;
  context.options = config.mixers.at(std::string(1, letter));
  context.where = "backbone.mixers." + std::string(1, letter);
  mixer_ = register_module("mixer", mixers::mixer_registry().get(letter, "backbone.pattern").create(context));
  if (config.mlp != nn::MlpKind::None) {
    norm2_ = register_module("norm2", nn::Norm(config.d_model, config.norm, config.norm_eps, config.norm_bias));
    mlp_ = register_module("mlp", nn::Mlp(config.d_model, config.mlp_hidden, config.mlp, config.mlp_bias));
  }
}

at::Tensor BlockImpl::forward(const at::Tensor& x, const at::Tensor& mask) {
  at::Tensor h = x + mixer_->forward(norm1_->forward(x), mask);
  if (mlp_) h = h + mlp_->forward(norm2_->forward(h));
  return h;
}

at::Tensor BlockImpl::step(const at::Tensor& x_t, mixers::MixerState& state) {
  at::Tensor h = x_t + mixer_->step(norm1_->forward(x_t), state);
  if (mlp_) h = h + mlp_->forward(norm2_->forward(h));
  return h;
}

at::Tensor BlockImpl::prefill(const at::Tensor& x, mixers::MixerState& state) {
  at::Tensor h = x + mixer_->prefill(norm1_->forward(x), state);
  if (mlp_) h = h + mlp_->forward(norm2_->forward(h));
  return h;
}

BackboneImpl::BackboneImpl(const BackboneConfig& config) : config_(config) {
  config_.normalise("backbone");
  torch::nn::ModuleList list;
  for (size_t i = 0; i < config_.pattern.size(); ++i) {
    blocks_.emplace_back(config_, static_cast<int64_t>(i), config_.pattern[i]);
    list->push_back(blocks_.back());
  }
  register_module("blocks", list);
  if (config_.final_norm)
    norm_f_ = register_module("norm_f", nn::Norm(config_.d_model, config_.norm, config_.norm_eps, config_.norm_bias));
}

int64_t resolve_layer(int64_t layer, int64_t num_blocks) {
  const int64_t resolved = layer < 0 ? num_blocks + 1 + layer : layer;
  if (resolved < 0 || resolved > num_blocks)
    throw InputError("layer " + std::to_string(layer) + " is out of range for a model with " +
                     std::to_string(num_blocks) + " blocks (valid: " + std::to_string(-(num_blocks + 1)) + ".." +
                     std::to_string(num_blocks) + "; 0 = embeddings, -1 = final output)");
  return resolved;
}

at::Tensor BackboneImpl::forward(const at::Tensor& x, const at::Tensor& mask, Taps* taps) {
  STRAND_CHECK(x.dim() == 3 && x.size(2) == config_.d_model, "backbone: expected input (batch, length, ",
               config_.d_model, "), got ", x.sizes());
  if (mask.defined())
    STRAND_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) &&
                     mask.scalar_type() == at::kBool,
                 "backbone: mask must be a (batch, length) bool tensor matching the input, got ", mask.sizes());
  const int64_t n = num_layers();
  std::vector<int64_t> wanted;
  if (taps != nullptr) {
    taps->outputs.assign(taps->layers.size(), at::Tensor());
    for (const int64_t layer : taps->layers) wanted.push_back(resolve_layer(layer, n));
  }
  const auto record = [&](int64_t layer, const at::Tensor& value) {
    for (size_t i = 0; i < wanted.size(); ++i)
      if (wanted[i] == layer) taps->outputs[i] = value;
  };
  at::Tensor h = x;
  record(0, h);
  for (int64_t i = 0; i < n; ++i) {
    h = blocks_[static_cast<size_t>(i)]->forward(h, mask);
    if (i + 1 < n) record(i + 1, h);
  }
  if (norm_f_) h = norm_f_->forward(h);
  record(n, h);
  return h;
}

bool BackboneImpl::supports_step() const {
  for (const auto& b : blocks_)
    if (!b->mixer().supports_step()) return false;
  return true;
}

BackboneState BackboneImpl::make_state(int64_t batch) const {
  STRAND_CHECK(supports_step(), "this backbone (pattern '", config_.pattern,
               config_.causal ? "'" : "', bidirectional", ") does not support step-by-step decoding");
  BackboneState state;
  for (const auto& b : blocks_) state.layers.push_back(b->mixer().make_state(batch));
  return state;
}

at::Tensor BackboneImpl::step(const at::Tensor& x_t, BackboneState& state) {
  STRAND_ASSERT(state.layers.size() == blocks_.size(), "backbone state has the wrong number of layers");
  at::Tensor h = x_t;
  for (size_t i = 0; i < blocks_.size(); ++i) h = blocks_[i]->step(h, *state.layers[i]);
  ++state.length;
  return norm_f_ ? norm_f_->forward(h) : h;
}

at::Tensor BackboneImpl::prefill(const at::Tensor& x, BackboneState& state) {
  STRAND_ASSERT(state.layers.size() == blocks_.size(), "backbone state has the wrong number of layers");
  at::Tensor h = x;
  for (size_t i = 0; i < blocks_.size(); ++i) h = blocks_[i]->prefill(h, *state.layers[i]);
  state.length += x.size(1);
  return norm_f_ ? norm_f_->forward(h) : h;
}

}  // namespace strand::models
