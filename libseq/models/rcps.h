// Reverse-complement parameter sharing (RCPS), the construction of Caduceus (Schiff et al. 2024,
// arXiv 2403.03234, §3.2 and Theorem 3.1), applied at the model level to any backbone.
//
// Notation. A batch of token ids x (B, L) with right padding; row b has n_b real tokens. rc(x)
// reverses the first n_b ids of each row and maps every id through the complement map (padding
// stays where it is). F = backbone(embedding(.)), the per-stream network of width d = d_model.
// R_L reverses the real positions of each row (dimension 1); flip_C reverses the channels.
//
//   H_f  = F(x)                    forward stream, (B, L, d)
//   H_r' = R_L(F(rc(x)))           reverse-complement stream, brought back to forward order
//   hidden = concat(H_f, flip_C(H_r'))   (B, L, 2d), Caduceus' channel convention: the second
//                                  half is flip_{L,C} of the RC stream, so that
//   hidden(rc(x)) = RC(hidden(x)),  RC = R_L followed by flip_C over all 2d channels.
//
// The two streams share every parameter; the backbone runs once on the 2B rows [x; rc(x)].
// Heads built on these features are exactly RC-equivariant or -invariant (see model.h).
// These helpers are pure tensor functions: thread-safe, differentiable where floating point.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace strand::models {

/// The "rcps" object of config.json: {"enabled": bool, "complement": [ids]}.
struct RcpsConfig {
  bool enabled = false;
  /// complement[id] = id of the complementary token; size vocab_size, an involution, special
  /// tokens (pad included) mapped to themselves. Empty when !enabled.
  std::vector<int64_t> complement;

  /// Reads the object; ConfigError naming `source` for unknown keys or wrong types. Call
  /// validate() once the vocabulary is known.
  static RcpsConfig from_json(const nlohmann::json& j, const std::string& source);
  nlohmann::json to_json() const;
  /// ConfigError naming `source` when enabled and the map has the wrong size, an id outside
  /// [0, vocab_size), is not its own inverse, or moves pad_id; or when disabled with a map.
  void validate(int64_t vocab_size, int64_t pad_id, const std::string& source) const;
};

/// Real-token counts (B) int64 from a (B, L) bool mask whose true entries form a prefix of each
/// row (right padding). Undefined mask: every row has length L. InputError when a row's mask is
/// not a prefix (RCPS cannot reverse a row with holes).
at::Tensor lengths_from_mask(const at::Tensor& mask, int64_t batch, int64_t length, const at::Device& device);

/// R_L: reverses the first lengths[b] entries of each row b along dimension 1 of x (B, L, ...),
/// leaving positions >= lengths[b] in place. x any dtype; lengths (B) int64 on x's device in
/// [0, L]. Applying it twice gives x back.
at::Tensor reverse_rows(const at::Tensor& x, const at::Tensor& lengths);

/// concat(forward, flip_C(reverse)) over the last dimension: (..., d) x 2 -> (..., 2d).
at::Tensor rcps_join(const at::Tensor& forward, const at::Tensor& reverse);

/// The inverse of rcps_join: (..., 2d) -> (H_f, H_r'), each (..., d). The last dimension must be
/// even (ShapeError otherwise).
std::pair<at::Tensor, at::Tensor> rcps_split(const at::Tensor& hidden);

/// The RC operator on RCPS features (B, L, 2d): R_L then flip_C. hidden(rc(x)) equals
/// rcps_reverse_complement(hidden(x), lengths) on real positions.
at::Tensor rcps_reverse_complement(const at::Tensor& hidden, const at::Tensor& lengths);

}  // namespace strand::models
