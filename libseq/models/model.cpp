#include "libseq/models/model.h"

#include <ATen/ATen.h>
#include <torch/nn/init.h>

#include <filesystem>
#include <regex>

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
  if (r.has("tokenizer")) c.tokenizer = r.raw("tokenizer");
  if (r.has("provenance")) c.provenance = r.raw("provenance");
  r.finish();
  if (c.vocab_size <= 0) throw ConfigError(r.where("vocab_size") + " must be positive");
  if (c.pad_id < 0 || c.pad_id >= c.vocab_size)
    throw ConfigError(r.where("pad_id") + " " + std::to_string(c.pad_id) + " is outside the vocabulary [0, " +
                      std::to_string(c.vocab_size) + ")");
  if (c.architecture == "esm") {
    // The ESM layout is the strand backbone with fixed settings; anything else would not match
    // the checkpoints it exists to load.
    std::vector<std::string> wrong;
    const auto& b = c.backbone;
    if (b.pattern.find_first_not_of('A') != std::string::npos) wrong.push_back("pattern must be attention only");
    if (b.norm != nn::NormKind::Layer || !b.norm_bias) wrong.push_back("norm must be 'layer' with norm_bias");
    if (b.mlp != nn::MlpKind::SwiGLU) wrong.push_back("mlp must be 'swiglu'");
    if (!b.final_norm) wrong.push_back("final_norm must be true");
    if (!b.mixers.at("A").at("bias").get<bool>()) wrong.push_back("attention bias must be true");
    if (!wrong.empty()) {
      std::string text;
      for (const auto& w : wrong) text += (text.empty() ? "" : "; ") + w;
      throw ConfigError(source + ": architecture 'esm': " + text);
    }
  }
  return c;
}

nlohmann::json ModelConfig::to_json() const {
  return {{"format", "strand-model"},   {"format_version", 1},         {"architecture", architecture},
          {"vocab_size", vocab_size},    {"pad_id", pad_id},            {"backbone", backbone.to_json()},
          {"head", head.to_json()},      {"tokenizer", tokenizer},      {"provenance", provenance}};
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
}

at::Tensor SequenceModelImpl::head_logits(const at::Tensor& hidden) {
  if (lm_head_) return lm_head_->forward(hidden, embed_->weight);
  STRAND_CHECK(classifier_, "this model has no head (head kind 'none')");
  return classifier_->forward(hidden);
}

ModelOutput SequenceModelImpl::forward(const at::Tensor& ids, const at::Tensor& mask, Taps* taps) {
  STRAND_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong, "model: ids must be a (batch, length) int64 tensor, got ",
               ids.sizes(), " ", ids.scalar_type());
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

at::Tensor SequenceModelImpl::step(const at::Tensor& ids_t, BackboneState& state) {
  STRAND_CHECK(ids_t.dim() == 1 && ids_t.scalar_type() == at::kLong, "model step: ids must be (batch) int64");
  STRAND_CHECK(lm_head_, "step-by-step decoding needs an LM head");
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
  save_json(path("tokenizer.json"), tokenizer);
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

ModelDir load_model_dir(const std::string& dir) {
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  if (!std::filesystem::exists(config_path))
    throw IoError(dir + ": not a model directory (no config.json; expected config.json, model.safetensors and "
                        "tokenizer.json)");
  const nlohmann::json raw = load_json(config_path);
  ModelDir out;
  const bool hf = raw.is_object() && raw.contains("model_type");
  if (hf) {
    const std::string type = raw.at("model_type").is_string() ? raw.at("model_type").get<std::string>() : "?";
    if (type != "esm")
      throw ConfigError(config_path + ": Hugging Face model_type '" + type +
                        "' cannot be imported (supported: 'esm', the Nucleotide Transformer v2 layout)");
    out.config = config_from_hf_esm(raw, config_path);
  } else {
    out.config = ModelConfig::from_json(raw, config_path);
  }
  out.model = SequenceModel(out.config);
  auto tensors = io::load_weights(dir);
  if (hf) {
    bool has_head = false;
    for (const auto& [name, t] : tensors)
      if (name.rfind("lm_head.", 0) == 0) has_head = true;
    if (!has_head) {  // EsmModel without the LM head
      out.config.head.kind = HeadKind::None;
      out.model = SequenceModel(out.config);
    }
    tensors = tensors_from_hf_esm(tensors, out.config, dir);
  }
  load_state_dict(*out.model, tensors, (std::filesystem::path(dir) / "model.safetensors").string());
  // A Hugging Face directory's tokenizer files are in the transformers format; the NTv2 6-mer
  // tokenizer is ours (config.tokenizer.spec names it), so they are not read.
  if (!hf) {
    const auto tokenizer_path = std::filesystem::path(dir) / "tokenizer.json";
    if (!std::filesystem::exists(tokenizer_path)) throw IoError(dir + ": model directory has no tokenizer.json");
    out.tokenizer = load_json(tokenizer_path.string());
  }
  return out;
}

}  // namespace strand::models
