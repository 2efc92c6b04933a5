#include "libseq/mixers/mamba2.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <string>
#include <utility>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/ssd/ssd.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::mixers {

Mamba2Mixer::Mamba2Mixer(const Mamba2Options& options) : options_(options) {
  const Mamba2Options& o = options_;
  STRAND_CHECK(o.d_model > 0 && o.d_state > 0 && o.expand > 0 && o.headdim > 0 && o.ngroups > 0,
               "mamba2: d_model, d_state, expand, headdim and ngroups must be positive");
  STRAND_CHECK(o.d_inner() % o.headdim == 0, "mamba2: headdim ", o.headdim, " does not divide d_inner ",
               o.d_inner());
  STRAND_CHECK(o.nheads() % o.ngroups == 0, "mamba2: ngroups ", o.ngroups, " does not divide the ", o.nheads(),
               " heads");
  STRAND_CHECK(o.d_conv >= 2 && o.d_conv <= 4, "mamba2: d_conv must be between 2 and 4, got ", o.d_conv);
  STRAND_CHECK(o.A_init_min > 0 && o.A_init_max >= o.A_init_min, "mamba2: need 0 < A_init_range[0] <= [1]");
  STRAND_CHECK(o.dt_min > 0 && o.dt_max >= o.dt_min, "mamba2: need 0 < dt_min <= dt_max");
  STRAND_CHECK(o.chunk_size >= 1, "mamba2: chunk_size must be positive, got ", o.chunk_size);
  fwd_ = make_direction(*this, /*own_projections=*/true);
  norm_module_ = register_module("norm", std::make_shared<torch::nn::Module>("GatedRMSNorm"));
  norm_weight_ = norm_module_->register_parameter("weight", at::ones({o.d_inner()}));
  if (!o.causal) {
    rev_module_ = register_module("rev", std::make_shared<torch::nn::Module>("Mamba2Reverse"));
    rev_ = make_direction(*rev_module_, /*own_projections=*/!o.weight_tie);
    if (o.weight_tie) {
      rev_.in_proj = fwd_.in_proj;
      rev_.out_proj = fwd_.out_proj;
    }
  }
}

Mamba2Mixer::Direction Mamba2Mixer::make_direction(torch::nn::Module& owner, bool own_projections) {
  const Mamba2Options& o = options_;
  const int64_t din = o.d_inner(), h = o.nheads(), cd = o.conv_dim();
  Direction d;
  if (own_projections)
    d.in_proj = owner.register_module(
        "in_proj", torch::nn::Linear(torch::nn::LinearOptions(o.d_model, din + cd + h).bias(o.bias)));
  d.conv1d = owner.register_module(
      "conv1d",
      torch::nn::Conv1d(torch::nn::Conv1dOptions(cd, cd, o.d_conv).groups(cd).bias(o.conv_bias).padding(o.d_conv - 1)));
  d.dt_bias = owner.register_parameter("dt_bias", mamba_dt_bias_init(h, o.dt_min, o.dt_max, o.dt_init_floor));
  d.A_log = owner.register_parameter("A_log", at::log(at::empty({h}, at::kFloat).uniform_(o.A_init_min, o.A_init_max)));
  d.D = owner.register_parameter("D", at::ones({h}));
  if (own_projections) {
    d.out_proj = owner.register_module(
        "out_proj", torch::nn::Linear(torch::nn::LinearOptions(din, o.d_model).bias(o.bias)));
    torch::NoGradGuard no_grad;
    d.out_proj->weight.div_(mamba_residual_scale(o.n_layers, o.has_mlp));
    if (o.bias) {
      d.in_proj->bias.zero_();
      d.out_proj->bias.zero_();
    }
  }
  return d;
}

at::Tensor Mamba2Mixer::finish(Direction& d, const at::Tensor& xbc, const at::Tensor& z, const at::Tensor& dt,
                               const at::Tensor& initial, at::Tensor* last) {
  const Mamba2Options& o = options_;
  const int64_t b = xbc.size(0), l = xbc.size(1), din = o.d_inner(), gn = o.ngroups * o.d_state;
  const at::Tensor x = xbc.narrow(2, 0, din).reshape({b, l, o.nheads(), o.headdim});
  const at::Tensor B = xbc.narrow(2, din, gn).reshape({b, l, o.ngroups, o.d_state});
  const at::Tensor C = xbc.narrow(2, din + gn, gn).reshape({b, l, o.ngroups, o.d_state});
  const at::Tensor A = -at::exp(d.A_log);
  at::Tensor delta = dt, delta_bias = d.dt_bias;
  bool softplus = true;
  if (o.dt_limited) {
    // The clamp sits between the softplus and the scan, so Delta is formed here.
    delta = at::softplus(dt + d.dt_bias).clamp(o.dt_limit_min, o.dt_limit_max);
    delta_bias = at::Tensor();
    softplus = false;
  }
  auto [y, s] = strand::ssd_scan(x, delta, A, B, C, d.D, at::Tensor(), delta_bias, softplus, initial,
                                 /*return_final_state=*/last != nullptr, o.chunk_size);
  if (last != nullptr) *last = s;
  // Gated RMSNorm, normalised per group of D_in / G channels as in mamba_ssm.
  const at::Tensor gate = at::silu(z);
  at::Tensor g = y.reshape({b, l, din});
  if (!o.norm_before_gate) g = g * gate;
  const at::Tensor grouped = g.reshape({b, l, o.ngroups, din / o.ngroups});
  g = (grouped * at::rsqrt(grouped.pow(2).mean(-1, /*keepdim=*/true) + o.norm_eps)).reshape({b, l, din}) *
      norm_weight_;
  if (o.norm_before_gate) g = g * gate;
  return d.out_proj->forward(g);
}

at::Tensor Mamba2Mixer::run_direction(Direction& d, const at::Tensor& zxbcdt, const at::Tensor& mask,
                                      Mamba2State* state) {
  const Mamba2Options& o = options_;
  const int64_t din = o.d_inner(), cd = o.conv_dim(), k = o.d_conv;
  const at::Tensor z = zxbcdt.narrow(2, 0, din);
  at::Tensor xbc = zxbcdt.narrow(2, din, cd).transpose(1, 2);  // (B, D_in + 2GN, L)
  const at::Tensor dt = zxbcdt.narrow(2, din + cd, o.nheads());
  at::Tensor keep;
  if (mask.defined()) {
    // Zeroing x, B and C before and after the conv keeps the state exactly zero through padding.
    keep = mask.unsqueeze(1).to(xbc.scalar_type());
    xbc = xbc * keep;
  }
  const at::Tensor conv_initial = state != nullptr ? state->conv_state.narrow(2, 1, k - 1) : at::Tensor();
  at::Tensor xc = strand::causal_conv1d(xbc, d.conv1d->weight, d.conv1d->bias, conv_initial, /*silu=*/true);
  if (keep.defined()) xc = xc * keep;
  at::Tensor last;
  const at::Tensor out = finish(d, xc.transpose(1, 2), z, dt, state != nullptr ? state->ssm_state : at::Tensor(),
                                state != nullptr ? &last : nullptr);
  if (state != nullptr) {
    const int64_t l = xbc.size(2);
    state->conv_state = at::cat({state->conv_state, xbc.detach()}, 2).narrow(2, l, k).contiguous();
    state->ssm_state = last.detach();
  }
  return out;
}

at::Tensor Mamba2Mixer::forward(const at::Tensor& x, const at::Tensor& mask) {
  STRAND_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "mamba2: expected input (batch, length, ",
               options_.d_model, "), got ", x.sizes());
  if (mask.defined())
    STRAND_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) &&
                     mask.scalar_type() == at::kBool,
                 "mamba2: mask must be a (batch, length) bool tensor matching the input, got ", mask.sizes());
  const at::Tensor zxbcdt = fwd_.in_proj->forward(x);
  const at::Tensor out = run_direction(fwd_, zxbcdt, mask, nullptr);
  if (options_.causal) return out;
  const at::Tensor in_rev = options_.weight_tie ? zxbcdt.flip({1}) : rev_.in_proj->forward(x.flip({1}));
  const at::Tensor mask_rev = mask.defined() ? mask.flip({1}) : mask;
  const at::Tensor out_rev = run_direction(rev_, in_rev, mask_rev, nullptr).flip({1});
  return combine_directions(out, out_rev, options_.bidirectional_strategy);
}

std::unique_ptr<MixerState> Mamba2Mixer::make_state(int64_t batch) const {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba-2 has no step-by-step decoding");
  STRAND_CHECK(batch > 0, "mamba2: batch must be positive, got ", batch);
  const auto opts = fwd_.in_proj->weight.options().requires_grad(false);
  auto state = std::make_unique<Mamba2State>();
  state->conv_state = at::zeros({batch, options_.conv_dim(), options_.d_conv}, opts);
  state->ssm_state = at::zeros({batch, options_.nheads(), options_.headdim, options_.d_state}, opts);
  return state;
}

namespace {

Mamba2State& mamba2_state(MixerState& state, int64_t batch) {
  auto* s = dynamic_cast<Mamba2State*>(&state);
  STRAND_ASSERT(s != nullptr, "mamba2 given another mixer's state");
  STRAND_CHECK(s->conv_state.size(0) == batch, "mamba2: the state holds batch ", s->conv_state.size(0),
               ", input has ", batch);
  return *s;
}

}  // namespace

at::Tensor Mamba2Mixer::step(const at::Tensor& x_t, MixerState& state) {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba-2 has no step-by-step decoding");
  STRAND_CHECK(x_t.dim() == 2 && x_t.size(1) == options_.d_model, "mamba2 step: expected (batch, ",
               options_.d_model, "), got ", x_t.sizes());
  Mamba2State& s = mamba2_state(state, x_t.size(0));
  torch::NoGradGuard no_grad;
  const int64_t din = options_.d_inner(), cd = options_.conv_dim();
  const at::Tensor zxbcdt = fwd_.in_proj->forward(x_t);
  const at::Tensor z = zxbcdt.narrow(1, 0, din).unsqueeze(1);
  const at::Tensor xbc = zxbcdt.narrow(1, din, cd).contiguous();
  const at::Tensor dt = zxbcdt.narrow(1, din + cd, options_.nheads()).unsqueeze(1);
  const at::Tensor xc =
      strand::causal_conv1d_update(xbc, s.conv_state, fwd_.conv1d->weight, fwd_.conv1d->bias, /*silu=*/true);
  at::Tensor last;
  const at::Tensor out = finish(fwd_, xc.unsqueeze(1), z, dt, s.ssm_state, &last);
  s.ssm_state = last;
  s.length += 1;
  return out.squeeze(1);
}

at::Tensor Mamba2Mixer::prefill(const at::Tensor& x, MixerState& state) {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba-2 has no step-by-step decoding");
  STRAND_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "mamba2 prefill: expected (batch, length, ",
               options_.d_model, "), got ", x.sizes());
  Mamba2State& s = mamba2_state(state, x.size(0));
  const at::Tensor out = run_direction(fwd_, fwd_.in_proj->forward(x), at::Tensor(), &s);
  s.length += x.size(1);
  return out;
}

namespace {

int64_t read_positive(ConfigReader& r, const std::string& where, const char* key, int64_t fallback) {
  const int64_t v = r.optional<int64_t>(key, fallback);
  if (v <= 0) throw ConfigError(where + ": " + key + " must be a positive integer, got " + std::to_string(v));
  return v;
}

std::string show(double v) { return nlohmann::json(v).dump(); }

/// A two-number array [lo, hi].
std::pair<double, double> read_range(const nlohmann::json& v, const std::string& where, const char* key) {
  if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_number())
    throw ConfigError(where + ": " + key + " must be an array of two numbers [lo, hi], got " + v.dump());
  return {v[0].get<double>(), v[1].get<double>()};
}

nlohmann::json normalise_mamba2(const nlohmann::json& options, int64_t d_model, const std::string& where) {
  const nlohmann::json empty = nlohmann::json::object();
  ConfigReader r(options.is_null() ? empty : options, where);
  nlohmann::json out;
  const int64_t d_state = read_positive(r, where, "d_state", 64);
  out["d_state"] = d_state;
  const int64_t d_conv = r.optional<int64_t>("d_conv", 4);
  if (d_conv < 2 || d_conv > 4)
    throw ConfigError(where + ": d_conv must be between 2 and 4 (the causal conv kernel's range), got " +
                      std::to_string(d_conv));
  out["d_conv"] = d_conv;
  const int64_t expand = read_positive(r, where, "expand", 2);
  out["expand"] = expand;
  const int64_t d_inner = expand * d_model;
  const int64_t headdim = read_positive(r, where, "headdim", 64);
  if (d_inner % headdim != 0) {
    int64_t suggestion = std::min(headdim, d_inner);
    while (d_inner % suggestion != 0) --suggestion;
    throw ConfigError(where + ": headdim " + std::to_string(headdim) + " does not divide d_inner " +
                      std::to_string(d_inner) + " (= expand " + std::to_string(expand) + " x d_model " +
                      std::to_string(d_model) + "); set headdim to a divisor of " + std::to_string(d_inner) +
                      ", e.g. " + std::to_string(suggestion));
  }
  out["headdim"] = headdim;
  const int64_t nheads = d_inner / headdim;
  const int64_t ngroups = read_positive(r, where, "ngroups", 1);
  if (nheads % ngroups != 0)
    throw ConfigError(where + ": ngroups " + std::to_string(ngroups) + " does not divide the " +
                      std::to_string(nheads) + " heads (d_inner " + std::to_string(d_inner) + " / headdim " +
                      std::to_string(headdim) + ")");
  out["ngroups"] = ngroups;
  std::pair<double, double> a_range{1.0, 16.0};
  if (r.has("A_init_range")) a_range = read_range(r.raw("A_init_range"), where, "A_init_range");
  if (!(a_range.first > 0 && a_range.second >= a_range.first))
    throw ConfigError(where + ": A_init_range must satisfy 0 < lo <= hi, got [" + show(a_range.first) + ", " +
                      show(a_range.second) + "]");
  out["A_init_range"] = {a_range.first, a_range.second};
  const double dt_min = r.optional<double>("dt_min", 0.001);
  const double dt_max = r.optional<double>("dt_max", 0.1);
  if (!(dt_min > 0 && dt_max >= dt_min))
    throw ConfigError(where + ": need 0 < dt_min <= dt_max, got dt_min " + show(dt_min) + ", dt_max " + show(dt_max));
  out["dt_min"] = dt_min;
  out["dt_max"] = dt_max;
  const double floor = r.optional<double>("dt_init_floor", 1e-4);
  if (!(floor >= 0)) throw ConfigError(where + ": dt_init_floor must not be negative, got " + show(floor));
  out["dt_init_floor"] = floor;
  out["dt_limit"] = "none";
  if (r.has("dt_limit")) {
    const nlohmann::json& v = r.raw("dt_limit");
    if (!(v.is_null() || (v.is_string() && v.get<std::string>() == "none"))) {
      if (!v.is_array())
        throw ConfigError(where + ": dt_limit must be \"none\" or an array [lo, hi], got " + v.dump());
      const auto [lo, hi] = read_range(v, where, "dt_limit");
      if (!(lo >= 0 && hi > lo))
        throw ConfigError(where + ": dt_limit must satisfy 0 <= lo < hi, got [" + show(lo) + ", " + show(hi) + "]");
      out["dt_limit"] = {lo, hi};
    }
  }
  out["chunk_size"] = read_positive(r, where, "chunk_size", 256);
  out["conv_bias"] = r.optional<bool>("conv_bias", true);
  out["bias"] = r.optional<bool>("bias", false);
  out["norm_before_gate"] = r.optional<bool>("norm_before_gate", false);
  out["bidirectional_strategy"] =
      bi_strategy_name(parse_bi_strategy(r.optional<std::string>("bidirectional_strategy", "add"), where));
  out["weight_tie"] = r.optional<bool>("weight_tie", true);
  r.finish();
  return out;
}

}  // namespace

MixerType mamba2_mixer_type() {
  MixerType type;
  type.letter = '2';
  type.name = "mamba2";
  type.normalise = normalise_mamba2;
  type.create = [](const MixerContext& c) -> std::shared_ptr<Mixer> {
    const nlohmann::json& j = c.options;
    Mamba2Options o;
    o.d_model = c.d_model;
    o.d_state = j.at("d_state").get<int64_t>();
    o.d_conv = j.at("d_conv").get<int64_t>();
    o.expand = j.at("expand").get<int64_t>();
    o.headdim = j.at("headdim").get<int64_t>();
    o.ngroups = j.at("ngroups").get<int64_t>();
    o.A_init_min = j.at("A_init_range").at(0).get<double>();
    o.A_init_max = j.at("A_init_range").at(1).get<double>();
    o.dt_min = j.at("dt_min").get<double>();
    o.dt_max = j.at("dt_max").get<double>();
    o.dt_init_floor = j.at("dt_init_floor").get<double>();
    const nlohmann::json& limit = j.at("dt_limit");
    o.dt_limited = limit.is_array();
    if (o.dt_limited) {
      o.dt_limit_min = limit.at(0).get<double>();
      o.dt_limit_max = limit.at(1).get<double>();
    }
    o.chunk_size = j.at("chunk_size").get<int64_t>();
    o.conv_bias = j.at("conv_bias").get<bool>();
    o.bias = j.at("bias").get<bool>();
    o.norm_before_gate = j.at("norm_before_gate").get<bool>();
    o.causal = c.causal;
    o.bidirectional_strategy = parse_bi_strategy(j.at("bidirectional_strategy").get<std::string>(), c.where);
    o.weight_tie = j.at("weight_tie").get<bool>();
    o.n_layers = c.n_layers;
    o.has_mlp = c.has_mlp;
    return std::make_shared<Mamba2Mixer>(o);
  };
  return type;
}

}  // namespace strand::mixers
