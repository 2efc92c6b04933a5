// Mamba-2 mixer (layer letter '2'; Dao & Gu 2024, "Transformers are SSMs", arXiv:2405.21060,
// §7 and the mamba_ssm Mamba2 block), and its BiMamba form in bidirectional backbones.
//
// Forward on h (batch, length, d_model), with D_in = expand * d_model, P = headdim,
// H = D_in / P heads, G = ngroups, N = d_state, K = d_conv:
//   z, xBC, dt = split(in_proj(h), [D_in, D_in + 2 G N, H])       rows of in_proj: z, x, B, C, dt
//   xBC        = silu(causal depthwise conv of width K over xBC + conv1d.bias)
//   x, B, C    = split(xBC, [D_in, G N, G N]);  x as (B, L, H, P), B and C as (B, L, G, N)
//   Delta      = softplus(dt + dt_bias) (per head; clamped to dt_limit when one is set)
//   S_t        = exp(Delta_t * A_h) S_{t-1} + Delta_t x_t (x) B_t,  A_h = -exp(A_log_h), S_{-1} = 0
//   y_t        = S_t C_t + D_h x_t                                heads h of group g share B, C
//   y          = gated RMSNorm: norm_before_gate = false: RMSNorm_g(y * silu(z)) * norm.weight
//                                norm_before_gate = true:  RMSNorm_g(y) * norm.weight * silu(z)
//                RMSNorm_g normalises each group of D_in / G channels (mamba_ssm), eps 1e-5
//   out        = out_proj(y)
// The conv runs in strand::causal_conv1d, the scan in strand::ssd_scan.
//
// Options (config.json "mixers": {"2": {...}}), defaults in brackets:
//   d_state [64]   mamba_ssm's default is 128; 64 is the smaller value its README names as typical
//                  and suits the small DNA models strand trains (d_model 128-512): the state costs
//                  H * P * N = D_in * N per sequence, and N = 128 would double scan work and
//                  decode memory for models whose per-position input is one nucleotide.
//   d_conv [4] (2..4)  expand [2]  headdim [64] (must divide D_in = expand * d_model)
//   ngroups [1] (must divide H)  A_init_range [[1, 16]]  dt_min [0.001]  dt_max [0.1]
//   dt_init_floor [1e-4]  dt_limit ["none" | [lo, hi], 0 <= lo < hi]  chunk_size [256]
//   conv_bias [true]  bias [false] (in_proj / out_proj biases)  norm_before_gate [false]
//   bidirectional_strategy ["add" | "ew_multiply"]  weight_tie [true]   (bidirectional only)
//
// Parameters (mamba_ssm / Hugging Face names; shapes):
//   in_proj.weight [2 D_in + 2 G N + H, d_model] (+ .bias)   conv1d.weight [D_in + 2 G N, 1, K]
//   conv1d.bias [D_in + 2 G N]   dt_bias [H]   A_log [H]   D [H]   norm.weight [D_in]
//   out_proj.weight [d_model, D_in] (+ .bias)
// Bidirectional: the reverse direction's conv1d, dt_bias, A_log and D live under "rev."; norm is
// shared; in_proj and out_proj are shared with weight_tie, else rev.in_proj and rev.out_proj.
//
// Initialisation (mamba_ssm): dt_bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max]
// clamped below at dt_init_floor; A_log = ln(U[A_init_range]); D = 1; norm.weight = 1; conv1d and
// in_proj PyTorch defaults; out_proj kaiming-uniform(a = sqrt 5) / sqrt(r * n_layers) as for 'M';
// in_proj / out_proj biases zero.
//
// Bidirectional (MixerContext::causal == false): out = M_fwd(h) (+) flip_L(M_rev(flip_L(h))) as
// for 'M' (Caduceus BiMamba applied to the Mamba-2 block). No step-by-step decoding.
//
// Padding, decoding and threading as for 'M' (libseq/mixers/mamba.h): xBC is zeroed at padded
// positions before and after the conv; Mamba2State holds conv_state (batch, D_in + 2 G N, K), the
// last K pre-conv xBC columns with the newest last, and ssm_state (batch, H, P, N); step() and
// prefill() equal the corresponding rows of forward(). float32 or float64.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>

#include "libseq/mixers/mamba.h"
#include "libseq/mixers/mixer.h"

namespace strand::mixers {

struct Mamba2Options {
  int64_t d_model = 0;
  int64_t d_state = 64;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t headdim = 64;
  int64_t ngroups = 1;
  double A_init_min = 1.0;
  double A_init_max = 16.0;
  double dt_min = 0.001;
  double dt_max = 0.1;
  double dt_init_floor = 1e-4;
  bool dt_limited = false;  ///< clamp Delta to [dt_limit_min, dt_limit_max]
  double dt_limit_min = 0.0;
  double dt_limit_max = 0.0;
  int64_t chunk_size = 256;
  bool conv_bias = true;
  bool bias = false;
  bool norm_before_gate = false;
  double norm_eps = 1e-5;
  bool causal = true;
  BiStrategy bidirectional_strategy = BiStrategy::Add;
  bool weight_tie = true;
  int64_t n_layers = 1;
  bool has_mlp = false;

  int64_t d_inner() const noexcept { return expand * d_model; }
  int64_t nheads() const noexcept { return d_inner() / headdim; }
  int64_t conv_dim() const noexcept { return d_inner() + 2 * ngroups * d_state; }
};

/// Decoding state (see above). Tensors have the dtype and device of the mixer's parameters.
struct Mamba2State : MixerState {
  at::Tensor conv_state;  ///< (batch, D_in + 2 G N, d_conv), newest input last
  at::Tensor ssm_state;   ///< (batch, H, headdim, d_state)
};

class Mamba2Mixer : public Mixer {
 public:
  explicit Mamba2Mixer(const Mamba2Options& options);

  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) override;
  bool supports_step() const override { return options_.causal; }
  std::unique_ptr<MixerState> make_state(int64_t batch) const override;
  at::Tensor step(const at::Tensor& x_t, MixerState& state) override;
  at::Tensor prefill(const at::Tensor& x, MixerState& state) override;

  const Mamba2Options& options() const noexcept { return options_; }

  /// Handles to the tensors of one scan direction (on the mixer, or on "rev").
  struct Direction {
    torch::nn::Linear in_proj{nullptr};
    torch::nn::Conv1d conv1d{nullptr};
    at::Tensor dt_bias;
    at::Tensor A_log;
    at::Tensor D;
    torch::nn::Linear out_proj{nullptr};
  };

 private:
  Direction make_direction(torch::nn::Module& owner, bool own_projections);
  /// Scan, gated norm and out_proj of one direction. xbc: post-conv (B, L, D_in + 2GN); z (B, L,
  /// D_in); dt (B, L, H). Returns (B, L, d_model); stores the final state in `last` when given.
  at::Tensor finish(Direction& d, const at::Tensor& xbc, const at::Tensor& z, const at::Tensor& dt,
                    const at::Tensor& initial, at::Tensor* last);
  /// One direction from zxbcdt = in_proj(h) (B, L, 2 D_in + 2GN + H) to (B, L, d_model). With a
  /// state, continues from it (no padding allowed) and advances it.
  at::Tensor run_direction(Direction& d, const at::Tensor& zxbcdt, const at::Tensor& mask,
                           Mamba2State* state);

  Mamba2Options options_;
  Direction fwd_;
  Direction rev_;
  std::shared_ptr<torch::nn::Module> rev_module_;
  std::shared_ptr<torch::nn::Module> norm_module_;
  at::Tensor norm_weight_;
};

/// The registry entry for letter '2'.
MixerType mamba2_mixer_type();

}  // namespace strand::mixers
