#include "libseq/nn/layers.h"

#include <ATen/ATen.h>

#include "libseq/core/error.h"

namespace strand::nn {

NormKind parse_norm_kind(const std::string& name, const std::string& where) {
  if (name == "rms") return NormKind::RMS;
  if (name == "layer") return NormKind::Layer;
  throw ConfigError(where + ": unknown norm '" + name + "' (expected 'rms' or 'layer')");
}

const char* norm_kind_name(NormKind kind) { return kind == NormKind::RMS ? "rms" : "layer"; }

NormImpl::NormImpl(int64_t dim, NormKind kind, double eps, bool bias) : kind_(kind), eps_(eps) {
  STRAND_CHECK(dim > 0, "norm dimension must be positive, got ", dim);
  weight_ = register_parameter("weight", at::ones({dim}));
  if (kind == NormKind::Layer && bias) bias_ = register_parameter("bias", at::zeros({dim}));
}

at::Tensor NormImpl::forward(const at::Tensor& x) {
  const bool reduced = x.scalar_type() == at::kHalf || x.scalar_type() == at::kBFloat16;
  const at::Tensor xf = reduced ? x.to(at::kFloat) : x;
  at::Tensor y;
  if (kind_ == NormKind::RMS) {
    y = xf * at::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps_) * weight_.to(xf.scalar_type());
  } else {
    y = at::layer_norm(xf, {xf.size(-1)}, weight_.to(xf.scalar_type()),
                       bias_.defined() ? bias_.to(xf.scalar_type()) : at::Tensor(), eps_);
  }
  return reduced ? y.to(x.scalar_type()) : y;
}

MlpKind parse_mlp_kind(const std::string& name, const std::string& where) {
  if (name == "none") return MlpKind::None;
  if (name == "swiglu") return MlpKind::SwiGLU;
  if (name == "gelu") return MlpKind::GELU;
  throw ConfigError(where + ": unknown mlp '" + name + "' (expected 'swiglu', 'gelu' or 'none')");
}

const char* mlp_kind_name(MlpKind kind) {
  switch (kind) {
    case MlpKind::None: return "none";
    case MlpKind::SwiGLU: return "swiglu";
    case MlpKind::GELU: return "gelu";
  }
  return "none";
}

MlpImpl::MlpImpl(int64_t d_model, int64_t hidden, MlpKind kind, bool bias) : kind_(kind), hidden_(hidden) {
  STRAND_ASSERT(kind != MlpKind::None, "an Mlp module needs a kind");
  STRAND_CHECK(d_model > 0 && hidden > 0, "MLP sizes must be positive, got d_model=", d_model, " hidden=", hidden);
  const int64_t up = kind == MlpKind::SwiGLU ? 2 * hidden : hidden;
  fc1_ = register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(d_model, up).bias(bias)));
  fc2_ = register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(hidden, d_model).bias(bias)));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  at::Tensor u = fc1_->forward(x);
  if (kind_ == MlpKind::SwiGLU) {
    const auto halves = u.split(hidden_, -1);
    u = at::silu(halves[0]) * halves[1];
  } else {
    u = at::gelu(u);
  }
  return fc2_->forward(u);
}

Rotary::Rotary(int64_t head_dim, double base) : head_dim_(head_dim), base_(base) {
  STRAND_CHECK(head_dim > 0 && head_dim % 2 == 0, "rotary embeddings need an even head dimension, got ", head_dim);
  STRAND_CHECK(base > 1.0, "rotary base must be greater than 1, got ", base);
}

at::Tensor Rotary::apply(const at::Tensor& x, int64_t offset) const {
  STRAND_ASSERT(x.dim() == 4 && x.size(3) == head_dim_, "rotary input must be (B, H, L, ", head_dim_, ")");
  const int64_t length = x.size(2);
  // Angles in double, then cast: positions up to millions keep full precision in the phase.
  const auto dopts = at::TensorOptions().dtype(at::kDouble);
  const at::Tensor inv_freq = at::pow(base_, -at::arange(0, head_dim_, 2, dopts) / static_cast<double>(head_dim_));
  const at::Tensor pos = at::arange(offset, offset + length, dopts);
  const at::Tensor freqs = at::outer(pos, inv_freq);
  const at::Tensor angles = at::cat({freqs, freqs}, -1);
  const auto type = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const at::Tensor cos = angles.cos().to(x.device(), type);
  const at::Tensor sin = angles.sin().to(x.device(), type);
  const at::Tensor xf = x.to(type);
  const auto halves = xf.chunk(2, -1);
  const at::Tensor rotated = at::cat({-halves[1], halves[0]}, -1);
  return (xf * cos + rotated * sin).to(x.scalar_type());
}

}  // namespace strand::nn
