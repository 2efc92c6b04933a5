#include "libseq/train/objectives.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "libseq/core/error.h"

namespace strand::train {
namespace {

std::string shape_text(const at::Tensor& t) {
  std::string s = "(";
  for (int64_t d = 0; d < t.dim(); ++d) s += (d ? ", " : "") + std::to_string(t.size(d));
  return s + ")";
}

template <typename... Args>
void check_shape(bool cond, Args&&... args) {
  if (!cond) throw ShapeError(detail::str(std::forward<Args>(args)...));
}

void check_defined(const at::Tensor& t, const char* fn, const char* name) {
  check_shape(t.defined(), fn, ": ", name, " is an undefined tensor");
}

void check_same_device(const at::Tensor& a, const at::Tensor& b, const char* fn, const char* na, const char* nb) {
  check_shape(a.device() == b.device(), fn, ": ", na, " is on ", a.device(), " but ", nb, " is on ", b.device());
}

void check_logits(const at::Tensor& logits, const char* fn) {
  check_defined(logits, fn, "logits");
  check_shape(logits.dim() == 3, fn, ": logits must be (batch, length, vocab), got ", shape_text(logits));
  check_shape(at::isFloatingType(logits.scalar_type()), fn, ": logits must be floating point, got ",
              logits.scalar_type());
  check_shape(logits.size(2) > 0, fn, ": logits have an empty vocabulary dimension");
}

void check_ids(const at::Tensor& ids, const char* fn, const char* name) {
  check_defined(ids, fn, name);
  check_shape(ids.dim() == 2, fn, ": ", name, " must be (batch, length), got ", shape_text(ids));
  check_shape(ids.scalar_type() == at::kLong, fn, ": ", name, " must be int64, got ", ids.scalar_type());
}

void check_mask(const at::Tensor& mask, const at::Tensor& ids, const char* fn, const char* name) {
  check_defined(mask, fn, name);
  check_shape(mask.scalar_type() == at::kBool, fn, ": ", name, " must be bool, got ", mask.scalar_type());
  check_shape(mask.sizes() == ids.sizes(), fn, ": ", name, " ", shape_text(mask), " must match ids ",
              shape_text(ids));
  check_same_device(mask, ids, fn, name, "ids");
}

// Per-token cross-entropy (N) in float32, 0 at ignored targets, reduced to a TokenLoss.
TokenLoss token_cross_entropy(const at::Tensor& logits, const at::Tensor& targets, const char* fn) {
  const int64_t vocab = logits.size(2);
  const at::Tensor scored = targets != kIgnoreIndex;
  const bool in_range = (scored.logical_not() | ((targets >= 0) & (targets < vocab))).all().item<bool>();
  STRAND_CHECK(in_range, fn, ": a target id is outside the vocabulary [0, ", vocab, ")");
  const at::Tensor flat = logits.reshape({-1, vocab}).to(at::kFloat);
  const at::Tensor per_token = at::cross_entropy_loss(flat, targets.reshape({-1}), /*weight=*/{},
                                                      at::Reduction::None, kIgnoreIndex, /*label_smoothing=*/0.0);
  TokenLoss out;
  out.sum = per_token.sum(at::kDouble);
  out.count = scored.sum(at::kLong);
  out.mean = (out.sum / out.count.clamp_min(1)).to(at::kFloat);
  return out;
}

}  // namespace

TokenLoss clm_loss(const at::Tensor& logits, const at::Tensor& ids, const at::Tensor& mask) {
  constexpr const char* fn = "clm_loss";
  check_logits(logits, fn);
  check_ids(ids, fn, "ids");
  check_mask(mask, ids, fn, "mask");
  check_shape(logits.size(0) == ids.size(0) && logits.size(1) == ids.size(1), fn, ": logits ", shape_text(logits),
              " do not match ids ", shape_text(ids));
  check_same_device(logits, ids, fn, "logits", "ids");
  const int64_t length = ids.size(1);
  if (length < 2) {
    // Nothing to predict; keep the result connected to the graph.
    TokenLoss out;
    out.sum = logits.sum(at::kDouble) * 0.0;
    out.count = at::zeros({}, ids.options());
    out.mean = out.sum.to(at::kFloat);
    return out;
  }
  const at::Tensor scored = mask.narrow(1, 0, length - 1) & mask.narrow(1, 1, length - 1);
  const at::Tensor targets = at::where(scored, ids.narrow(1, 1, length - 1), at::scalar_tensor(kIgnoreIndex, ids.options()));
  return token_cross_entropy(logits.narrow(1, 0, length - 1), targets, fn);
}

TokenLoss mlm_loss(const at::Tensor& logits, const at::Tensor& labels) {
  constexpr const char* fn = "mlm_loss";
  check_logits(logits, fn);
  check_ids(labels, fn, "labels");
  check_shape(logits.size(0) == labels.size(0) && logits.size(1) == labels.size(1), fn, ": logits ",
              shape_text(logits), " do not match labels ", shape_text(labels));
  check_same_device(logits, labels, fn, "logits", "labels");
  return token_cross_entropy(logits, labels, fn);
}

void MlmMaskOptions::validate() const {
  STRAND_CHECK(select_prob > 0 && select_prob < 1, "mlm_mask: select_prob must be in (0, 1), got ", select_prob);
  STRAND_CHECK(mask_token_id >= 0, "mlm_mask: mask_token_id must be set (>= 0), got ", mask_token_id);
  STRAND_CHECK(random_lo >= 0 && random_lo < random_hi, "mlm_mask: random replacement range [", random_lo, ", ",
               random_hi, ") must be set with 0 <= random_lo < random_hi");
  STRAND_CHECK(mask_prob >= 0 && random_prob >= 0 && mask_prob + random_prob <= 1.0,
               "mlm_mask: mask_prob and random_prob must be >= 0 with a sum <= 1, got ", mask_prob, " and ",
               random_prob);
  STRAND_CHECK(std::isfinite(mean_span_length) && mean_span_length >= 1.0,
               "mlm_mask: mean_span_length must be >= 1, got ", mean_span_length);
  STRAND_CHECK(mean_span_length == 1.0 || select_prob <= mean_span_length / (mean_span_length + 1.0),
               "mlm_mask: with mean_span_length ", mean_span_length, " select_prob must be <= ",
               mean_span_length / (mean_span_length + 1.0), " (gaps between spans are at least one token), got ",
               select_prob);
}

namespace {

// Coverage of an alternating renewal process of gaps and spans (see the header), as a bool
// (B, L) tensor. Uses B*(L+2) geometric draws and B uniform draws.
at::Tensor span_coverage(int64_t batch, int64_t length, double p, double mean_span,
                         const compat::optional<at::Generator>& generator, const at::TensorOptions& device) {
  const double mean_gap = mean_span * (1.0 - p) / p;
  // Every gap after the first and every span is >= 1 token, so K pairs always reach past L.
  const int64_t pairs = length / 2 + 1;
  const auto real = device.dtype(at::kDouble);
  const auto cap = static_cast<double>(length + 1);  // longer pieces behave the same; avoids overflow
  at::Tensor spans = at::empty({batch, pairs}, real).geometric_(1.0 / mean_span, generator).clamp_max(cap);
  at::Tensor gaps = at::empty({batch, pairs}, real).geometric_(1.0 / mean_gap, generator).clamp_max(cap);
  const at::Tensor starts_inside = at::rand({batch}, generator, real) < p;
  gaps.select(1, 0).masked_fill_(starts_inside, 0.0);
  // Interleave gap_0, span_0, gap_1, span_1, ... and take running ends.
  const at::Tensor ends = at::stack({gaps, spans}, 2).reshape({batch, 2 * pairs}).to(at::kLong).cumsum(1);
  const at::Tensor span_begin = ends.slice(1, 0, 2 * pairs, 2).clamp_max(length);
  const at::Tensor span_end = ends.slice(1, 1, 2 * pairs, 2).clamp_max(length);
  // +1 where a span begins, -1 where it ends; the running sum is 1 inside spans, 0 outside.
  at::Tensor edges = at::zeros({batch, length + 1}, device.dtype(at::kLong));
  edges.scatter_add_(1, span_begin, at::ones_like(span_begin));
  edges.scatter_add_(1, span_end, at::full_like(span_end, -1));
  return edges.cumsum(1).narrow(1, 0, length) > 0;
}

}  // namespace

MlmBatch mlm_mask(const at::Tensor& ids, const at::Tensor& maskable, const MlmMaskOptions& options,
                  compat::optional<at::Generator> generator) {
  constexpr const char* fn = "mlm_mask";
  options.validate();
  check_ids(ids, fn, "ids");
  check_mask(maskable, ids, fn, "maskable");
  const int64_t batch = ids.size(0);
  const int64_t length = ids.size(1);
  const auto device = at::TensorOptions().device(ids.device());
  const auto real = device.dtype(at::kFloat);

  at::Tensor selected;
  if (options.mean_span_length == 1.0) {
    selected = at::rand({batch, length}, generator, real) < options.select_prob;
  } else {
    selected = span_coverage(batch, length, options.select_prob, options.mean_span_length, generator, device);
  }
  selected = selected & maskable;

  if (options.at_least_one && length > 0) {
    // Drawn for every row, needed or not, so the stream of draws does not depend on the data.
    const at::Tensor scores = at::where(maskable, at::rand({batch, length}, generator, real),
                                        at::scalar_tensor(-1.0, real));
    const at::Tensor pick = scores.argmax(1, /*keepdim=*/true);
    const at::Tensor needed = (maskable.any(1) & selected.any(1).logical_not()).unsqueeze(1);
    at::Tensor chosen = at::zeros_like(selected);
    chosen.scatter_(1, pick, needed);
    selected = selected | chosen;
  }

  const at::Tensor rule = at::rand({batch, length}, generator, real);
  const at::Tensor random_ids = at::randint(options.random_lo, options.random_hi, {batch, length}, generator,
                                            device.dtype(at::kLong));
  const auto mask_cut = static_cast<float>(options.mask_prob);
  const auto random_cut = static_cast<float>(options.mask_prob + options.random_prob);
  const at::Tensor to_mask = selected & (rule < mask_cut);
  const at::Tensor to_random = selected & (rule >= mask_cut) & (rule < random_cut);

  MlmBatch out;
  out.input_ids = at::where(to_random, random_ids, ids).masked_fill(to_mask, options.mask_token_id);
  out.labels = ids.masked_fill(selected.logical_not(), kIgnoreIndex);
  return out;
}

namespace {

void check_complement(const at::Tensor& ids, const at::Tensor& complement, const char* fn) {
  check_defined(complement, fn, "complement");
  check_shape(complement.dim() == 1 && complement.size(0) > 0, fn, ": complement must be a non-empty (vocab) tensor, got ",
              shape_text(complement));
  check_shape(complement.scalar_type() == at::kLong, fn, ": complement must be int64, got ", complement.scalar_type());
  check_same_device(complement, ids, fn, "complement", "ids");
  const int64_t vocab = complement.size(0);
  STRAND_CHECK(((complement >= 0) & (complement < vocab)).all().item<bool>(), fn,
               ": complement maps an id outside [0, ", vocab, ")");
  STRAND_CHECK(((ids >= 0) & (ids < vocab)).all().item<bool>(), fn, ": ids must lie in [0, ", vocab,
               ") (the complement map's size)");
}

}  // namespace

at::Tensor reverse_complement_batch(const at::Tensor& ids, const at::Tensor& complement, const at::Tensor& mask) {
  constexpr const char* fn = "reverse_complement_batch";
  check_ids(ids, fn, "ids");
  check_mask(mask, ids, fn, "mask");
  check_complement(ids, complement, fn);
  const int64_t length = ids.size(1);
  if (ids.numel() == 0) return ids.clone();
  // rank of each masked position within its row; the masked positions in order come first in
  // `order` (unmasked ones are keyed after them, in place order).
  const at::Tensor rank = mask.to(at::kLong).cumsum(1) - 1;
  const at::Tensor position = at::arange(length, ids.options()).unsqueeze(0).expand_as(ids);
  const at::Tensor key = at::where(mask, rank, position + length);
  const at::Tensor order = std::get<1>(key.sort(/*dim=*/1));
  const at::Tensor count = mask.sum({1}, /*keepdim=*/true, at::kLong);
  // Masked position of rank r takes the token of rank count - 1 - r.
  const at::Tensor mirror = (count - 1 - rank).clamp_min(0);
  const at::Tensor source = at::where(mask, order.gather(1, mirror), position);
  const at::Tensor moved = ids.gather(1, source);
  return at::where(mask, complement.index_select(0, moved.reshape({-1})).reshape_as(moved), ids);
}

at::Tensor reverse_complement_batch_lengths(const at::Tensor& ids, const at::Tensor& complement,
                                            const at::Tensor& lengths) {
  constexpr const char* fn = "reverse_complement_batch_lengths";
  check_ids(ids, fn, "ids");
  check_defined(lengths, fn, "lengths");
  check_shape(lengths.dim() == 1 && lengths.size(0) == ids.size(0), fn, ": lengths must be (batch) = (",
              ids.size(0), "), got ", shape_text(lengths));
  check_shape(lengths.scalar_type() == at::kLong, fn, ": lengths must be int64, got ", lengths.scalar_type());
  check_same_device(lengths, ids, fn, "lengths", "ids");
  STRAND_CHECK(((lengths >= 0) & (lengths <= ids.size(1))).all().item<bool>(), fn, ": lengths must lie in [0, ",
               ids.size(1), "]");
  const at::Tensor mask = at::arange(ids.size(1), ids.options()).unsqueeze(0) < lengths.unsqueeze(1);
  return reverse_complement_batch(ids, complement, mask);
}

}  // namespace strand::train
