// Training objectives as pure tensor functions: causal language modelling (next-token
// cross-entropy), masked language modelling (BERT-style corruption and loss) and reverse-complement
// augmentation of DNA batches.
//
// Shapes: B = batch, L = length, V = vocabulary size. Token ids are int64, masks are bool. Every
// tensor argument of one call must be on the same device; nothing is moved between devices.
// Losses are computed in float32 whatever the logits' floating dtype (float16/bfloat16 logits
// are upcast) and are natural-log units (nats).
//
// Randomness: mlm_mask draws every random number from the generator it is given, or from
// LibTorch's default generator of the tensors' device when none is given (so
// strand::manual_seed and the trainer's checkpointed generator state cover it). A given generator
// must be of the tensors' device type. The number and order of draws depend only on the shapes
// and options, never on the values, so a seeded stream stays aligned across batches.
//
// Thread-safety: the functions keep no state and may run concurrently; calls that share a
// generator then draw from it in an unspecified order, so give each thread its own generator
// when results must be reproducible.
// Failures: strand::ShapeError for wrong ranks, shapes, dtypes or devices; strand::InputError for
// token ids outside the vocabulary and invalid options.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>

#include "kernels/common/torch_compat.h"

namespace strand::train {

/// Label value of positions that are not scored (the cross-entropy convention).
inline constexpr int64_t kIgnoreIndex = -100;

/// A token-averaged loss with what is needed to aggregate it exactly over batches or ranks:
/// total = sum of sums, tokens = sum of counts, mean = total / tokens.
struct TokenLoss {
  at::Tensor mean;   ///< 0-d float32: sum / max(count, 1) (0 when nothing is scored); differentiable
  at::Tensor sum;    ///< 0-d float64: sum of the per-token losses, accumulated in double; differentiable
  at::Tensor count;  ///< 0-d int64: number of scored tokens
};

/// Causal LM loss. logits (B, L, V) floating; ids (B, L) int64; mask (B, L) bool, true at real
/// tokens. The logits at position t predict ids[:, t + 1]; a target t + 1 is scored when both
/// mask[:, t] and mask[:, t + 1] are true (so neither a pad nor the first real token after left
/// padding is ever predicted). Ids at scored targets must lie in [0, V).
TokenLoss clm_loss(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& mask);

/// MLM loss. logits (B, L, V) floating; labels (B, L) int64 from mlm_mask: a target id in [0, V)
/// or kIgnoreIndex. Only positions with a target are scored.
TokenLoss mlm_loss(const at::Tensor& logits, const at::Tensor& labels);

/// Corruption settings for mlm_mask.
struct MlmMaskOptions {
  /// Expected fraction of maskable positions selected for prediction, in (0, 1).
  double select_prob = 0.15;
  /// Id written at positions replaced by the mask token; must be set (>= 0).
  int64_t mask_token_id = -1;
  /// Random replacements are drawn uniformly from [random_lo, random_hi), e.g. the ids of the
  /// four nucleotides; must be set, 0 <= random_lo < random_hi.
  int64_t random_lo = -1;
  int64_t random_hi = -1;
  /// Of the selected positions: this fraction becomes mask_token_id, random_prob a random id,
  /// the rest keeps its id (BERT's 80/10/10; Devlin et al. 2019). Both >= 0, sum <= 1.
  double mask_prob = 0.8;
  double random_prob = 0.1;
  /// 1: every position is selected independently with select_prob. > 1: contiguous spans with
  /// geometric lengths of this mean are selected instead (span masking in the spirit of
  /// SpanBERT, Joshi et al. 2020); see mlm_mask. Needs select_prob <= m / (m + 1).
  double mean_span_length = 1.0;
  /// Select one maskable position (uniformly) in every row that has a maskable position but got
  /// none selected, so no row is without a target. With mean_span_length 1 this raises the
  /// expected selected fraction of a row with n maskable positions by (1 - select_prob)^n / n.
  bool at_least_one = true;

  /// Throws strand::InputError naming the bad field.
  void validate() const;
};

/// The corrupted batch and its targets.
struct MlmBatch {
  at::Tensor input_ids;  ///< (B, L) int64: ids with the replacements applied
  at::Tensor labels;     ///< (B, L) int64: the original id at selected positions, kIgnoreIndex elsewhere
};

/// BERT-style corruption. ids (B, L) int64; maskable (B, L) bool: true where a position may be
/// selected (false at pads, special tokens and, for DNA, N). Positions where maskable is false are
/// never selected, never changed and never scored.
///
/// Selection with mean_span_length m = 1: each maskable position independently with select_prob.
/// With m > 1: each row is cut into alternating gaps and spans, span lengths geometric on
/// {1, 2, ...} with mean m, gap lengths geometric with mean m (1 - p) / p, the row starting inside
/// a span with probability p (the stationary start of this alternating renewal process), so every
/// position is covered with probability exactly p = select_prob and spans never touch; the
/// maskable positions inside spans are selected (a span crossing a non-maskable position is cut
/// there). Each selected position is then replaced independently by the 80/10/10 rule (per token,
/// as in BERT, not per span).
MlmBatch mlm_mask(const at::Tensor& ids, const at::Tensor& maskable, const MlmMaskOptions& options,
                  compat::optional<at::Generator> generator = compat::nullopt);

/// Reverse complement of every row of a batch. ids (B, L) int64 with values in [0, V);
/// complement (V) int64 mapping each id to the id of its complement (specials, pads and N map to
/// themselves); mask (B, L) bool marks the tokens to transform. In each row the masked tokens are
/// reversed among the masked positions and complemented; unmasked positions (pads, and special
/// tokens such as a leading <cls> if the mask leaves them out) keep their id and place. With a
/// mask that is true on a prefix of each row, real tokens stay in front and pads stay at the end.
/// Applying it twice gives back `ids` when complement is an involution. The caller decides when
/// to apply it (e.g. to each sequence with probability 1/2).
at::Tensor reverse_complement_batch(const at::Tensor& ids, const at::Tensor& complement, const at::Tensor& mask);

/// The same with lengths (B) int64 in [0, L]: row b's real tokens are ids[b, :lengths[b]].
at::Tensor reverse_complement_batch_lengths(const at::Tensor& ids, const at::Tensor& complement,
                                            const at::Tensor& lengths);

}  // namespace strand::train
