#include "libseq/mixers/attention.h"

#include <ATen/ATen.h>

#include <cmath>

#include "kernels/attention/attention.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::mixers {

AttentionMixer::AttentionMixer(const AttentionOptions& options) : options_(options) {
  STRAND_CHECK(options.n_heads > 0 && options.d_model % options.n_heads == 0, "attention: d_model ",
               options.d_model, " is not divisible by n_heads ", options.n_heads);
  head_dim_ = options.d_model / options.n_heads;
  if (options.rotary) rotary_.emplace(head_dim_, options.rope_base);
  const auto linear = [&](const char* name) {
    return register_module(
        name, torch::nn::Linear(torch::nn::LinearOptions(options.d_model, options.d_model).bias(options.bias)));
  };
  q_proj_ = linear("q_proj");
  k_proj_ = linear("k_proj");
  v_proj_ = linear("v_proj");
  o_proj_ = linear("o_proj");
}

void AttentionMixer::project(const at::Tensor& x, int64_t offset, at::Tensor& q, at::Tensor& k, at::Tensor& v) {
  const int64_t b = x.size(0), l = x.size(1);
  const auto heads = [&](const at::Tensor& t) {
    return t.view({b, l, options_.n_heads, head_dim_}).transpose(1, 2);
  };
  q = heads(q_proj_->forward(x));
  k = heads(k_proj_->forward(x));
  v = heads(v_proj_->forward(x));
  if (rotary_) {
    q = rotary_->apply(q, offset);
    k = rotary_->apply(k, offset);
  }
}

at::Tensor AttentionMixer::merge(const at::Tensor& heads) {
  const int64_t b = heads.size(0), l = heads.size(2);
  return o_proj_->forward(heads.transpose(1, 2).reshape({b, l, options_.d_model}));
}

at::Tensor AttentionMixer::forward(const at::Tensor& x, const at::Tensor& mask) {
  STRAND_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "attention: expected input (batch, length, ",
               options_.d_model, "), got ", x.sizes());
  at::Tensor q, k, v;
  project(x, 0, q, k, v);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  return merge(strand::attention(q, k, v, mask, options_.causal, scale));
}

std::unique_ptr<MixerState> AttentionMixer::make_state(int64_t batch) const {
  STRAND_CHECK(options_.causal, "bidirectional attention has no step-by-step decoding");
  STRAND_CHECK(batch > 0, "attention: batch must be positive, got ", batch);
  return std::make_unique<AttentionState>();
}

at::Tensor AttentionMixer::cached_forward(const at::Tensor& x, AttentionState& state) {
  STRAND_CHECK(options_.causal, "bidirectional attention has no step-by-step decoding");
  const int64_t b = x.size(0), l = x.size(1);
  at::Tensor q, k, v;
  project(x, state.length, q, k, v);
  const int64_t needed = state.length + l;
  if (!state.k.defined() || state.k.size(2) < needed) {
    int64_t capacity = state.k.defined() ? state.k.size(2) : 16;
    while (capacity < needed) capacity *= 2;
    at::Tensor nk = at::empty({b, options_.n_heads, capacity, head_dim_}, k.options());
    at::Tensor nv = at::empty_like(nk);
    if (state.length > 0) {
      nk.narrow(2, 0, state.length).copy_(state.k.narrow(2, 0, state.length));
      nv.narrow(2, 0, state.length).copy_(state.v.narrow(2, 0, state.length));
    }
    state.k = nk;
    state.v = nv;
  }
  STRAND_CHECK(state.k.size(0) == b, "attention: the KV cache holds batch ", state.k.size(0), ", input has ", b);
  state.k.narrow(2, state.length, l).copy_(k);
  state.v.narrow(2, state.length, l).copy_(v);
  const at::Tensor keys = state.k.narrow(2, 0, needed);
  const at::Tensor values = state.v.narrow(2, 0, needed);
  const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim_));
  const at::Tensor out = strand::attention(q, keys, values, at::Tensor(), /*causal=*/true, scale, state.length);
  state.length = needed;
  return merge(out);
}

at::Tensor AttentionMixer::step(const at::Tensor& x_t, MixerState& state) {
  STRAND_CHECK(x_t.dim() == 2 && x_t.size(1) == options_.d_model, "attention step: expected (batch, ",
               options_.d_model, "), got ", x_t.sizes());
  auto* s = dynamic_cast<AttentionState*>(&state);
  STRAND_ASSERT(s != nullptr, "attention step given another mixer's state");
  return cached_forward(x_t.unsqueeze(1), *s).squeeze(1);
}

at::Tensor AttentionMixer::prefill(const at::Tensor& x, MixerState& state) {
  auto* s = dynamic_cast<AttentionState*>(&state);
  STRAND_ASSERT(s != nullptr, "attention prefill given another mixer's state");
  return cached_forward(x, *s);
}

MixerType attention_mixer_type() {
  MixerType type;
  type.letter = 'A';
  type.name = "attention";
  type.normalise = [](const nlohmann::json& options, int64_t d_model, const std::string& where) {
    const nlohmann::json empty = nlohmann::json::object();
    ConfigReader r(options.is_null() ? empty : options, where);
    nlohmann::json out;
    const int64_t n_heads = r.optional<int64_t>("n_heads", std::max<int64_t>(1, d_model / 64));
    if (n_heads <= 0 || d_model % n_heads != 0)
      throw ConfigError(where + ": n_heads " + std::to_string(n_heads) + " does not divide d_model " +
                        std::to_string(d_model));
    const bool rotary = r.optional<bool>("rotary", true);
    if (rotary && (d_model / n_heads) % 2 != 0)
      throw ConfigError(where + ": rotary embeddings need an even head dimension, got " +
                        std::to_string(d_model / n_heads));
    const double rope_base = r.optional<double>("rope_base", 10000.0);
    if (!(rope_base > 1.0)) throw ConfigError(where + ": rope_base must be greater than 1");
    out["n_heads"] = n_heads;
    out["rotary"] = rotary;
    out["rope_base"] = rope_base;
    out["bias"] = r.optional<bool>("bias", false);
    r.finish();
    return out;
  };
  type.create = [](const MixerContext& c) -> std::shared_ptr<Mixer> {
    AttentionOptions o;
    o.d_model = c.d_model;
    o.causal = c.causal;
    o.n_heads = c.options.at("n_heads").get<int64_t>();
    o.rotary = c.options.at("rotary").get<bool>();
    o.rope_base = c.options.at("rope_base").get<double>();
    o.bias = c.options.at("bias").get<bool>();
    return std::make_shared<AttentionMixer>(o);
  };
  return type;
}

}  // namespace strand::mixers
