#include "libseq/mixers/mamba.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "kernels/causal_conv1d/causal_conv1d.h"
#include "kernels/selective_scan/selective_scan.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::mixers {

BiStrategy parse_bi_strategy(const std::string& name, const std::string& where) {
  if (name == "add") return BiStrategy::Add;
  if (name == "ew_multiply") return BiStrategy::EwMultiply;
  throw ConfigError(where + ": bidirectional_strategy must be \"add\" or \"ew_multiply\", got \"" + name + "\"");
}

const char* bi_strategy_name(BiStrategy strategy) {
  return strategy == BiStrategy::Add ? "add" : "ew_multiply";
}

at::Tensor combine_directions(const at::Tensor& forward, const at::Tensor& reverse, BiStrategy strategy) {
  return strategy == BiStrategy::Add ? forward + reverse : forward * reverse;
}

at::Tensor mamba_dt_bias_init(int64_t n, double dt_min, double dt_max, double floor) {
  STRAND_ASSERT(n > 0 && dt_min > 0 && dt_max >= dt_min, "bad dt initialisation range");
  const double lo = std::log(dt_min), hi = std::log(dt_max);
  const at::Tensor dt = at::exp(at::rand({n}, at::kDouble) * (hi - lo) + lo).clamp_min(floor);
  // softplus^-1(dt) = ln(exp(dt) - 1) = dt + ln(1 - exp(-dt)), the form that stays accurate for small dt.
  return (dt + at::log(-at::expm1(-dt))).to(at::kFloat);
}

double mamba_residual_scale(int64_t n_layers, bool has_mlp) {
  const int64_t per_layer = has_mlp ? 2 : 1;
  return std::sqrt(static_cast<double>(per_layer * std::max<int64_t>(1, n_layers)));
}

MambaMixer::MambaMixer(const MambaOptions& options) : options_(options) {
  const MambaOptions& o = options_;
  STRAND_CHECK(o.d_model > 0 && o.d_state > 0 && o.expand > 0 && o.dt_rank > 0, "mamba: d_model ", o.d_model,
               ", d_state ", o.d_state, ", expand ", o.expand, " and dt_rank ", o.dt_rank, " must be positive");
  STRAND_CHECK(o.d_conv >= 2 && o.d_conv <= 4, "mamba: d_conv must be between 2 and 4, got ", o.d_conv);
  STRAND_CHECK(o.dt_min > 0 && o.dt_max >= o.dt_min, "mamba: need 0 < dt_min <= dt_max, got ", o.dt_min, ", ",
               o.dt_max);
  fwd_ = make_direction(*this, /*own_projections=*/true);
  if (!o.causal) {
    rev_module_ = register_module("rev", std::make_shared<torch::nn::Module>("MambaReverse"));
    rev_ = make_direction(*rev_module_, /*own_projections=*/!o.weight_tie);
    if (o.weight_tie) {
      rev_.in_proj = fwd_.in_proj;
      rev_.out_proj = fwd_.out_proj;
    }
  }
}

MambaMixer::Direction MambaMixer::make_direction(torch::nn::Module& owner, bool own_projections) {
  const MambaOptions& o = options_;
  const int64_t din = o.d_inner(), n = o.d_state, r = o.dt_rank;
  Direction d;
  if (own_projections)
    d.in_proj = owner.register_module(
        "in_proj", torch::nn::Linear(torch::nn::LinearOptions(o.d_model, 2 * din).bias(o.bias)));
  d.conv1d = owner.register_module(
      "conv1d", torch::nn::Conv1d(
                    torch::nn::Conv1dOptions(din, din, o.d_conv).groups(din).bias(o.conv_bias).padding(o.d_conv - 1)));
  if (o.selective) {
    d.x_proj = owner.register_module("x_proj", torch::nn::Linear(torch::nn::LinearOptions(din, r + 2 * n).bias(false)));
    auto dt_proj = owner.register_module("dt_proj", torch::nn::Linear(torch::nn::LinearOptions(r, din)));
    d.dt_weight = dt_proj->weight;
    d.dt_bias = dt_proj->bias;
  } else {
    // Time-invariant ablation: only the per-channel Delta offset of dt_proj exists.
    auto dt_proj = owner.register_module("dt_proj", std::make_shared<torch::nn::Module>("DeltaBias"));
    d.dt_bias = dt_proj->register_parameter("bias", at::empty({din}));
  }
  d.A_log = owner.register_parameter("A_log", at::log(at::arange(1, n + 1, at::kFloat)).expand({din, n}).contiguous());
  d.D = owner.register_parameter("D", at::ones({din}));
  if (!o.selective) {
    d.B = owner.register_parameter("B", at::ones({n}));
    d.C = owner.register_parameter("C", at::randn({n}));
  }
  if (own_projections)
    d.out_proj = owner.register_module(
        "out_proj", torch::nn::Linear(torch::nn::LinearOptions(din, o.d_model).bias(o.bias)));

  torch::NoGradGuard no_grad;
  if (o.selective) {
    const double s = o.dt_scale / std::sqrt(static_cast<double>(r));
    if (o.dt_init_random)
      d.dt_weight.uniform_(-s, s);
    else
      d.dt_weight.fill_(s);
  }
  d.dt_bias.copy_(mamba_dt_bias_init(din, o.dt_min, o.dt_max, o.dt_init_floor));
  if (own_projections) {
    // Linear's default init is kaiming-uniform(a = sqrt 5); mamba_ssm rescales the residual
    // branch's output projection and zeroes Linear biases.
    d.out_proj->weight.div_(mamba_residual_scale(o.n_layers, o.has_mlp));
    if (o.bias) {
      d.in_proj->bias.zero_();
      d.out_proj->bias.zero_();
    }
  }
  return d;
}

at::Tensor MambaMixer::scan(Direction& d, const at::Tensor& xc, const at::Tensor& z, const at::Tensor& initial,
                            at::Tensor* last) {
  const int64_t b = xc.size(0), l = xc.size(2), n = options_.d_state, r = options_.dt_rank;
  at::Tensor delta, B, C;
  if (options_.selective) {
    const at::Tensor x_dbl = d.x_proj->forward(xc.transpose(1, 2));          // (B, L, R + 2N)
    delta = at::linear(x_dbl.narrow(2, 0, r), d.dt_weight).transpose(1, 2);  // (B, D_in, L)
    B = x_dbl.narrow(2, r, n).transpose(1, 2);                               // (B, N, L)
    C = x_dbl.narrow(2, r + n, n).transpose(1, 2);
  } else {
    delta = at::zeros({1, 1, 1}, xc.options()).expand({b, options_.d_inner(), l});
    B = d.B.view({1, n, 1}).expand({b, n, l});
    C = d.C.view({1, n, 1}).expand({b, n, l});
  }
  const at::Tensor A = -at::exp(d.A_log);
  auto [y, h] = strand::selective_scan(xc, delta, A, B, C, d.D, z, d.dt_bias, /*delta_softplus=*/true, initial,
                                       /*return_last_state=*/last != nullptr);
  if (last != nullptr) *last = h;
  return y;
}

at::Tensor MambaMixer::run_direction(Direction& d, const at::Tensor& xz, const at::Tensor& mask,
                                     MambaState* state) {
  const int64_t din = options_.d_inner(), k = options_.d_conv;
  at::Tensor x = xz.narrow(2, 0, din).transpose(1, 2);  // (B, D_in, L)
  const at::Tensor z = xz.narrow(2, din, din).transpose(1, 2);
  at::Tensor keep;
  if (mask.defined()) {
    // Zero before the conv so real positions see zeros, and after it so the scan input (and with
    // it the state) is exactly zero through padding, also when the row is read reversed.
    keep = mask.unsqueeze(1).to(x.scalar_type());
    x = x * keep;
  }
  const at::Tensor conv_initial = state != nullptr ? state->conv_state.narrow(2, 1, k - 1) : at::Tensor();
  at::Tensor xc = strand::causal_conv1d(x, d.conv1d->weight, d.conv1d->bias, conv_initial, /*silu=*/true);
  if (keep.defined()) xc = xc * keep;
  at::Tensor last;
  const at::Tensor y = scan(d, xc, z, state != nullptr ? state->ssm_state : at::Tensor(),
                            state != nullptr ? &last : nullptr);
  if (state != nullptr) {
    const int64_t l = x.size(2);
    state->conv_state = at::cat({state->conv_state, x.detach()}, 2).narrow(2, l, k).contiguous();
    state->ssm_state = last.detach();
  }
  return d.out_proj->forward(y.transpose(1, 2));
}

at::Tensor MambaMixer::forward(const at::Tensor& x, const at::Tensor& mask) {
  STRAND_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "mamba: expected input (batch, length, ",
               options_.d_model, "), got ", x.sizes());
  if (mask.defined())
    STRAND_CHECK(mask.dim() == 2 && mask.size(0) == x.size(0) && mask.size(1) == x.size(1) &&
                     mask.scalar_type() == at::kBool,
                 "mamba: mask must be a (batch, length) bool tensor matching the input, got ", mask.sizes());
  const at::Tensor xz = fwd_.in_proj->forward(x);
  const at::Tensor out = run_direction(fwd_, xz, mask, nullptr);
  if (options_.causal) return out;
  // BiMamba: the reverse direction reads the flipped row; a tied in_proj commutes with the flip.
  const at::Tensor xz_rev = options_.weight_tie ? xz.flip({1}) : rev_.in_proj->forward(x.flip({1}));
  const at::Tensor mask_rev = mask.defined() ? mask.flip({1}) : mask;
  const at::Tensor out_rev = run_direction(rev_, xz_rev, mask_rev, nullptr).flip({1});
  return combine_directions(out, out_rev, options_.bidirectional_strategy);
}

std::unique_ptr<MixerState> MambaMixer::make_state(int64_t batch) const {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba (BiMamba) has no step-by-step decoding");
  STRAND_CHECK(batch > 0, "mamba: batch must be positive, got ", batch);
  const auto opts = fwd_.in_proj->weight.options().requires_grad(false);
  auto state = std::make_unique<MambaState>();
  state->conv_state = at::zeros({batch, options_.d_inner(), options_.d_conv}, opts);
  state->ssm_state = at::zeros({batch, options_.d_inner(), options_.d_state}, opts);
  return state;
}

namespace {

MambaState& mamba_state(MixerState& state, int64_t batch) {
  auto* s = dynamic_cast<MambaState*>(&state);
  STRAND_ASSERT(s != nullptr, "mamba given another mixer's state");
  STRAND_CHECK(s->conv_state.size(0) == batch, "mamba: the state holds batch ", s->conv_state.size(0),
               ", input has ", batch);
  return *s;
}

}  // namespace

at::Tensor MambaMixer::step(const at::Tensor& x_t, MixerState& state) {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba (BiMamba) has no step-by-step decoding");
  STRAND_CHECK(x_t.dim() == 2 && x_t.size(1) == options_.d_model, "mamba step: expected (batch, ", options_.d_model,
               "), got ", x_t.sizes());
  MambaState& s = mamba_state(state, x_t.size(0));
  torch::NoGradGuard no_grad;
  const int64_t din = options_.d_inner();
  const at::Tensor xz = fwd_.in_proj->forward(x_t);  // (B, 2 D_in)
  const at::Tensor x = xz.narrow(1, 0, din).contiguous();
  const at::Tensor z = xz.narrow(1, din, din).unsqueeze(2);
  const at::Tensor xc =
      strand::causal_conv1d_update(x, s.conv_state, fwd_.conv1d->weight, fwd_.conv1d->bias, /*silu=*/true);
  at::Tensor last;
  const at::Tensor y = scan(fwd_, xc.unsqueeze(2), z, s.ssm_state, &last);
  s.ssm_state = last;
  s.length += 1;
  return fwd_.out_proj->forward(y.squeeze(2));
}

at::Tensor MambaMixer::prefill(const at::Tensor& x, MixerState& state) {
  if (!options_.causal) throw UnsupportedError("bidirectional Mamba (BiMamba) has no step-by-step decoding");
  STRAND_CHECK(x.dim() == 3 && x.size(2) == options_.d_model, "mamba prefill: expected (batch, length, ",
               options_.d_model, "), got ", x.sizes());
  MambaState& s = mamba_state(state, x.size(0));
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

nlohmann::json normalise_mamba(const nlohmann::json& options, int64_t d_model, const std::string& where) {
  const nlohmann::json empty = nlohmann::json::object();
  ConfigReader r(options.is_null() ? empty : options, where);
  nlohmann::json out;
  out["d_state"] = read_positive(r, where, "d_state", 16);
  const int64_t d_conv = r.optional<int64_t>("d_conv", 4);
  if (d_conv < 2 || d_conv > 4)
    throw ConfigError(where + ": d_conv must be between 2 and 4 (the causal conv kernel's range), got " +
                      std::to_string(d_conv));
  out["d_conv"] = d_conv;
  out["expand"] = read_positive(r, where, "expand", 2);
  int64_t dt_rank = (d_model + 15) / 16;
  if (r.has("dt_rank")) {
    const nlohmann::json& v = r.raw("dt_rank");
    if (v.is_number_integer() && v.get<int64_t>() > 0) {
      dt_rank = v.get<int64_t>();
    } else if (!(v.is_string() && v.get<std::string>() == "auto")) {
      throw ConfigError(where + ": dt_rank must be a positive integer or \"auto\" (ceil(d_model / 16)), got " +
                        v.dump());
    }
  }
  out["dt_rank"] = dt_rank;
  const double dt_min = r.optional<double>("dt_min", 0.001);
  const double dt_max = r.optional<double>("dt_max", 0.1);
  if (!(dt_min > 0 && dt_max >= dt_min))
    throw ConfigError(where + ": need 0 < dt_min <= dt_max, got dt_min " + show(dt_min) + ", dt_max " + show(dt_max));
  out["dt_min"] = dt_min;
  out["dt_max"] = dt_max;
  const std::string dt_init = r.optional<std::string>("dt_init", "random");
  if (dt_init != "random" && dt_init != "constant")
    throw ConfigError(where + ": dt_init must be \"random\" or \"constant\", got \"" + dt_init + "\"");
  out["dt_init"] = dt_init;
  const double dt_scale = r.optional<double>("dt_scale", 1.0);
  if (!(dt_scale > 0)) throw ConfigError(where + ": dt_scale must be positive, got " + show(dt_scale));
  out["dt_scale"] = dt_scale;
  const double floor = r.optional<double>("dt_init_floor", 1e-4);
  if (!(floor >= 0)) throw ConfigError(where + ": dt_init_floor must not be negative, got " + show(floor));
  out["dt_init_floor"] = floor;
  out["conv_bias"] = r.optional<bool>("conv_bias", true);
  out["bias"] = r.optional<bool>("bias", false);
  out["selective"] = r.optional<bool>("selective", true);
  out["bidirectional_strategy"] =
      bi_strategy_name(parse_bi_strategy(r.optional<std::string>("bidirectional_strategy", "add"), where));
  out["weight_tie"] = r.optional<bool>("weight_tie", true);
  r.finish();
  return out;
}

}  // namespace

MixerType mamba_mixer_type() {
  MixerType type;
  type.letter = 'M';
  type.name = "mamba";
  type.normalise = normalise_mamba;
  type.create = [](const MixerContext& c) -> std::shared_ptr<Mixer> {
    const nlohmann::json& j = c.options;
    MambaOptions o;
    o.d_model = c.d_model;
    o.d_state = j.at("d_state").get<int64_t>();
    o.d_conv = j.at("d_conv").get<int64_t>();
    o.expand = j.at("expand").get<int64_t>();
    o.dt_rank = j.at("dt_rank").get<int64_t>();
    o.dt_min = j.at("dt_min").get<double>();
    o.dt_max = j.at("dt_max").get<double>();
    o.dt_init_random = j.at("dt_init").get<std::string>() == "random";
    o.dt_scale = j.at("dt_scale").get<double>();
    o.dt_init_floor = j.at("dt_init_floor").get<double>();
    o.conv_bias = j.at("conv_bias").get<bool>();
    o.bias = j.at("bias").get<bool>();
    o.selective = j.at("selective").get<bool>();
    o.causal = c.causal;
    o.bidirectional_strategy = parse_bi_strategy(j.at("bidirectional_strategy").get<std::string>(), c.where);
    o.weight_tie = j.at("weight_tie").get<bool>();
    o.n_layers = c.n_layers;
    o.has_mlp = c.has_mlp;
    return std::make_shared<MambaMixer>(o);
  };
  return type;
}

}  // namespace strand::mixers
