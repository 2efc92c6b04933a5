// Building blocks shared by every architecture: normalisation, feed-forward MLPs and rotary
// position embeddings. Modules take and return (batch, length, d_model) tensors (any leading
// dimensions for Norm and Mlp) in float32 or float64; reduced-precision inputs are normalised in
// float32 and cast back. Parameter names are part of the checkpoint format and never change.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <string>

namespace strand::nn {

enum class NormKind { RMS, Layer };
/// "rms" or "layer"; anything else is a ConfigError naming `where`.
NormKind parse_norm_kind(const std::string& name, const std::string& where);
const char* norm_kind_name(NormKind kind);

/// RMSNorm  y = x / sqrt(mean(x^2) + eps) * weight   (Zhang & Sennrich 2019), or
/// LayerNorm y = (x - mean) / sqrt(var + eps) * weight + bias (bias optional).
/// Parameters: "weight" (dim), and "bias" (dim) for LayerNorm with bias. Normalises the last dim.
class NormImpl : public torch::nn::Module {
 public:
  NormImpl(int64_t dim, NormKind kind, double eps, bool bias);
  at::Tensor forward(const at::Tensor& x);

  NormKind kind() const noexcept { return kind_; }

 private:
  NormKind kind_;
  double eps_;
  at::Tensor weight_;
  at::Tensor bias_;
};
TORCH_MODULE(Norm);

enum class MlpKind { None, SwiGLU, GELU };
/// "none", "swiglu" or "gelu"; anything else is a ConfigError naming `where`.
MlpKind parse_mlp_kind(const std::string& name, const std::string& where);
const char* mlp_kind_name(MlpKind kind);

/// Feed-forward block.
///   SwiGLU (Shazeer 2020): fc1: d_model -> 2*hidden; u1, u2 = split(fc1(x), hidden) along the last
///          dim; y = fc2(silu(u1) * u2) with fc2: hidden -> d_model. The fused fc1 layout is the
///          one of ESM / Nucleotide Transformer v2 ("intermediate.dense", first half gated by silu).
///   GELU:  y = fc2(gelu_erf(fc1(x))) with fc1: d_model -> hidden.
/// Parameters: "fc1.weight", "fc2.weight" and, with bias, "fc1.bias", "fc2.bias".
class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(int64_t d_model, int64_t hidden, MlpKind kind, bool bias);
  at::Tensor forward(const at::Tensor& x);

 private:
  MlpKind kind_;
  int64_t hidden_;
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};
TORCH_MODULE(Mlp);

/// Rotary position embedding (Su et al. 2021, RoFormer) in the rotate-half convention of GPT-NeoX,
/// ESM and Nucleotide Transformer v2: inv_freq[i] = base^(-2i/head_dim), angles for position p are
/// p * concat(inv_freq, inv_freq), and x' = x * cos + rotate_half(x) * sin with
/// rotate_half([x1, x2]) = [-x2, x1]. head_dim must be even. Stateless apart from its constants;
/// thread-safe.
class Rotary {
 public:
  Rotary(int64_t head_dim, double base = 10000.0);
  /// x: (batch, heads, length, head_dim); position of x[..., i, :] is offset + i.
  at::Tensor apply(const at::Tensor& x, int64_t offset = 0) const;
  int64_t head_dim() const noexcept { return head_dim_; }
  double base() const noexcept { return base_; }

 private:
  int64_t head_dim_;
  double base_;
};

}  // namespace strand::nn
