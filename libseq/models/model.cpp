#include "libseq/models/model.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <cmath>
#include <filesystem>
#include <regex>
#include <utility>

#include "kernels/rc_ids/rc_ids.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/io/safetensors.h"

namespace strand::models {

namespace {

template <typename Enum, size_t N>
Enum parse_enum(const std::string& name, const std::string& where, const std::pair<const char*, Enum> (&table)[N],
                const char* what) {
  std::string known;
  for (const auto& [text, value] : table) {
    if (name == text) return value;
    known += known.empty() ? "" : ", ";
    known += text;
  }
  throw ConfigError(where + ": unknown " + what + " '" + name + "' (expected one of: " + known + ")");
}

const std::pair<const char*, HeadKind> kHeadKinds[] = {
    {"none", HeadKind::None},
    {"clm", HeadKind::CausalLM},
    {"mlm", HeadKind::MaskedLM},
    {"seq_cls", HeadKind::SequenceClassification},
    {"seq_reg", HeadKind::SequenceRegression},
    {"token_cls", HeadKind::TokenClassification},
};
const std::pair<const char*, Pooling> kPoolings[] = {
    {"mean", Pooling::Mean}, {"cls", Pooling::Cls}, {"max", Pooling::Max}, {"last", Pooling::Last}};

bool is_lm(HeadKind kind) { return kind == HeadKind::CausalLM || kind == HeadKind::MaskedLM; }

}  // namespace

HeadKind parse_head_kind(const std::string& name, const std::string& where) {
  return parse_enum(name, where, kHeadKinds, "head kind");
}
const char* head_kind_name(HeadKind kind) {
  for (const auto& [text, value] : kHeadKinds)
    if (value == kind) return text;
  return "none";
}
Pooling parse_pooling(const std::string& name, const std::string& where) {
  return parse_enum(name, where, kPoolings, "pooling");
}
const char* pooling_name(Pooling pooling) {
  for (const auto& [text, value] : kPoolings)
    if (value == pooling) return text;
  return "mean";
}

HeadConfig HeadConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ConfigReader r(j, source, "head");
  HeadConfig h;
  h.kind = parse_head_kind(r.required<std::string>("kind"), r.where("kind"));
  h.tied = r.optional<bool>("tied", true);
  h.transform = r.optional<bool>("transform", false);
  h.bias = r.optional<bool>("bias", false);
  h.num_labels = r.optional<int64_t>("num_labels", 0);
  h.pooling = parse_pooling(r.optional<std::string>("pooling", "mean"), r.where("pooling"));
  r.finish();
  const bool needs_labels = h.kind == HeadKind::SequenceClassification || h.kind == HeadKind::SequenceRegression ||
                            h.kind == HeadKind::TokenClassification;
  if (needs_labels && h.num_labels <= 0)
    throw ConfigError(r.where("num_labels") + " must be positive for a '" + head_kind_name(h.kind) + "' head");
  return h;
}

nlohmann::json HeadConfig::to_json() const {
  return {{"kind", head_kind_name(kind)}, {"tied", tied},           {"transform", transform},
          {"bias", bias},                 {"num_labels", num_labels}, {"pooling", pooling_name(pooling)}};
}

const std::vector<std::string>& known_architectures() {
  static const std::vector<std::string> names = {"strand", "esm"};
  return names;
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ConfigReader r(j, source);
  const std::string format = r.required<std::string>("format");
  if (format != "strand-model")
    throw ConfigError(r.where("format") + ": expected \"strand-model\", found \"" + format + "\"");
  const int64_t version = r.required<int64_t>("format_version");
  if (version != 1)
    throw ConfigError(r.where("format_version") + ": this strand reads version 1, found " + std::to_string(version));
  ModelConfig c;
  c.architecture = r.required<std::string>("architecture");
  const auto& known = known_architectures();
  if (std::find(known.begin(), known.end(), c.architecture) == known.end()) {
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(r.where("architecture") + ": unknown architecture '" + c.architecture + "' (known: " + list + ")");
  }
  c.vocab_size = r.required<int64_t>("vocab_size");
  c.pad_id = r.required<int64_t>("pad_id");
  c.backbone = BackboneConfig::from_json(r.raw("backbone"), source);
  c.head = HeadConfig::from_json(r.raw("head"), source);
  if (r.has("rcps")) c.rcps = RcpsConfig::from_json(r.raw("rcps"), source);
  if (r.has("tokenizer")) c.tokenizer = r.raw("tokenizer");
  if (r.has("provenance")) c.provenance = r.raw("provenance");
  r.finish();
  c.validate(source);
  return c;
}

void ModelConfig::validate(const std::string& source) const {
  if (vocab_size <= 0) throw ConfigError(source + ": vocab_size must be positive");
  if (pad_id < 0 || pad_id >= vocab_size)
    throw ConfigError(source + ": pad_id " + std::to_string(pad_id) + " is outside the vocabulary [0, " +
                      std::to_string(vocab_size) + ")");
  if (architecture == "esm") {
    // The ESM layout is the strand backbone with fixed settings; anything else would not match
    // the checkpoints it exists to load.
    std::vector<std::string> wrong;
    const auto& b = backbone;
    if (b.pattern.find_first_not_of('A') != std::string::npos) wrong.push_back("pattern must be attention only");
    if (b.norm != nn::NormKind::Layer || !b.norm_bias) wrong.push_back("norm must be 'layer' with norm_bias");
    if (b.mlp != nn::MlpKind::SwiGLU) wrong.push_back("mlp must be 'swiglu'");
    if (!b.final_norm) wrong.push_back("final_norm must be true");
    if (!b.mixers.at("A").at("bias").get<bool>()) wrong.push_back("attention bias must be true");
    if (rcps.enabled) wrong.push_back("rcps must be off");
    if (!wrong.empty()) {
      std::string text;
      for (const auto& w : wrong) text += (text.empty() ? "" : "; ") + w;
      throw ConfigError(source + ": architecture 'esm': " + text);
    }
  }
  rcps.validate(vocab_size, pad_id, source);
  if (rcps.enabled) {
    if (head.kind == HeadKind::CausalLM)
      throw ConfigError(source + ": rcps cannot be used with a causal-LM head: the reverse-complement stream reads "
                                 "the tokens the forward stream predicts (use a masked-LM head, objective mlm)");
    const bool sequence_head =
        head.kind == HeadKind::SequenceClassification || head.kind == HeadKind::SequenceRegression;
    if (sequence_head && head.pooling != Pooling::Mean && head.pooling != Pooling::Max)
      throw ConfigError(source + ": head.pooling '" + pooling_name(head.pooling) +
                        "' is not reverse-complement invariant; rcps models pool with 'mean' or 'max'");
  }
}

nlohmann::json ModelConfig::to_json() const {
  return {{"format", "strand-model"},   {"format_version", 1},         {"architecture", architecture},
          {"vocab_size", vocab_size},    {"pad_id", pad_id},            {"backbone", backbone.to_json()},
          {"head", head.to_json()},      {"rcps", rcps.to_json()},      {"tokenizer", tokenizer},
          {"provenance", provenance}};
}

at::Tensor pool(const at::Tensor& hidden, const at::Tensor& mask, Pooling pooling) {
  STRAND_ASSERT(hidden.dim() == 3, "pool expects (B, L, D)");
  const int64_t b = hidden.size(0), l = hidden.size(1);
  const at::Tensor m = mask.defined() ? mask : at::ones({b, l}, hidden.options().dtype(at::kBool));
  switch (pooling) {
    case Pooling::Cls: return hidden.select(1, 0);
    case Pooling::Mean: {
      const at::Tensor w = m.to(hidden.scalar_type()).unsqueeze(-1);
      return (hidden * w).sum(1) / w.sum(1).clamp_min(1.0);
    }
    case Pooling::Max: {
      const at::Tensor filled = hidden.masked_fill(~m.unsqueeze(-1), -std::numeric_limits<double>::infinity());
      const at::Tensor best = std::get<0>(filled.max(1));
      // A row without real tokens pools to zeros rather than -inf.
      return at::where(m.any(1).unsqueeze(-1), best, at::zeros_like(best));
    }
    case Pooling::Last: {
      const at::Tensor last = (m.to(at::kLong).sum(1) - 1).clamp_min(0);
      const at::Tensor index = last.view({b, 1, 1}).expand({b, 1, hidden.size(2)});
      return hidden.gather(1, index).squeeze(1);
    }
  }
  STRAND_ASSERT(false, "unknown pooling");
  return {};
}

LmHeadImpl::LmHeadImpl(const HeadConfig& head, int64_t d_model, int64_t vocab_size, double norm_eps) {
  if (head.transform) {
    dense_ = register_module("dense", torch::nn::Linear(d_model, d_model));
    norm_ = register_module("norm", nn::Norm(d_model, nn::NormKind::Layer, norm_eps, true));
  }
  if (!head.tied)
    decoder_ = register_module("decoder", torch::nn::Linear(torch::nn::LinearOptions(d_model, vocab_size).bias(false)));
  if (head.bias) bias_ = register_parameter("bias", at::zeros({vocab_size}));
}

at::Tensor LmHeadImpl::forward(const at::Tensor& hidden, const at::Tensor& embedding_weight) {
  at::Tensor h = hidden;
  if (dense_) h = norm_->forward(at::gelu(dense_->forward(h)));
  at::Tensor logits = decoder_ ? decoder_->forward(h) : at::linear(h, embedding_weight);
  if (bias_.defined()) logits = logits + bias_;
  return logits;
}

ClassifierHeadImpl::ClassifierHeadImpl(int64_t d_model, int64_t num_labels) {
  classifier_ = register_module("classifier", torch::nn::Linear(d_model, num_labels));
}

at::Tensor ClassifierHeadImpl::forward(const at::Tensor& x) { return classifier_->forward(x); }

SequenceModelImpl::SequenceModelImpl(const ModelConfig& config) : config_(config) {
  config_.validate("model config");
  const int64_t d = config_.backbone.d_model;
  embed_ = register_module("embed", torch::nn::Embedding(config_.vocab_size, d));
  {
    torch::NoGradGuard no_grad;
    embed_->weight.normal_(0.0, 0.02);
  }
  backbone_ = register_module("backbone", Backbone(config_.backbone));
  const HeadConfig& h = config_.head;
  if (is_lm(h.kind)) {
    lm_head_ = register_module("head", LmHead(h, d, config_.vocab_size, config_.backbone.norm_eps));
  } else if (h.kind != HeadKind::None) {
    classifier_ = register_module("head", ClassifierHead(d, h.num_labels));
  }
  if (config_.rcps.enabled) complement_ = at::tensor(config_.rcps.complement, at::kLong);
}

at::Tensor SequenceModelImpl::complement_on(const at::Device& device) const {
  return complement_.device() == device ? complement_ : complement_.to(device);
}

void SequenceModelImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  if (complement_.defined()) complement_ = complement_.to(device);
}

void SequenceModelImpl::to(torch::Dtype dtype, bool non_blocking) { torch::nn::Module::to(dtype, non_blocking); }

void SequenceModelImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  if (complement_.defined()) complement_ = complement_.to(device);
}

at::Tensor SequenceModelImpl::rcps_head_logits(const at::Tensor& forward, const at::Tensor& reverse) {
  if (lm_head_) {
    // The RC stream's prediction for token v at a position is its prediction for complement[v].
    const at::Tensor from_reverse = lm_head_->forward(reverse, embed_->weight);
    return lm_head_->forward(forward, embed_->weight) +
           from_reverse.index_select(-1, complement_on(from_reverse.device()));
  }
  STRAND_CHECK(classifier_, "this model has no head (head kind 'none')");
  return classifier_->forward((forward + reverse) * 0.5);
}

at::Tensor SequenceModelImpl::head_logits(const at::Tensor& hidden) {
  if (config_.rcps.enabled) {
    STRAND_CHECK(hidden.dim() >= 1 && hidden.size(-1) == config_.hidden_size(), "head_logits: expected ",
                 config_.hidden_size(), " channels (rcps: forward and reverse-complement halves), got ", hidden.sizes());
    const auto [forward, reverse] = rcps_split(hidden);
    return rcps_head_logits(forward, reverse);
  }
  if (lm_head_) return lm_head_->forward(hidden, embed_->weight);
  STRAND_CHECK(classifier_, "this model has no head (head kind 'none')");
  return classifier_->forward(hidden);
}

ModelOutput SequenceModelImpl::forward(const at::Tensor& ids, const at::Tensor& mask, Taps* taps) {
  STRAND_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong, "model: ids must be a (batch, length) int64 tensor, got ",
               ids.sizes(), " ", ids.scalar_type());
  if (!config_.rcps.enabled) {
    at::Tensor x = embed_->forward(ids);
    if (mask.defined()) x = x * mask.unsqueeze(-1).to(x.scalar_type());
    ModelOutput out;
    out.hidden = backbone_->forward(x, mask, taps);
    switch (config_.head.kind) {
      case HeadKind::None: break;
      case HeadKind::CausalLM:
      case HeadKind::MaskedLM:
      case HeadKind::TokenClassification: out.logits = head_logits(out.hidden); break;
      case HeadKind::SequenceClassification:
      case HeadKind::SequenceRegression:
        out.logits = classifier_->forward(pool(out.hidden, mask, config_.head.pooling));
        break;
    }
    return out;
  }

  // RCPS: one backbone pass over [ids; rc(ids)] (2B rows, same mask), then the RC rows are
  // reversed back to forward order (rcps.h).
  const int64_t b = ids.size(0), l = ids.size(1);
  if (mask.defined())
    STRAND_CHECK(mask.dim() == 2 && mask.size(0) == b && mask.size(1) == l && mask.scalar_type() == at::kBool,
                 "model: mask must be a (batch, length) bool tensor matching ids ", ids.sizes(), ", got ", mask.sizes(),
                 " ", mask.scalar_type());
  const at::Tensor lengths = lengths_from_mask(mask, b, l, ids.device());
  const at::Tensor rc = kernels::reverse_complement_ids(
      ids, complement_on(ids.device()), mask.defined() ? compat::optional<at::Tensor>(lengths) : compat::nullopt);
  const at::Tensor both_mask = mask.defined() ? at::cat({mask, mask}) : at::Tensor();
  at::Tensor x = embed_->forward(at::cat({ids, rc}));
  if (mask.defined()) x = x * both_mask.unsqueeze(-1).to(x.scalar_type());
  Taps inner;
  if (taps != nullptr) inner.layers = taps->layers;
  const at::Tensor h = backbone_->forward(x, both_mask, taps != nullptr ? &inner : nullptr);
  const auto forward_of = [&](const at::Tensor& t) { return t.narrow(0, 0, b); };
  const auto reverse_of = [&](const at::Tensor& t) { return reverse_rows(t.narrow(0, b, b), lengths); };
  if (taps != nullptr) {
    taps->outputs.clear();
    for (const auto& t : inner.outputs) taps->outputs.push_back(rcps_join(forward_of(t), reverse_of(t)));
  }
  const at::Tensor forward = forward_of(h), reverse = reverse_of(h);
  ModelOutput out;
  out.hidden = rcps_join(forward, reverse);
  switch (config_.head.kind) {
    case HeadKind::None: break;
    case HeadKind::CausalLM:
    case HeadKind::MaskedLM:
    case HeadKind::TokenClassification: out.logits = rcps_head_logits(forward, reverse); break;
    case HeadKind::SequenceClassification:
    case HeadKind::SequenceRegression:
      out.logits = classifier_->forward(pool((forward + reverse) * 0.5, mask, config_.head.pooling));
      break;
  }
  return out;
}

BackboneState SequenceModelImpl::make_state(int64_t batch) const {
  STRAND_CHECK(!config_.rcps.enabled,
               "step-by-step decoding is not available for reverse-complement parameter sharing (rcps) models: "
               "each position depends on the whole sequence through the reverse-complement stream");
  return backbone_->make_state(batch);
}

at::Tensor SequenceModelImpl::step(const at::Tensor& ids_t, BackboneState& state) {
  STRAND_CHECK(ids_t.dim() == 1 && ids_t.scalar_type() == at::kLong, "model step: ids must be (batch) int64");
  STRAND_CHECK(lm_head_, "step-by-step decoding needs an LM head");
  STRAND_CHECK(!config_.rcps.enabled, "step-by-step decoding is not available for rcps models");
  return head_logits(backbone_->step(embed_->forward(ids_t), state));
}

std::map<std::string, at::Tensor> state_dict(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out[item.key()] = item.value().detach();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out[item.key()] = item.value().detach();
  return out;
}

void load_state_dict(torch::nn::Module& module, const std::map<std::string, at::Tensor>& tensors,
                     const std::string& source) {
  std::map<std::string, at::Tensor> targets;
  for (auto& item : module.named_parameters(true)) targets[item.key()] = item.value();
  for (auto& item : module.named_buffers(true)) targets[item.key()] = item.value();
  std::vector<std::string> problems;
  for (const auto& [name, target] : targets) {
    const auto it = tensors.find(name);
    if (it == tensors.end()) {
      problems.push_back("missing tensor '" + name + "' (expected shape " + c10::str(target.sizes()) + ")");
    } else if (it->second.sizes() != target.sizes()) {
      problems.push_back("tensor '" + name + "' has shape " + c10::str(it->second.sizes()) + ", expected " +
                         c10::str(target.sizes()));
    }
  }
  for (const auto& [name, tensor] : tensors)
    if (!targets.count(name))
      problems.push_back("unexpected tensor '" + name + "' (shape " + c10::str(tensor.sizes()) + ")");
  if (!problems.empty()) {
    std::string text = source + ": the weights do not match the model config (" + std::to_string(problems.size()) +
                       " difference" + (problems.size() == 1 ? "" : "s") + "):";
    for (const auto& p : problems) text += "\n  " + p;
    throw InputError(text);
  }
  torch::NoGradGuard no_grad;
  for (auto& [name, target] : targets) target.copy_(tensors.at(name));
}

void save_model_dir(const std::string& dir, const ModelConfig& config, SequenceModel& model,
                    const nlohmann::json& tokenizer) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(dir + ": cannot create the model directory: " + ec.message());
  const auto path = [&](const char* name) { return (std::filesystem::path(dir) / name).string(); };
  io::save_safetensors(path("model.safetensors"), state_dict(*model),
                       {{"format", "pt"}, {"architecture", config.architecture}});
  if (!tokenizer.is_null()) save_json(path("tokenizer.json"), tokenizer);
  // config.json last: a directory with a config.json is complete.
  save_json(path("config.json"), config.to_json());
}

ModelConfig config_from_hf_esm(const nlohmann::json& hf, const std::string& source) {
  const auto get = [&](const char* key) -> const nlohmann::json& {
    if (!hf.contains(key)) throw ConfigError(source + ": Hugging Face ESM config lacks '" + key + "'");
    return hf.at(key);
  };
  const auto flag = [&](const char* key, bool fallback) {
    return hf.contains(key) && !hf.at(key).is_null() ? hf.at(key).get<bool>() : fallback;
  };
  const std::string positions = hf.value("position_embedding_type", std::string("absolute"));
  std::vector<std::string> unsupported;
  if (positions != "rotary")
    unsupported.push_back("position_embedding_type '" + positions + "' (only 'rotary', as in NTv2, is supported)");
  if (flag("emb_layer_norm_before", false)) unsupported.push_back("emb_layer_norm_before = true");
  if (flag("token_dropout", false)) unsupported.push_back("token_dropout = true");
  if (flag("is_folding_model", false)) unsupported.push_back("is_folding_model = true");
  if (hf.contains("hidden_act") && hf.at("hidden_act") != "gelu")
    unsupported.push_back("hidden_act '" + hf.at("hidden_act").get<std::string>() + "' (expected 'gelu')");
  if (!unsupported.empty()) {
    std::string text;
    for (const auto& u : unsupported) text += "\n  " + u;
    throw ConfigError(source + ": unsupported ESM settings:" + text);
  }
  ModelConfig c;
  c.architecture = "esm";
  c.vocab_size = get("vocab_size").get<int64_t>();
  c.pad_id = hf.value("pad_token_id", int64_t{1});
  BackboneConfig& b = c.backbone;
  b.d_model = get("hidden_size").get<int64_t>();
  b.pattern = std::string(static_cast<size_t>(get("num_hidden_layers").get<int64_t>()), 'A');
  b.causal = false;
  b.norm = nn::NormKind::Layer;
  b.norm_eps = hf.value("layer_norm_eps", 1e-12);
  b.norm_bias = true;
  b.mlp = nn::MlpKind::SwiGLU;
  b.mlp_hidden = get("intermediate_size").get<int64_t>();
  b.mlp_bias = flag("add_bias_fnn", true);
  b.final_norm = true;
  b.mixers = {{"A", {{"n_heads", get("num_attention_heads").get<int64_t>()}, {"rotary", true}, {"bias", true}}}};
  b.normalise(source);
  c.head.kind = HeadKind::MaskedLM;
  c.head.tied = flag("tie_word_embeddings", true);
  c.head.transform = true;
  c.head.bias = true;
  c.tokenizer = {{"spec", "ntv2-6mer"}, {"vocab_size", c.vocab_size}};
  c.provenance = {{"imported_from", "Hugging Face ESM config"}, {"source", source}};
  return c;
}

std::map<std::string, at::Tensor> tensors_from_hf_esm(const std::map<std::string, at::Tensor>& hf,
                                                      const ModelConfig& config, const std::string& source) {
  static const std::regex layer_key(R"(encoder\.layer\.(\d+)\.(.+))");
  static const std::map<std::string, std::string> in_layer = {
      {"attention.LayerNorm.weight", "norm1.weight"},
      {"attention.LayerNorm.bias", "norm1.bias"},
      {"attention.self.query.weight", "mixer.q_proj.weight"},
      {"attention.self.query.bias", "mixer.q_proj.bias"},
      {"attention.self.key.weight", "mixer.k_proj.weight"},
      {"attention.self.key.bias", "mixer.k_proj.bias"},
      {"attention.self.value.weight", "mixer.v_proj.weight"},
      {"attention.self.value.bias", "mixer.v_proj.bias"},
      {"attention.output.dense.weight", "mixer.o_proj.weight"},
      {"attention.output.dense.bias", "mixer.o_proj.bias"},
      {"LayerNorm.weight", "norm2.weight"},
      {"LayerNorm.bias", "norm2.bias"},
      {"intermediate.dense.weight", "mlp.fc1.weight"},
      {"intermediate.dense.bias", "mlp.fc1.bias"},
      {"output.dense.weight", "mlp.fc2.weight"},
      {"output.dense.bias", "mlp.fc2.bias"},
  };
  static const std::map<std::string, std::string> top = {
      {"embeddings.word_embeddings.weight", "embed.weight"},
      {"encoder.emb_layer_norm_after.weight", "backbone.norm_f.weight"},
      {"encoder.emb_layer_norm_after.bias", "backbone.norm_f.bias"},
      {"lm_head.dense.weight", "head.dense.weight"},
      {"lm_head.dense.bias", "head.dense.bias"},
      {"lm_head.layer_norm.weight", "head.norm.weight"},
      {"lm_head.layer_norm.bias", "head.norm.bias"},
      {"lm_head.decoder.weight", "head.decoder.weight"},
      {"lm_head.bias", "head.bias"},
  };
  const int64_t head_dim = config.backbone.d_model / config.backbone.mixers.at("A").at("n_heads").get<int64_t>();
  const at::Tensor expected_inv_freq =
      at::pow(10000.0, -at::arange(0, head_dim, 2, at::kDouble) / static_cast<double>(head_dim));
  std::map<std::string, at::Tensor> out;
  for (const auto& [full, tensor] : hf) {
    std::string key = full.rfind("esm.", 0) == 0 ? full.substr(4) : full;
    if (key == "embeddings.position_embeddings.weight" || key == "embeddings.position_ids" ||
        key.rfind("contact_head.", 0) == 0)
      continue;  // unused with rotary positions / by the encoder
    static const std::string inv_freq_suffix = "rotary_embeddings.inv_freq";
    if (key.size() > inv_freq_suffix.size() &&
        key.compare(key.size() - inv_freq_suffix.size(), inv_freq_suffix.size(), inv_freq_suffix) == 0) {
      if (!at::allclose(tensor.to(at::kDouble), expected_inv_freq, 1e-6, 0))
        throw InputError(source + ": '" + full + "' differs from base-10000 rotary frequencies");
      continue;
    }
    if (key == "lm_head.decoder.bias") {
      if (hf.count("lm_head.bias") && at::equal(tensor, hf.at("lm_head.bias"))) continue;
    }
    if (key == "lm_head.decoder.weight" && config.head.tied) {
      const auto emb = hf.find("esm.embeddings.word_embeddings.weight");
      if (emb != hf.end() && at::equal(tensor, emb->second)) continue;  // tied copy
    }
    std::smatch m;
    if (std::regex_match(key, m, layer_key)) {
      const auto it = in_layer.find(m[2].str());
      out[it != in_layer.end() ? "backbone.blocks." + m[1].str() + "." + it->second : full] = tensor;
      continue;
    }
    const auto it = top.find(key);
    out[it != top.end() ? it->second : full] = tensor;
  }
  return out;
}

namespace {

// Typed reads of an external (Hugging Face / mamba_ssm) config: a missing required key or a value
// of the wrong type is a ConfigError naming the file, the format and the key. null = absent.
class ExternalConfig {
 public:
  ExternalConfig(const nlohmann::json& j, std::string source, std::string format, std::string prefix = "")
      : j_(j), source_(std::move(source)), format_(std::move(format)), prefix_(std::move(prefix)) {}

  bool has(const char* key) const { return j_.is_object() && j_.contains(key) && !j_.at(key).is_null(); }
  const nlohmann::json& raw(const char* key) const { return j_.at(key); }
  std::string name(const char* key) const { return prefix_ + key; }

  int64_t integer(const char* key) const {
    require(key);
    const auto& v = j_.at(key);
    if (!v.is_number_integer()) wrong(key, "an integer");
    return v.get<int64_t>();
  }
  int64_t integer(const char* key, int64_t fallback) const { return has(key) ? integer(key) : fallback; }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_number()) wrong(key, "a number");
    return v.get<double>();
  }
  bool flag(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_boolean()) wrong(key, "true or false");
    return v.get<bool>();
  }
  std::string text(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const auto& v = j_.at(key);
    if (!v.is_string()) wrong(key, "a string");
    return v.get<std::string>();
  }

 private:
  void require(const char* key) const {
    if (!has(key)) throw ConfigError(source_ + ": " + format_ + " config lacks '" + name(key) + "'");
  }
  [[noreturn]] void wrong(const char* key, const char* expected) const {
    throw ConfigError(source_ + ": " + format_ + " config: '" + name(key) + "' must be " + expected + ", found " +
                      j_.at(key).dump());
  }

  const nlohmann::json& j_;
  std::string source_;
  std::string format_;
  std::string prefix_;
};

const char* mamba_format_name(const std::string& model_type) {
  if (model_type == "mamba") return "Hugging Face Mamba";
  if (model_type == "mamba2") return "Hugging Face Mamba-2";
  return "mamba_ssm";
}

}  // namespace

bool is_mamba_ssm_config(const nlohmann::json& raw) {
  return raw.is_object() && !raw.contains("model_type") && !raw.contains("format") && raw.contains("ssm_cfg") &&
         raw.contains("d_model") && raw.contains("n_layer");
}

ModelConfig config_from_hf_mamba(const nlohmann::json& hf, const std::string& source) {
  const std::string type =
      hf.contains("model_type") && hf.at("model_type").is_string() ? hf.at("model_type").get<std::string>() : "";
  if (!type.empty() && type != "mamba" && type != "mamba2")
    throw ConfigError(source + ": model_type '" + type + "' is not a Mamba config");
  const bool ssm = type.empty();  // mamba_ssm's own config.json (MambaConfig: d_model, n_layer, ssm_cfg)
  const std::string format = mamba_format_name(type);
  const ExternalConfig top(hf, source, format);
  const nlohmann::json ssm_cfg_json =
      ssm && top.has("ssm_cfg") ? hf.at("ssm_cfg") : nlohmann::json::object();
  if (!ssm_cfg_json.is_object()) throw ConfigError(source + ": mamba_ssm config: 'ssm_cfg' must be an object");
  // Mixer settings: the top level of a Hugging Face config, ssm_cfg of a mamba_ssm one.
  const ExternalConfig mix = ssm ? ExternalConfig(ssm_cfg_json, source, format, "ssm_cfg.") : top;
  const std::string layer = type == "mamba2" ? "Mamba2" : type == "mamba" ? "Mamba1" : mix.text("layer", "Mamba1");

  std::vector<std::string> unsupported;
  ModelConfig c;
  BackboneConfig& b = c.backbone;
  int64_t n_layers = 0;
  if (!ssm) {
    b.d_model = top.integer("hidden_size");
    n_layers = top.integer("num_hidden_layers");
    c.vocab_size = top.integer("vocab_size");
    b.norm_eps = top.number("layer_norm_epsilon", 1e-5);
    // transformers' defaults: MambaConfig ties (PretrainedConfig), Mamba2Config does not.
    c.head.tied = top.flag("tie_word_embeddings", type == "mamba");
    c.pad_id = top.integer("pad_token_id", 0);
    const std::string act = top.text("hidden_act", "silu");
    if (act != "silu") unsupported.push_back("hidden_act '" + act + "' (Mamba blocks use 'silu')");
    if (!top.flag("rms_norm", true)) unsupported.push_back("rms_norm = false");
  } else {
    b.d_model = top.integer("d_model");
    n_layers = top.integer("n_layer");
    // mamba_ssm stores the tokenizer's vocabulary; the embedding is padded up to a multiple.
    const int64_t multiple = top.integer("pad_vocab_size_multiple", 8);
    c.vocab_size = top.integer("vocab_size");
    if (multiple > 1) c.vocab_size = (c.vocab_size + multiple - 1) / multiple * multiple;
    b.norm_eps = top.number("norm_epsilon", 1e-5);
    c.head.tied = top.flag("tie_embeddings", true);
    c.pad_id = 0;
    if (!top.flag("rms_norm", true)) {
      b.norm = nn::NormKind::Layer;  // mamba_ssm's LayerNorm has a bias
      b.norm_bias = true;
    }
    if (top.integer("d_intermediate", 0) != 0)
      unsupported.push_back("d_intermediate = " + std::to_string(top.integer("d_intermediate")) +
                            " (gated-MLP Mamba blocks)");
    if (top.has("attn_layer_idx") && !(top.raw("attn_layer_idx").is_array() && top.raw("attn_layer_idx").empty()))
      unsupported.push_back("attn_layer_idx " + top.raw("attn_layer_idx").dump() + " (hybrid attention layers)");
  }
  if (b.d_model <= 0 || n_layers <= 0)
    throw ConfigError(source + ": " + format + " config: the width and the number of layers must be positive");

  nlohmann::json options = nlohmann::json::object();
  const int64_t d_conv = mix.integer(ssm ? "d_conv" : "conv_kernel", 4);
  if (d_conv < 2 || d_conv > 4)
    unsupported.push_back(mix.name(ssm ? "d_conv" : "conv_kernel") + " = " + std::to_string(d_conv) +
                          " (the causal convolution supports widths 2 to 4)");
  options["d_conv"] = d_conv;
  const int64_t expand = mix.integer("expand", 2);
  options["expand"] = expand;
  options["conv_bias"] = mix.flag(ssm ? "conv_bias" : "use_conv_bias", true);
  options["bias"] = mix.flag(ssm ? "bias" : "use_bias", false);
  options["dt_min"] = mix.number(ssm ? "dt_min" : "time_step_min", 0.001);
  options["dt_max"] = mix.number(ssm ? "dt_max" : "time_step_max", 0.1);
  options["dt_init_floor"] = mix.number(ssm ? "dt_init_floor" : "time_step_floor", 1e-4);
  if (!ssm && top.has("intermediate_size") && top.integer("intermediate_size") != expand * b.d_model)
    unsupported.push_back("intermediate_size " + std::to_string(top.integer("intermediate_size")) +
                          " (must be expand x hidden_size = " + std::to_string(expand * b.d_model) + ")");
  char letter = 'M';
  if (layer == "Mamba1") {
    options["d_state"] = mix.integer(ssm ? "d_state" : "state_size", 16);
    const char* rank_key = ssm ? "dt_rank" : "time_step_rank";
    if (mix.has(rank_key)) {
      const auto& v = mix.raw(rank_key);
      if (v.is_string() && v.get<std::string>() == "auto") options["dt_rank"] = "auto";
      else options["dt_rank"] = mix.integer(rank_key);
    }
    options["dt_scale"] = mix.number(ssm ? "dt_scale" : "time_step_scale", 1.0);
    options["dt_init"] = mix.text(ssm ? "dt_init" : "time_step_init_scheme", "random");
  } else if (layer == "Mamba2") {
    letter = '2';
    options["d_state"] = mix.integer(ssm ? "d_state" : "state_size", 128);
    const int64_t headdim = mix.integer(ssm ? "headdim" : "head_dim", 64);
    options["headdim"] = headdim;
    const int64_t groups = mix.integer(ssm ? "ngroups" : "n_groups", ssm ? 1 : 8);
    options["ngroups"] = groups;
    options["chunk_size"] = mix.integer("chunk_size", 256);
    if (!ssm) {
      if (top.has("num_heads") && top.integer("num_heads") * headdim != expand * b.d_model)
        unsupported.push_back("num_heads " + std::to_string(top.integer("num_heads")) + " x head_dim " +
                              std::to_string(headdim) + " != expand x hidden_size " + std::to_string(expand * b.d_model));
      // transformers' MambaRMSNormGated normalises all channels at once; strand (like mamba_ssm)
      // normalises each group, so the two agree only with one group.
      if (groups != 1)
        unsupported.push_back("n_groups = " + std::to_string(groups) +
                              " (transformers normalises the gated RMSNorm over all groups at once; strand, like "
                              "mamba_ssm, per group: they agree only for n_groups = 1)");
      if (top.has("time_step_limit")) {
        const auto& v = top.raw("time_step_limit");
        const bool unlimited = v.is_array() && v.size() == 2 && v[0].is_number() && v[0].get<double>() == 0.0 &&
                               (v[1].is_null() || (v[1].is_number() && std::isinf(v[1].get<double>())));
        if (!unlimited) options["dt_limit"] = v;
      }
    } else {
      if (!mix.flag("rmsnorm", true)) unsupported.push_back("ssm_cfg.rmsnorm = false");
      if (mix.flag("D_has_hdim", false)) unsupported.push_back("ssm_cfg.D_has_hdim = true");
      options["norm_before_gate"] = mix.flag("norm_before_gate", false);
      if (mix.has("d_ssm") && mix.integer("d_ssm") != expand * b.d_model)
        unsupported.push_back("ssm_cfg.d_ssm " + std::to_string(mix.integer("d_ssm")) + " (a gated-MLP branch)");
      if (mix.has("dt_limit")) {
        const auto& v = mix.raw("dt_limit");
        const bool unlimited = v.is_array() && v.size() == 2 && v[0].is_number() && v[0].get<double>() == 0.0 &&
                               (v[1].is_null() || (v[1].is_number() && std::isinf(v[1].get<double>())));
        if (!unlimited) options["dt_limit"] = v;
      }
    }
  } else {
    unsupported.push_back("ssm_cfg.layer '" + layer + "' (supported: Mamba1, Mamba2)");
  }
  if (!unsupported.empty()) {
    std::string text;
    for (const auto& u : unsupported) text += "\n  " + u;
    throw ConfigError(source + ": unsupported " + format + " settings:" + text);
  }
  b.pattern = std::string(static_cast<size_t>(n_layers), letter);
  b.causal = true;
  b.mlp = nn::MlpKind::None;
  b.mlp_hidden = 0;
  b.final_norm = true;
  b.mixers = {{std::string(1, letter), options}};
  b.normalise(source);
  c.head.kind = HeadKind::CausalLM;
  c.architecture = "strand";
  c.tokenizer = nlohmann::json::object();  // transformers tokenizers are not read (model_io.h)
  c.provenance = {{"imported_from", format + " checkpoint"}, {"source", source}};
  if (!type.empty()) c.provenance["model_type"] = type;
  c.validate(source);
  return c;
}

std::map<std::string, at::Tensor> tensors_from_hf_mamba(const std::map<std::string, at::Tensor>& hf,
                                                        ModelConfig& config, const std::string& source) {
  static const std::regex layer_key(R"(backbone\.layers\.(\d+)\.(norm|mixer)\.(.+))");
  std::map<std::string, at::Tensor> out;
  std::string embedding_name;
  at::Tensor lm_head;
  for (const auto& [name, tensor] : hf) {
    if (name == "backbone.embeddings.weight" || name == "backbone.embedding.weight") {
      if (!embedding_name.empty())
        throw InputError(source + ": the checkpoint has both '" + embedding_name + "' and '" + name +
                         "'; expected one token embedding");
      embedding_name = name;
      out["embed.weight"] = tensor;
      continue;
    }
    if (name == "lm_head.weight") {
      lm_head = tensor;
      continue;
    }
    std::smatch m;
    if (std::regex_match(name, m, layer_key)) {
      const std::string where = m[2].str() == "norm" ? ".norm1." : ".mixer.";
      out["backbone.blocks." + m[1].str() + where + m[3].str()] = tensor;
      continue;
    }
    out[name] = tensor;  // backbone.norm_f.*; anything else is reported as unexpected
  }
  if (lm_head.defined()) {
    const auto embedding = out.find("embed.weight");
    const bool same = embedding != out.end() && embedding->second.sizes() == lm_head.sizes() &&
                      at::equal(embedding->second, lm_head.to(embedding->second.scalar_type()));
    if (!(config.head.tied && same)) {
      config.head.tied = false;  // an LM head of its own
      out["head.decoder.weight"] = lm_head;
    }
  } else if (!config.head.tied) {
    throw InputError(source + ": the config unties the LM head (tie_word_embeddings false) but the checkpoint has "
                              "no 'lm_head.weight'");
  }
  return out;
}

ModelDir load_model_dir(const std::string& dir) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(config_path))
    throw IoError(dir + ": not a model directory (no config.json; expected config.json, model.safetensors and "
                        "tokenizer.json)");
  const nlohmann::json raw = load_json(config_path);
  ModelDir out;
  if (raw.is_object() && raw.contains("model_type")) {
    const std::string type = raw.at("model_type").is_string() ? raw.at("model_type").get<std::string>() : "?";
    if (type == "esm") {
      out.format = "hf-esm";
      out.config = config_from_hf_esm(raw, config_path);
    } else if (type == "mamba" || type == "mamba2") {
      out.format = "hf-" + type;
      out.config = config_from_hf_mamba(raw, config_path);
    } else {
      throw ConfigError(config_path + ": Hugging Face model_type '" + type +
                        "' cannot be imported (supported: 'esm', the Nucleotide Transformer v2 layout; 'mamba'; "
                        "'mamba2')");
    }
  } else if (is_mamba_ssm_config(raw)) {
    out.format = "mamba_ssm";
    out.config = config_from_hf_mamba(raw, config_path);
  } else {
    out.format = "strand";
    out.config = ModelConfig::from_json(raw, config_path);
  }
  const bool imported = out.format != "strand";
  auto tensors = io::load_weights(dir);
  if (out.format == "hf-esm") {
    bool has_head = false;
    for (const auto& [name, t] : tensors)
      if (name.rfind("lm_head.", 0) == 0) has_head = true;
    if (!has_head) out.config.head.kind = HeadKind::None;  // EsmModel without the LM head
    tensors = tensors_from_hf_esm(tensors, out.config, dir);
  } else if (imported) {
    tensors = tensors_from_hf_mamba(tensors, out.config, dir);
  }
  out.model = SequenceModel(out.config);
  load_state_dict(*out.model, tensors, (std::filesystem::path(dir) / "model.safetensors").string());
  // A Hugging Face directory's tokenizer files are in the transformers format; the NTv2 6-mer
  // tokenizer is ours (config.tokenizer.spec names it), so they are not read.
  if (!imported) {
    const auto tokenizer_path = std::filesystem::path(dir) / "tokenizer.json";
    if (std::filesystem::exists(tokenizer_path)) out.tokenizer = load_json(tokenizer_path.string());
  }
  return out;
}

}  // namespace strand::models
