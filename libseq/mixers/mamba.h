// Mamba-1 selective state-space mixer (layer letter 'M'; Gu & Dao 2023, arXiv:2312.00752, §3),
// and, in bidirectional backbones, the BiMamba mixer of Caduceus (Schiff et al. 2024,
// arXiv:2403.03234, §3.1).
//
// Forward on h (batch, length, d_model), with D_in = expand * d_model, N = d_state, R = dt_rank,
// K = d_conv:
//   x, z       = split(in_proj(h), [D_in, D_in])                  rows of in_proj: x, then z
//   x          = silu(causal depthwise conv of width K over x + conv1d.bias)
//   dt, B, C   = split(x_proj(x), [R, N, N])
//   delta      = softplus(dt_proj.weight . dt + dt_proj.bias)      (batch, length, D_in)
//   A          = -exp(A_log)                                       (D_in, N)
//   h_t        = exp(delta_t * A) * h_{t-1} + delta_t * x_t * B_t,  h_{-1} = 0   per channel, (N)
//   y_t        = <C_t, h_t> + D * x_t;   out = out_proj(y * silu(z))
// The conv runs in strand::causal_conv1d and the recurrence in strand::selective_scan.
//
// Options (config.json "mixers": {"M": {...}}), defaults in brackets:
//   d_state [16]  d_conv [4] (2..4)  expand [2]  dt_rank ["auto" = ceil(d_model / 16), stored as
//   the integer]  dt_min [0.001]  dt_max [0.1]  dt_init ["random" | "constant"]  dt_scale [1.0]
//   dt_init_floor [1e-4]  conv_bias [true]  bias [false] (in_proj / out_proj biases)
//   selective [true]
//   bidirectional_strategy ["add" | "ew_multiply"]  weight_tie [true]   (bidirectional only; always
//   stored so that a config means the same in both kinds of backbone)
//
// selective = false is the time-invariant ablation (the "S4" rows of Table 1 of the Mamba paper,
// for the selective-copying benchmark): Delta, B and C do not depend on the input. There is no
// x_proj and no dt_proj.weight; delta_c = softplus(dt_proj.bias_c) is one learned value per
// channel, and B, C are learned vectors of N values shared by every channel and every position,
// exactly as the selective model shares its B_t, C_t across channels (one group), so the ablation
// changes only the dependence on the input. B starts at 1 and C at N(0, 1) (S4D initialisation,
// Gu et al. 2022, arXiv:2206.11893). Everything else (gate z, conv, A, D, Delta initialisation)
// is unchanged. dt_rank is stored but unused.
//
// Parameters (Hugging Face / mamba_ssm names; shapes):
//   in_proj.weight [2 D_in, d_model] (+ .bias with bias)   conv1d.weight [D_in, 1, K]
//   conv1d.bias [D_in] (conv_bias)   x_proj.weight [R + 2N, D_in]   dt_proj.weight [D_in, R]
//   dt_proj.bias [D_in]   A_log [D_in, N]   D [D_in]   out_proj.weight [d_model, D_in] (+ .bias)
//   selective = false: no x_proj.weight, no dt_proj.weight; B [N], C [N].
// Bidirectional: the reverse direction's conv1d, x_proj, dt_proj, A_log, D (and B, C) live under
// "rev." (rev.conv1d.weight, ...). With weight_tie the reverse direction uses the forward
// in_proj and out_proj tensors themselves; without it, rev.in_proj and rev.out_proj are its own.
//
// Initialisation (mamba_ssm): dt_proj.weight ~ U(-s, s) ("random") or = s ("constant"),
// s = dt_scale / sqrt(R); dt_proj.bias = softplus^-1(dt), dt log-uniform in [dt_min, dt_max],
// clamped below at dt_init_floor; A_log[c, n] = ln(n + 1); D = 1; conv1d, in_proj, x_proj
// PyTorch defaults; out_proj kaiming-uniform(a = sqrt 5) divided by sqrt(r * n_layers), r = 2
// when the block has an MLP else 1; in_proj / out_proj biases zero. Random draws use LibTorch's
// default generator (strand::manual_seed).
//
// Bidirectional (MixerContext::causal == false), BiMamba:
//   out = M_fwd(h) (+) flip_L(M_rev(flip_L(h))),   (+) = add or elementwise multiply.
// Bidirectional mixers do not decode (supports_step() is false).
//
// Padding: mask (batch, length) bool, true for real tokens, padding at the end of rows. x is set
// to zero at padded positions before and after the conv, so the state stays exactly zero through
// padding; real positions never depend on padded ones, in either direction (the reversed row
// starts with its padding). Outputs at padded positions are finite and unspecified.
//
// Decoding: MambaState holds conv_state (batch, D_in, K), the last K pre-conv inputs with the
// newest last, and ssm_state (batch, D_in, N). step() runs strand::causal_conv1d_update and a
// one-position selective scan from ssm_state; prefill() runs the conv from the last K - 1 inputs
// and the scan from ssm_state. Both equal the corresponding rows of forward(). States are stored
// detached: no gradient flows from one call to the next; step() itself runs without autograd
// (the conv update is an inference op), prefill() is differentiable within the call.
//
// Dtypes: float32 or float64 parameters and inputs (the kernels' dtypes). Thread-safety: forward
// in eval mode may run concurrently; a MambaState belongs to one caller.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <memory>
#include <string>

#include "libseq/mixers/mixer.h"

namespace strand::mixers {

/// How a bidirectional mixer joins its two directions.
enum class BiStrategy { Add, EwMultiply };
/// "add" or "ew_multiply"; anything else is a ConfigError naming `where`.
BiStrategy parse_bi_strategy(const std::string& name, const std::string& where);
const char* bi_strategy_name(BiStrategy strategy);
/// Joins the forward-direction output and the (already re-flipped) reverse-direction output.
at::Tensor combine_directions(const at::Tensor& forward, const at::Tensor& reverse, BiStrategy strategy);

/// mamba_ssm's Delta-bias initialisation: n values dt drawn log-uniformly in [dt_min, dt_max]
/// (LibTorch's default generator), clamped below at floor, returned as softplus^-1(dt) =
/// dt + ln(-expm1(-dt)) in float32, so that softplus(result) = dt.
at::Tensor mamba_dt_bias_init(int64_t n, double dt_min, double dt_max, double floor);

/// Divisor of the residual-branch output projection at initialisation: sqrt(r * n_layers),
/// r = 2 with an MLP, 1 without (GPT-2 / mamba_ssm "rescale_prenorm_residual").
double mamba_residual_scale(int64_t n_layers, bool has_mlp);

struct MambaOptions {
  int64_t d_model = 0;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t dt_rank = 1;
  double dt_min = 0.001;
  double dt_max = 0.1;
  bool dt_init_random = true;  ///< dt_init "random" (true) or "constant"
  double dt_scale = 1.0;
  double dt_init_floor = 1e-4;
  bool conv_bias = true;
  bool bias = false;
  bool selective = true;
  bool causal = true;
  BiStrategy bidirectional_strategy = BiStrategy::Add;
  bool weight_tie = true;
  int64_t n_layers = 1;  ///< for the out_proj initialisation scale
  bool has_mlp = false;

  int64_t d_inner() const noexcept { return expand * d_model; }
};

/// Decoding state (see above). Tensors have the dtype and device of the mixer's parameters.
struct MambaState : MixerState {
  at::Tensor conv_state;  ///< (batch, D_in, d_conv), newest input last
  at::Tensor ssm_state;   ///< (batch, D_in, d_state)
};

class MambaMixer : public Mixer {
 public:
  explicit MambaMixer(const MambaOptions& options);

  at::Tensor forward(const at::Tensor& x, const at::Tensor& mask) override;
  bool supports_step() const override { return options_.causal; }
  std::unique_ptr<MixerState> make_state(int64_t batch) const override;
  at::Tensor step(const at::Tensor& x_t, MixerState& state) override;
  at::Tensor prefill(const at::Tensor& x, MixerState& state) override;

  const MambaOptions& options() const noexcept { return options_; }

  /// Handles to the tensors of one scan direction (registered on the mixer for the forward
  /// direction, on "rev" for the reverse one). in_proj / out_proj of a tied reverse direction are
  /// the forward ones. x_proj and dt_weight are undefined when !selective; B and C are undefined
  /// when selective.
  struct Direction {
    torch::nn::Linear in_proj{nullptr};
    torch::nn::Conv1d conv1d{nullptr};
    torch::nn::Linear x_proj{nullptr};
    at::Tensor dt_weight;  ///< dt_proj.weight (D_in, R)
    at::Tensor dt_bias;    ///< dt_proj.bias (D_in)
    at::Tensor A_log;
    at::Tensor D;
    at::Tensor B;
    at::Tensor C;
    torch::nn::Linear out_proj{nullptr};
  };

 private:
  Direction make_direction(torch::nn::Module& owner, bool own_projections);
  /// The selective scan of one direction on post-conv x and gate z, both (B, D_in, L), from
  /// `initial` (undefined = zero). Returns the gated output (B, D_in, L) and, when `last` is
  /// non-null, stores the final state there.
  at::Tensor scan(Direction& d, const at::Tensor& xc, const at::Tensor& z, const at::Tensor& initial,
                  at::Tensor* last);
  /// One direction from xz = in_proj(h) (B, L, 2 D_in) to out_proj(...) (B, L, d_model). With a
  /// state, continues from it (no padding allowed) and advances it.
  at::Tensor run_direction(Direction& d, const at::Tensor& xz, const at::Tensor& mask,
                           MambaState* state);

  MambaOptions options_;
  Direction fwd_;
  Direction rev_;
  std::shared_ptr<torch::nn::Module> rev_module_;
};

/// The registry entry for letter 'M'.
MixerType mamba_mixer_type();

}  // namespace strand::mixers
