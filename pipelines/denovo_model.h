// The de novo peptide sequencing model: a spectrum encoder and an autoregressive peptide decoder
// (Casanovo's design, shared reference denovo.md §1.3-1.7, §2.1), with the bidirectional
// augmentation of CrossNovo (§2.4): a non-autoregressive CTC decoder on the same encoder, whose
// features the autoregressive decoder attends to in a second training stage.
//
// Encoder. Each peak (m/z, intensity) becomes sinusoidal features of m/z (wavelengths 0.001 ..
// 10,000) and of intensity (1e-6 .. 1), computed in double precision and combined by a linear map
// (depthcharge 0.4's PeakEncoder); a learned "latent spectrum" token is prepended; then
// `encoder_layers` bidirectional transformer layers over the peaks (a set: no positions), or,
// with `encoder_pattern` set, a bidirectional backbone of that layer pattern (libseq/models,
// e.g. "MAMA": Mamba and attention blocks) over the peaks in m/z order.
//
// Autoregressive decoder. Input position 0 is the precursor (sinusoid of the neutral mass plus a
// charge embedding); position t > 0 is residue token t. Every position also gets a sinusoidal
// position code and, as in ContraNovo, codes of the prefix mass decoded so far and of the mass
// still to explain (precursor mass - water - prefix). Causal self-attention, cross-attention to
// the encoder output, `decoder_layers` layers; position t predicts token t + 1 (the last predicts
// the stop token). Peptides are decoded C- to N-terminus by default (`reverse`), as Casanovo v5.1
// does; an N-terminal modification is then the last residue token before the stop.
//
// Non-autoregressive decoder (with `nar_layers` > 0). `nar_length` positions, each the precursor
// code plus a position code, bidirectional self-attention and cross-attention to the encoder;
// per-position token logits trained with CTC (blank = the padding id 0) against the same token
// sequence (in decoding order, without the stop token).
//
// Training stages (CrossNovo):
//   1. joint: loss = w * CE(autoregressive) + (1 - w) * CTC(non-autoregressive), w rising
//      linearly from 0 to 1 over the stage (importance annealing);
//   2. cross-decoder: the encoder and the non-autoregressive decoder are frozen, their features
//      detached (gradient blocking), and the autoregressive decoder's cross-attention reads
//      [non-autoregressive features (positions 0 .. nar_length-1); encoder output (positions
//      nar_length ..)], each with a sinusoidal position code; only the autoregressive decoder trains.
// Without the NAR decoder the model is the plain Casanovo-style encoder-decoder.
//
// Layers are pre-norm (LayerNorm before each sub-layer, one more at the end of each stack) with a
// GELU feed-forward block; attention is strand::attention. Token ids: 0 padding (and CTC blank),
// 1 .. R the residue table's tokens, R + 1 the stop token.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "libseq/models/backbone.h"
#include "libseq/nn/layers.h"

namespace strand::pipelines::denovo {

struct ModelConfig {
  int64_t d_model = 128;
  int64_t heads = 4;
  int64_t ff_hidden = 512;
  int64_t encoder_layers = 3;
  std::string encoder_pattern;   ///< "": attention layers; else a backbone pattern (letters of libseq/models)
  int64_t decoder_layers = 3;
  int64_t nar_layers = 2;        ///< 0: no non-autoregressive decoder
  int64_t nar_length = 40;       ///< CTC output positions
  int64_t max_charge = 4;
  int64_t max_peptide_length = 30;  ///< residues (decoding limit)
  bool reverse = true;           ///< decode C- to N-terminus
  std::vector<bio::spectra::Modification> modifications = bio::spectra::ResidueTable::casanovo_modifications();
  bool merge_isoleucine = true;

  nlohmann::json to_json() const;
  /// ConfigError naming the key for unknown keys or bad values.
  static ModelConfig from_json(const nlohmann::json& j);
};

/// One batch of preprocessed spectra (and, for training, their peptides).
struct Batch {
  at::Tensor mz;              ///< (B, P) float64, zero-padded
  at::Tensor intensity;       ///< (B, P) float64
  at::Tensor peak_mask;       ///< (B, P) bool, true for real peaks
  at::Tensor precursor_mass;  ///< (B) float64 neutral mass, (m/z - proton) * z
  at::Tensor charge;          ///< (B) int64
  at::Tensor tokens;          ///< (B, L) int64 model ids in decoding order, stop token appended, 0-padded
};

/// Sinusoidal features of x (any shape, float64) as depthcharge's FloatEncoder: shape x.sizes() +
/// [d], sines then cosines (see bio/spectra/preprocess.h), computed in float64, returned float32.
at::Tensor sinusoid_features(const at::Tensor& x, int64_t d, double lambda_min, double lambda_max);

/// Pre-norm transformer layer: self-attention, optional cross-attention, GELU MLP.
class LayerImpl : public torch::nn::Module {
 public:
  LayerImpl(int64_t d_model, int64_t heads, int64_t ff_hidden, bool cross);
  /// x (B, L, d); self_mask (B, L) bool or undefined; memory (B, M, d) and memory_mask (B, M)
  /// for cross-attention.
  at::Tensor forward(const at::Tensor& x, const at::Tensor& self_mask, bool causal, const at::Tensor& memory,
                     const at::Tensor& memory_mask);
  /// Keys and values of the cross-attention over `memory`, (B, heads, M, head_dim) each.
  std::pair<at::Tensor, at::Tensor> cross_keys_values(const at::Tensor& memory);
  /// One new position x (B, 1, d) of a causal stack: appends its self-attention keys and values to
  /// the caches (B, heads, t, head_dim; undefined at t = 0) and attends to them and to the
  /// precomputed cross keys/values. Equal to forward() over the whole prefix at its last row.
  at::Tensor step(const at::Tensor& x, at::Tensor& k_cache, at::Tensor& v_cache, const at::Tensor& cross_k,
                  const at::Tensor& cross_v, const at::Tensor& memory_mask);

 private:
  std::pair<at::Tensor, at::Tensor> keys_values(torch::nn::Linear& kv, const at::Tensor& source) const;
  at::Tensor attend(torch::nn::Linear& q, torch::nn::Linear& o, const at::Tensor& x, const at::Tensor& k,
                    const at::Tensor& v, const at::Tensor& mask, bool causal) const;
  int64_t heads_;
  nn::Norm norm_self_{nullptr}, norm_cross_{nullptr}, norm_mlp_{nullptr};
  torch::nn::Linear self_q_{nullptr}, self_kv_{nullptr}, self_o_{nullptr};
  torch::nn::Linear cross_q_{nullptr}, cross_kv_{nullptr}, cross_o_{nullptr};
  nn::Mlp mlp_{nullptr};
};
TORCH_MODULE(Layer);

/// State of step-by-step autoregressive decoding: per decoder layer the self-attention keys and
/// values of the positions so far and the cross-attention keys and values of the memory, plus the
/// per-row precursor code, precursor mass and prefix mass. Rows can be reordered (beam search).
struct DecoderCache {
  std::vector<at::Tensor> self_k, self_v, cross_k, cross_v;
  at::Tensor memory_mask;
  at::Tensor precursor;       ///< (B, d)
  at::Tensor precursor_mass;  ///< (B) float64
  at::Tensor prefix_mass;     ///< (B) float64, residues decoded so far
  int64_t length = 0;         ///< positions decoded (the precursor position included)
  /// Keeps rows `rows` (int64 indices, repeats allowed) of every tensor, in that order.
  void select_rows(const at::Tensor& rows);
};

class DenovoModelImpl : public torch::nn::Module {
 public:
  explicit DenovoModelImpl(ModelConfig config);

  const ModelConfig& config() const noexcept { return config_; }
  const bio::spectra::ResidueTable& table() const noexcept { return table_; }
  int64_t vocab_size() const noexcept { return vocab_; }
  int64_t stop_token() const noexcept { return vocab_ - 1; }
  /// Mass of each model id (padding and stop 0), float64 (vocab).
  const at::Tensor& token_masses() const noexcept { return token_masses_; }
  bool has_nar() const noexcept { return config_.nar_layers > 0; }

  struct Encoded {
    at::Tensor memory;       ///< (B, 1 + P, d)
    at::Tensor memory_mask;  ///< (B, 1 + P) bool
    at::Tensor precursor;    ///< (B, d) precursor code
    at::Tensor precursor_mass;  ///< (B) float64 neutral mass
  };
  Encoded encode(const Batch& batch);
  /// Non-autoregressive features (B, nar_length, d) and CTC logits (B, nar_length, vocab).
  std::pair<at::Tensor, at::Tensor> nar_forward(const Encoded& enc);
  /// Autoregressive logits (B, L + 1, vocab) for input tokens (B, L) (no stop needed; 0-padded);
  /// `nar_features` defined: stage-2 cross-attention over [nar_features; memory].
  at::Tensor decode(const Encoded& enc, const at::Tensor& tokens, const at::Tensor& nar_features);

  /// Cross-attention memory of the autoregressive decoder: the encoder output, or in stage 2
  /// (nar_features defined) [NAR features; encoder output] with position codes.
  std::pair<at::Tensor, at::Tensor> decoder_memory(const Encoded& enc, const at::Tensor& nar_features);

  /// Step-by-step decoding: start_decoding() computes the cross-attention keys once; each
  /// decode_step() call adds one position and returns its logits (B, vocab): the first call the
  /// precursor position (tokens undefined), then one call per token (B) fed. The logits equal
  /// decode()'s at the same position.
  DecoderCache start_decoding(const Encoded& enc, const at::Tensor& nar_features);
  at::Tensor decode_step(DecoderCache& cache, const at::Tensor& tokens);

  /// Stage 2: the encoder side (peak encoder, latent spectrum, charge embedding, encoder, NAR
  /// decoder) stops requiring gradients and its gradients are dropped, so an optimizer leaves it
  /// unchanged. Idempotent.
  void freeze_encoder_side();

 private:
  /// Codes of the prefix mass and of the mass still to explain (precursor - water - prefix), (..., d).
  at::Tensor mass_codes(const at::Tensor& prefix, const at::Tensor& precursor_mass);

  ModelConfig config_;
  bio::spectra::ResidueTable table_;
  int64_t vocab_;
  at::Tensor token_masses_;
  torch::nn::Linear peak_combiner_{nullptr};
  at::Tensor latent_spectrum_;
  torch::nn::Embedding charge_embedding_{nullptr};
  torch::nn::Embedding token_embedding_{nullptr};
  torch::nn::Linear mass_combiner_{nullptr};
  torch::nn::ModuleList encoder_{nullptr};
  models::Backbone encoder_backbone_{nullptr};
  torch::nn::ModuleList decoder_{nullptr};
  torch::nn::ModuleList nar_{nullptr};
  nn::Norm encoder_norm_{nullptr}, decoder_norm_{nullptr}, nar_norm_{nullptr};
  torch::nn::Linear head_{nullptr};
  torch::nn::Linear nar_head_{nullptr};
};
TORCH_MODULE(DenovoModel);

/// Model ids of a peptide (table tokens, N-terminal modification first) in decoding order, stop
/// token appended.
std::vector<int64_t> model_ids(const DenovoModelImpl& model, const std::vector<int>& tokens);

/// Builds a batch from preprocessed spectra (their `peptide` fields parsed when `with_peptides`;
/// an unparsable peptide is an InputError naming the spectrum).
Batch make_batch(const DenovoModelImpl& model, const std::vector<bio::spectra::Spectrum>& spectra, bool with_peptides);

struct Losses {
  at::Tensor total;
  at::Tensor ar;   ///< cross-entropy (label smoothing 0.01), mean over target tokens
  at::Tensor nar;  ///< CTC, mean over the batch (undefined without the NAR decoder)
};
/// stage 1: ar_weight in [0, 1] (annealed by the caller); stage 2: cross-decoder training of the
/// autoregressive decoder with the encoder and NAR decoder run without gradients.
Losses training_losses(DenovoModelImpl& model, const Batch& batch, int stage, double ar_weight,
                       double label_smoothing = 0.01);

}  // namespace strand::pipelines::denovo
