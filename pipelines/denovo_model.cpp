#include "pipelines/denovo_model.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/nn/functional/loss.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "kernels/attention/attention.h"
#include "libseq/core/error.h"

namespace strand::pipelines::denovo {
namespace sp = bio::spectra;
namespace {

// Wavelengths of the codes (depthcharge 0.4): masses 0.001 .. 10,000 Da, intensities 1e-6 .. 1,
// positions 1 .. 100,000.
constexpr double kMassLambdaMin = 0.001;
constexpr double kMassLambdaMax = 10000.0;
constexpr double kIntensityLambdaMin = 1e-6;
constexpr double kIntensityLambdaMax = 1.0;
constexpr double kPositionLambdaMin = 1.0;
constexpr double kPositionLambdaMax = 100000.0;

/// Position codes 0 .. n-1 offset by `start`, (n, d) float32.
at::Tensor position_codes(int64_t start, int64_t n, int64_t d, const at::Device& device) {
  const at::Tensor positions = at::arange(start, start + n, at::TensorOptions().dtype(at::kDouble).device(device));
  return sinusoid_features(positions, d, kPositionLambdaMin, kPositionLambdaMax);
}

int64_t json_int(const nlohmann::json& j, const char* key, int64_t fallback, int64_t min, int64_t max) {
  if (!j.contains(key)) return fallback;
  if (!j.at(key).is_number_integer())
    throw ConfigError(std::string("de novo model config: '") + key + "' must be an integer");
  const int64_t v = j.at(key).get<int64_t>();
  if (v < min || v > max)
    throw ConfigError(std::string("de novo model config: '") + key + "' must be in " + std::to_string(min) + ".." +
                      std::to_string(max) + ", found " + std::to_string(v));
  return v;
}

}  // namespace

nlohmann::json ModelConfig::to_json() const {
  nlohmann::json mods = nlohmann::json::array();
  for (const auto& m : modifications)
    mods.push_back({{"name", m.name}, {"target", std::string(1, m.target)}, {"delta", m.delta}, {"fixed", m.fixed}});
  return {{"d_model", d_model},
          {"heads", heads},
          {"ff_hidden", ff_hidden},
          {"encoder_layers", encoder_layers},
          {"encoder_pattern", encoder_pattern},
          {"decoder_layers", decoder_layers},
          {"nar_layers", nar_layers},
          {"nar_length", nar_length},
          {"max_charge", max_charge},
          {"max_peptide_length", max_peptide_length},
          {"reverse", reverse},
          {"merge_isoleucine", merge_isoleucine},
          {"modifications", mods}};
}

ModelConfig ModelConfig::from_json(const nlohmann::json& j) {
  static const char* kKeys[] = {"d_model",    "heads",      "ff_hidden",          "encoder_layers", "encoder_pattern",
                                "decoder_layers",
                                "nar_layers", "nar_length", "max_charge",         "max_peptide_length", "reverse",
                                "merge_isoleucine", "modifications"};
  if (!j.is_object()) throw ConfigError("de novo model config: expected a JSON object");
  for (const auto& [key, value] : j.items()) {
    (void)value;
    if (std::find_if(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return key == k; }) == std::end(kKeys))
      throw ConfigError("de novo model config: unknown key '" + key + "'");
  }
  ModelConfig c;
  c.d_model = json_int(j, "d_model", c.d_model, 8, 65536);
  c.heads = json_int(j, "heads", c.heads, 1, 1024);
  c.ff_hidden = json_int(j, "ff_hidden", c.ff_hidden, 1, 1 << 20);
  c.encoder_layers = json_int(j, "encoder_layers", c.encoder_layers, 1, 256);
  c.decoder_layers = json_int(j, "decoder_layers", c.decoder_layers, 1, 256);
  c.nar_layers = json_int(j, "nar_layers", c.nar_layers, 0, 256);
  c.nar_length = json_int(j, "nar_length", c.nar_length, 1, 4096);
  c.max_charge = json_int(j, "max_charge", c.max_charge, 1, 100);
  c.max_peptide_length = json_int(j, "max_peptide_length", c.max_peptide_length, 1, 4096);
  if (c.d_model % c.heads != 0 || c.d_model % 2 != 0)
    throw ConfigError("de novo model config: d_model (" + std::to_string(c.d_model) +
                      ") must be even and a multiple of heads (" + std::to_string(c.heads) + ")");
  if (j.contains("encoder_pattern")) {
    if (!j.at("encoder_pattern").is_string())
      throw ConfigError("de novo model config: 'encoder_pattern' must be a string of layer letters");
    c.encoder_pattern = j.at("encoder_pattern").get<std::string>();
  }
  for (const char* key : {"reverse", "merge_isoleucine"})
    if (j.contains(key) && !j.at(key).is_boolean())
      throw ConfigError(std::string("de novo model config: '") + key + "' must be true or false");
  if (j.contains("reverse")) c.reverse = j.at("reverse").get<bool>();
  if (j.contains("merge_isoleucine")) c.merge_isoleucine = j.at("merge_isoleucine").get<bool>();
  if (j.contains("modifications")) {
    c.modifications.clear();
    if (!j.at("modifications").is_array()) throw ConfigError("de novo model config: 'modifications' must be a list");
    for (const auto& m : j.at("modifications")) {
      if (!m.is_object() || !m.contains("name") || !m.at("name").is_string() || !m.contains("target") ||
          !m.at("target").is_string() || m.at("target").get<std::string>().size() != 1 || !m.contains("delta") ||
          !m.at("delta").is_number())
        throw ConfigError("de novo model config: each modification needs a name, a one-letter target ('^' for the "
                          "N-terminus) and a numeric delta, found " + m.dump());
      c.modifications.push_back({m.at("name").get<std::string>(), m.at("target").get<std::string>()[0],
                                 m.at("delta").get<double>(), m.value("fixed", false)});
    }
  }
  return c;
}

at::Tensor sinusoid_features(const at::Tensor& x, int64_t d, double lambda_min, double lambda_max) {
  STRAND_ASSERT(d >= 2, "sinusoid_features needs d >= 2");
  const int64_t n_sin = (d + 1) / 2;
  const int64_t n_cos = d - n_sin;
  const auto options = at::TensorOptions().dtype(at::kDouble).device(x.device());
  const auto angular = [&](int64_t n) {
    // 2 pi / wavelength_k, wavelength_k = lambda_min * (lambda_max / lambda_min)^(k / (n - 1)).
    const at::Tensor k = at::arange(n, options);
    const at::Tensor exponent = n == 1 ? at::zeros({1}, options) : k / static_cast<double>(n - 1);
    return (2 * M_PI) / (lambda_min * at::pow(at::full({}, lambda_max / lambda_min, options), exponent));
  };
  const at::Tensor xd = x.to(at::kDouble).unsqueeze(-1);
  return at::cat({at::sin(xd * angular(n_sin)), at::cos(xd * angular(n_cos))}, -1).to(at::kFloat);
}

LayerImpl::LayerImpl(int64_t d, int64_t heads, int64_t ff_hidden, bool cross) : heads_(heads) {
  norm_self_ = register_module("norm_self", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
  self_q_ = register_module("self_q", torch::nn::Linear(d, d));
  self_kv_ = register_module("self_kv", torch::nn::Linear(d, 2 * d));
  self_o_ = register_module("self_o", torch::nn::Linear(d, d));
  if (cross) {
    norm_cross_ = register_module("norm_cross", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
    cross_q_ = register_module("cross_q", torch::nn::Linear(d, d));
    cross_kv_ = register_module("cross_kv", torch::nn::Linear(d, 2 * d));
    cross_o_ = register_module("cross_o", torch::nn::Linear(d, d));
  }
  norm_mlp_ = register_module("norm_mlp", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
  mlp_ = register_module("mlp", nn::Mlp(d, ff_hidden, nn::MlpKind::GELU, true));
}

std::pair<at::Tensor, at::Tensor> LayerImpl::keys_values(torch::nn::Linear& kv_proj, const at::Tensor& source) const {
  const int64_t b = source.size(0);
  const int64_t lk = source.size(1);
  const int64_t hd = source.size(2) / heads_;
  const auto kv = kv_proj->forward(source).view({b, lk, 2, heads_, hd}).permute({2, 0, 3, 1, 4});
  return {kv[0], kv[1]};
}

at::Tensor LayerImpl::attend(torch::nn::Linear& q_proj, torch::nn::Linear& o_proj, const at::Tensor& x,
                             const at::Tensor& k, const at::Tensor& v, const at::Tensor& mask, bool causal) const {
  const int64_t b = x.size(0);
  const int64_t lq = x.size(1);
  const int64_t d = x.size(2);
  const int64_t hd = d / heads_;
  const at::Tensor q = q_proj->forward(x).view({b, lq, heads_, hd}).transpose(1, 2);
  const at::Tensor out = attention(q, k, v, mask, causal, 1.0 / std::sqrt(static_cast<double>(hd)));
  return o_proj->forward(out.transpose(1, 2).reshape({b, lq, d}));
}

at::Tensor LayerImpl::forward(const at::Tensor& x, const at::Tensor& self_mask, bool causal, const at::Tensor& memory,
                              const at::Tensor& memory_mask) {
  const at::Tensor h = norm_self_->forward(x);
  const auto [k, v] = keys_values(self_kv_, h);
  at::Tensor y = x + attend(self_q_, self_o_, h, k, v, self_mask, causal);
  if (cross_q_) {
    STRAND_ASSERT(memory.defined(), "a cross-attention layer needs a memory");
    const auto [mk, mv] = keys_values(cross_kv_, memory);
    y = y + attend(cross_q_, cross_o_, norm_cross_->forward(y), mk, mv, memory_mask, false);
  }
  return y + mlp_->forward(norm_mlp_->forward(y));
}

std::pair<at::Tensor, at::Tensor> LayerImpl::cross_keys_values(const at::Tensor& memory) {
  STRAND_ASSERT(cross_q_, "a layer without cross-attention has no cross keys");
  return keys_values(cross_kv_, memory);
}

at::Tensor LayerImpl::step(const at::Tensor& x, at::Tensor& k_cache, at::Tensor& v_cache, const at::Tensor& cross_k,
                           const at::Tensor& cross_v, const at::Tensor& memory_mask) {
  const at::Tensor h = norm_self_->forward(x);
  const auto [k, v] = keys_values(self_kv_, h);
  k_cache = k_cache.defined() ? at::cat({k_cache, k}, 2) : k;
  v_cache = v_cache.defined() ? at::cat({v_cache, v}, 2) : v;
  // The new position sees every cached one (a decoded prefix has no padding).
  at::Tensor y = x + attend(self_q_, self_o_, h, k_cache, v_cache, at::Tensor(), false);
  if (cross_q_) y = y + attend(cross_q_, cross_o_, norm_cross_->forward(y), cross_k, cross_v, memory_mask, false);
  return y + mlp_->forward(norm_mlp_->forward(y));
}

DenovoModelImpl::DenovoModelImpl(ModelConfig config)
    : config_(std::move(config)), table_(config_.modifications, config_.merge_isoleucine) {
  const int64_t d = config_.d_model;
  STRAND_CHECK(d % config_.heads == 0 && d % 2 == 0, "d_model ", d, " must be even and a multiple of heads ",
               config_.heads);
  vocab_ = static_cast<int64_t>(table_.residues().size()) + 2;
  std::vector<double> masses(static_cast<size_t>(vocab_), 0.0);
  for (size_t i = 0; i < table_.residues().size(); ++i) masses[i + 1] = table_.residues()[i].mass;
  token_masses_ = register_buffer("token_masses", at::tensor(masses, at::TensorOptions().dtype(at::kDouble)));
  peak_combiner_ = register_module("peak_combiner", torch::nn::Linear(torch::nn::LinearOptions(2 * d, d).bias(false)));
  latent_spectrum_ = register_parameter("latent_spectrum", at::randn({1, 1, d}) * 0.02);
  charge_embedding_ = register_module("charge_embedding", torch::nn::Embedding(config_.max_charge, d));
  token_embedding_ = register_module("token_embedding", torch::nn::Embedding(vocab_, d));
  mass_combiner_ = register_module("mass_combiner", torch::nn::Linear(torch::nn::LinearOptions(2 * d, d).bias(false)));
  if (config_.encoder_pattern.empty()) {
    encoder_ = register_module("encoder", torch::nn::ModuleList());
    for (int64_t i = 0; i < config_.encoder_layers; ++i)
      encoder_->push_back(Layer(d, config_.heads, config_.ff_hidden, false));
    encoder_norm_ = register_module("encoder_norm", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
  } else {
    models::BackboneConfig backbone;
    backbone.d_model = d;
    backbone.pattern = config_.encoder_pattern;
    backbone.causal = false;
    backbone.mlp_hidden = config_.ff_hidden;
    backbone.normalise("de novo model config: encoder_pattern");
    encoder_backbone_ = register_module("encoder_backbone", models::Backbone(backbone));
  }
  decoder_ = register_module("decoder", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.decoder_layers; ++i) decoder_->push_back(Layer(d, config_.heads, config_.ff_hidden, true));
  decoder_norm_ = register_module("decoder_norm", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
  head_ = register_module("head", torch::nn::Linear(d, vocab_));
  if (config_.nar_layers > 0) {
    nar_ = register_module("nar", torch::nn::ModuleList());
    for (int64_t i = 0; i < config_.nar_layers; ++i) nar_->push_back(Layer(d, config_.heads, config_.ff_hidden, true));
    nar_norm_ = register_module("nar_norm", nn::Norm(d, nn::NormKind::Layer, 1e-5, true));
    nar_head_ = register_module("nar_head", torch::nn::Linear(d, vocab_));
  }
}

DenovoModelImpl::Encoded DenovoModelImpl::encode(const Batch& batch) {
  const int64_t d = config_.d_model;
  const int64_t b = batch.mz.size(0);
  const at::Tensor peaks = peak_combiner_->forward(
      at::cat({sinusoid_features(batch.mz, d, kMassLambdaMin, kMassLambdaMax),
               sinusoid_features(batch.intensity, d, kIntensityLambdaMin, kIntensityLambdaMax)},
              -1));
  at::Tensor x = at::cat({latent_spectrum_.expand({b, 1, d}), peaks}, 1);
  const at::Tensor mask =
      at::cat({at::ones({b, 1}, batch.peak_mask.options().dtype(at::kBool)), batch.peak_mask.to(at::kBool)}, 1);
  if (encoder_backbone_) {
    x = encoder_backbone_->forward(x, mask);  // ends with its own final norm
  } else {
    for (const auto& layer : *encoder_) x = layer->as<LayerImpl>()->forward(x, mask, false, {}, {});
    x = encoder_norm_->forward(x);
  }
  const at::Tensor charge = batch.charge.clamp(1, config_.max_charge) - 1;
  const at::Tensor precursor = sinusoid_features(batch.precursor_mass, d, kMassLambdaMin, kMassLambdaMax) +
                               charge_embedding_->forward(charge);
  return {x, mask, precursor, batch.precursor_mass.to(at::kDouble)};
}

std::pair<at::Tensor, at::Tensor> DenovoModelImpl::nar_forward(const Encoded& enc) {
  STRAND_ASSERT(has_nar(), "the model has no non-autoregressive decoder");
  const int64_t b = enc.precursor.size(0);
  const int64_t n = config_.nar_length;
  at::Tensor x = enc.precursor.unsqueeze(1) + position_codes(0, n, config_.d_model, enc.precursor.device()).unsqueeze(0);
  const at::Tensor self_mask = at::ones({b, n}, enc.memory_mask.options());
  for (const auto& layer : *nar_) x = layer->as<LayerImpl>()->forward(x, self_mask, false, enc.memory, enc.memory_mask);
  x = nar_norm_->forward(x);
  return {x, nar_head_->forward(x)};
}

at::Tensor DenovoModelImpl::mass_codes(const at::Tensor& prefix, const at::Tensor& precursor_mass) {
  const int64_t d = config_.d_model;
  const at::Tensor remaining = precursor_mass - sp::kWater - prefix;
  return mass_combiner_->forward(at::cat({sinusoid_features(prefix, d, kMassLambdaMin, kMassLambdaMax),
                                          sinusoid_features(remaining, d, kMassLambdaMin, kMassLambdaMax)},
                                         -1));
}

std::pair<at::Tensor, at::Tensor> DenovoModelImpl::decoder_memory(const Encoded& enc, const at::Tensor& nar_features) {
  if (!nar_features.defined()) return {enc.memory, enc.memory_mask};
  const int64_t n = nar_features.size(1);
  const int64_t m = enc.memory.size(1);
  const int64_t d = config_.d_model;
  const at::Device device = enc.memory.device();
  const at::Tensor memory = at::cat({nar_features + position_codes(0, n, d, device).unsqueeze(0),
                                     enc.memory + position_codes(n, m, d, device).unsqueeze(0)},
                                    1);
  const at::Tensor mask = at::cat({at::ones({enc.memory_mask.size(0), n}, enc.memory_mask.options()), enc.memory_mask}, 1);
  return {memory, mask};
}

at::Tensor DenovoModelImpl::decode(const Encoded& enc, const at::Tensor& tokens, const at::Tensor& nar_features) {
  const int64_t d = config_.d_model;
  const int64_t b = tokens.size(0);
  const int64_t l = tokens.size(1);
  at::Tensor x = at::cat({enc.precursor.unsqueeze(1), token_embedding_->forward(tokens)}, 1);
  x = x + position_codes(0, l + 1, d, x.device()).unsqueeze(0);
  // The prefix mass after each position, and the mass still to explain (ContraNovo's inputs).
  const at::Tensor residue_mass = token_masses_.index_select(0, tokens.reshape({-1})).view({b, l});
  const at::Tensor prefix = at::cat({at::zeros({b, 1}, residue_mass.options()), residue_mass.cumsum(1)}, 1);
  x = x + mass_codes(prefix, enc.precursor_mass.to(at::kDouble).unsqueeze(1));
  const at::Tensor self_mask = at::cat({at::ones({b, 1}, tokens.options().dtype(at::kBool)), tokens.ne(0)}, 1);
  const auto [memory, memory_mask] = decoder_memory(enc, nar_features);
  for (const auto& layer : *decoder_) x = layer->as<LayerImpl>()->forward(x, self_mask, true, memory, memory_mask);
  return head_->forward(decoder_norm_->forward(x));
}

void DenovoModelImpl::freeze_encoder_side() {
  static const char* kPrefixes[] = {"peak_combiner.", "latent_spectrum", "charge_embedding.", "encoder.",
                                    "encoder_backbone.", "encoder_norm.", "nar.", "nar_norm.", "nar_head."};
  for (auto& item : named_parameters()) {
    const std::string& name = item.key();
    bool encoder_side = false;
    for (const char* prefix : kPrefixes) encoder_side = encoder_side || name.rfind(prefix, 0) == 0;
    if (!encoder_side) continue;
    item.value().set_requires_grad(false);
    item.value().mutable_grad() = at::Tensor();
  }
}

DecoderCache DenovoModelImpl::start_decoding(const Encoded& enc, const at::Tensor& nar_features) {
  DecoderCache cache;
  const auto [memory, memory_mask] = decoder_memory(enc, nar_features);
  cache.memory_mask = memory_mask;
  for (const auto& layer : *decoder_) {
    const auto [k, v] = layer->as<LayerImpl>()->cross_keys_values(memory);
    cache.cross_k.push_back(k);
    cache.cross_v.push_back(v);
  }
  cache.self_k.resize(cache.cross_k.size());
  cache.self_v.resize(cache.cross_k.size());
  cache.precursor = enc.precursor;
  cache.precursor_mass = enc.precursor_mass.to(at::kDouble);
  cache.prefix_mass = at::zeros_like(cache.precursor_mass);
  return cache;
}

at::Tensor DenovoModelImpl::decode_step(DecoderCache& cache, const at::Tensor& tokens) {
  const int64_t d = config_.d_model;
  const int64_t position = cache.length;
  at::Tensor x;
  if (position == 0) {
    x = cache.precursor;
  } else {
    STRAND_ASSERT(tokens.defined() && tokens.dim() == 1, "decode_step needs one token per row after the first step");
    x = token_embedding_->forward(tokens);
    cache.prefix_mass = cache.prefix_mass + token_masses_.index_select(0, tokens);
  }
  x = x + position_codes(position, 1, d, x.device()) + mass_codes(cache.prefix_mass, cache.precursor_mass);
  x = x.unsqueeze(1);
  size_t i = 0;
  for (const auto& layer : *decoder_) {
    x = layer->as<LayerImpl>()->step(x, cache.self_k[i], cache.self_v[i], cache.cross_k[i], cache.cross_v[i],
                                     cache.memory_mask);
    ++i;
  }
  ++cache.length;
  return head_->forward(decoder_norm_->forward(x)).squeeze(1);
}

void DecoderCache::select_rows(const at::Tensor& rows) {
  const auto pick = [&](at::Tensor& t) {
    if (t.defined()) t = t.index_select(0, rows);
  };
  for (auto* list : {&self_k, &self_v, &cross_k, &cross_v})
    for (auto& t : *list) pick(t);
  pick(memory_mask);
  pick(precursor);
  pick(precursor_mass);
  pick(prefix_mass);
}

std::vector<int64_t> model_ids(const DenovoModelImpl& model, const std::vector<int>& tokens) {
  std::vector<int64_t> ids;
  ids.reserve(tokens.size() + 1);
  for (const int t : tokens) ids.push_back(t + 1);
  if (model.config().reverse) std::reverse(ids.begin(), ids.end());
  ids.push_back(model.stop_token());
  return ids;
}

Batch make_batch(const DenovoModelImpl& model, const std::vector<sp::Spectrum>& spectra, bool with_peptides) {
  const auto n = static_cast<int64_t>(spectra.size());
  STRAND_CHECK(n > 0, "a batch needs at least one spectrum");
  int64_t peaks = 1;
  for (const auto& s : spectra) peaks = std::max<int64_t>(peaks, static_cast<int64_t>(s.mz.size()));
  const auto f64 = at::TensorOptions().dtype(at::kDouble);
  Batch batch;
  batch.mz = at::zeros({n, peaks}, f64);
  batch.intensity = at::zeros({n, peaks}, f64);
  batch.peak_mask = at::zeros({n, peaks}, at::TensorOptions().dtype(at::kBool));
  batch.precursor_mass = at::zeros({n}, f64);
  batch.charge = at::zeros({n}, at::TensorOptions().dtype(at::kLong));
  auto mz = batch.mz.accessor<double, 2>();
  auto intensity = batch.intensity.accessor<double, 2>();
  auto mask = batch.peak_mask.accessor<bool, 2>();
  auto precursor_mass = batch.precursor_mass.accessor<double, 1>();
  auto charge = batch.charge.accessor<int64_t, 1>();
  std::vector<std::vector<int64_t>> ids;
  for (int64_t i = 0; i < n; ++i) {
    const sp::Spectrum& s = spectra[static_cast<size_t>(i)];
    STRAND_CHECK(s.mz.size() == s.intensity.size(), "spectrum '", s.id, "': ", s.mz.size(), " m/z values but ",
                 s.intensity.size(), " intensities");
    for (size_t p = 0; p < s.mz.size(); ++p) {
      mz[i][static_cast<int64_t>(p)] = s.mz[p];
      intensity[i][static_cast<int64_t>(p)] = s.intensity[p];
      mask[i][static_cast<int64_t>(p)] = true;
    }
    precursor_mass[i] = sp::neutral_of(s.precursor_mz, s.precursor_charge);
    charge[i] = s.precursor_charge;
    if (with_peptides) {
      std::vector<int> tokens;
      try {
        tokens = model.table().parse(s.peptide);
      } catch (const InputError& e) {
        throw InputError("spectrum '" + s.id + "': " + e.what());
      }
      ids.push_back(model_ids(model, tokens));
    }
  }
  if (with_peptides) {
    size_t longest = 0;
    for (const auto& v : ids) longest = std::max(longest, v.size());
    batch.tokens = at::zeros({n, static_cast<int64_t>(longest)}, at::TensorOptions().dtype(at::kLong));
    auto t = batch.tokens.accessor<int64_t, 2>();
    for (int64_t i = 0; i < n; ++i)
      for (size_t k = 0; k < ids[static_cast<size_t>(i)].size(); ++k) t[i][static_cast<int64_t>(k)] = ids[static_cast<size_t>(i)][k];
  }
  return batch;
}

Losses training_losses(DenovoModelImpl& model, const Batch& batch, int stage, double ar_weight, double label_smoothing) {
  STRAND_CHECK(stage == 1 || stage == 2, "training stage must be 1 or 2, found ", stage);
  STRAND_CHECK(batch.tokens.defined(), "training needs a batch with peptides");
  STRAND_CHECK(stage == 1 || model.has_nar(), "stage 2 (cross-decoder attention) needs the non-autoregressive decoder");
  const at::Tensor& tokens = batch.tokens;
  const int64_t l = tokens.size(1);
  const int64_t v = model.vocab_size();
  namespace F = torch::nn::functional;
  Losses out;
  DenovoModelImpl::Encoded enc;
  at::Tensor nar_features;
  at::Tensor nar_logits;
  if (stage == 2) {
    // Gradient blocking: the encoder and the NAR decoder are run without gradients.
    at::NoGradGuard no_grad;
    enc = model.encode(batch);
    nar_features = model.nar_forward(enc).first;
  } else {
    enc = model.encode(batch);
    if (model.has_nar()) nar_logits = model.nar_forward(enc).second;
  }
  const at::Tensor logits = model.decode(enc, tokens, nar_features).narrow(1, 0, l);
  out.ar = F::cross_entropy(logits.reshape({-1, v}), tokens.reshape({-1}),
                            F::CrossEntropyFuncOptions().ignore_index(0).label_smoothing(label_smoothing));
  if (stage == 2 || !model.has_nar()) {
    out.total = out.ar;
    return out;
  }
  // CTC over the residue tokens in decoding order (the stop token left out).
  const at::Tensor lengths = tokens.ne(0).sum(1) - 1;
  const at::Tensor targets = tokens.masked_fill(tokens.eq(model.stop_token()), 0);
  const at::Tensor log_probs = nar_logits.log_softmax(-1).transpose(0, 1);  // (T, B, V)
  const at::Tensor input_lengths = at::full({tokens.size(0)}, nar_logits.size(1), lengths.options());
  out.nar = at::ctc_loss(log_probs, targets, input_lengths, lengths, 0, at::Reduction::Mean, true);
  out.total = ar_weight * out.ar + (1 - ar_weight) * out.nar;
  return out;
}

}  // namespace strand::pipelines::denovo
