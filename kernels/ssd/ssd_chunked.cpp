// The chunked SSD algorithm of Mamba-2 (Dao & Gu 2024, arXiv:2405.21060, §6 and Listing 1),
// written with ATen ops so that it runs on any device and ATen autograd differentiates it.
//
// With a = dt * A (the log-decay of each step) and X = dt * x, the sequence is cut into chunks of
// Q steps and, per chunk,
//   1. diagonal blocks:  Y_diag[l] = sum_{s <= l} (C_l . B_s) exp(a_{s+1} + ... + a_l) X_s
//   2. chunk states:     S_c = sum_l B_l (x) X_l exp(a_{l+1} + ... + a_end)      (zero initial state)
//   3. state passing:    the state entering chunk z, a short scan over the chunk states that starts
//                        from initial_state; the last one is the final state
//   4. off-diagonal:     Y_off[l] = C_l . S_entering exp(a_first + ... + a_l)
// and y = Y_diag + Y_off + D x, out = y silu(z). Heads keep a group axis (H = G x R) so that B
// and C are never expanded to H heads. Exponents are segment sums built from a masked cumulative
// sum with -inf above the diagonal (never differences of long cumulative sums inside a chunk,
// which lose precision and overflow).
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <tuple>
#include <vector>

#include "kernels/ssd/ssd.h"
#include "kernels/ssd/ssd_internal.h"

namespace strand {
namespace {

/// segsum(a)[..., i, j] = a[..., j+1] + ... + a[..., i] for i >= j (0 on the diagonal), -inf for
/// i < j; a is (..., T), the result (..., T, T).
at::Tensor segment_sums(const at::Tensor& a) {
  const int64_t steps = a.size(-1);
  std::vector<int64_t> square(a.sizes().begin(), a.sizes().end());
  square.push_back(steps);
  const auto mask_options = a.options().dtype(at::kBool);
  const auto strictly_lower = at::ones({steps, steps}, mask_options).tril(-1);
  const auto lower = at::ones({steps, steps}, mask_options).tril(0);
  // rows[..., i, j] = a[..., i] where i > j, else 0; the cumulative sum over i then adds
  // a[j+1..i] without ever subtracting.
  const auto rows = a.unsqueeze(-1).expand(square).masked_fill(strictly_lower.logical_not(), 0);
  return rows.cumsum(-2).masked_fill(lower.logical_not(), -std::numeric_limits<double>::infinity());
}

/// Pads dimension 1 (time) of t with zeros up to `padded`.
at::Tensor pad_time(const at::Tensor& t, int64_t padded) {
  const int64_t extra = padded - t.size(1);
  if (extra == 0) return t;
  std::vector<int64_t> pad(2 * (t.dim() - 1), 0);  // pairs from the last dimension back to dim 1
  pad.back() = extra;
  return at::constant_pad_nd(t, pad);
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> ssd_chunked(const at::Tensor& x, const at::Tensor& dt_in, const at::Tensor& A,
                                               const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                               const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                               const at::Tensor& initial_state, bool return_final_state,
                                               int64_t chunk_size) {
  const auto s = kernels::check_ssd_args("strand::ssd_chunked", x, dt_in, A, B, C, D, z, dt_bias, initial_state);
  TORCH_CHECK(chunk_size >= 1, "strand::ssd_chunked: chunk_size must be >= 1, got ", chunk_size);
  const int64_t b = s.batch, len = s.len, heads = s.heads, p = s.head_dim, g = s.groups, n = s.state;
  const int64_t r = heads / g;  // heads per group

  if (len == 0) {
    auto final_state = initial_state.defined() ? initial_state.clone() : at::zeros({b, heads, p, n}, x.options());
    return {at::zeros_like(x, at::MemoryFormat::Contiguous), return_final_state ? final_state : at::Tensor()};
  }

  // dt after bias and softplus; padding comes after it, so padded steps have dt = 0: no decay
  // (exp(0) = 1) and no input, which leaves the state at step L - 1 unchanged up to the chunk end.
  auto dt = dt_bias.defined() ? dt_in + dt_bias : dt_in;
  if (dt_softplus) dt = at::softplus(dt);
  // A chunk longer than the sequence only adds padding; the result does not depend on Q.
  const int64_t q = std::min(chunk_size, len);
  const int64_t chunks = (len + q - 1) / q, padded = chunks * q;

  const auto dt_p = pad_time(dt, padded);                                    // (b, Lp, H)
  const auto xs = pad_time(x * dt.unsqueeze(-1), padded)                     // X = dt x
                      .reshape({b, chunks, q, g, r, p});                     // (b, c, l, g, r, p)
  const auto Bc = pad_time(B, padded).reshape({b, chunks, q, g, n});         // (b, c, l, g, n)
  const auto Cc = pad_time(C, padded).reshape({b, chunks, q, g, n});         // (b, c, l, g, n)
  const auto log_decay = (dt_p * A).reshape({b, chunks, q, g, r}).permute({0, 3, 4, 1, 2});  // (b, g, r, c, l)
  const auto a_cum = log_decay.cumsum(-1);                                   // (b, g, r, c, l)

  // 1. Diagonal blocks: (C_l . B_s) exp(segsum)[l, s] X_s summed over s.
  const auto cb = at::einsum("bclgn,bcsgn->bgcls", {Cc, Bc}).unsqueeze(2);  // (b, g, 1, c, l, s)
  const auto scores = cb * at::exp(segment_sums(log_decay));                 // (b, g, r, c, l, s)
  const auto y_diag = at::einsum("bgrcls,bcsgrp->bclgrp", {scores, xs});

  // 2. State of each chunk from its own inputs: sum_l B_l (x) X_l exp(a_cum[end] - a_cum[l]).
  const auto decay_to_end = at::exp(a_cum.narrow(-1, q - 1, 1) - a_cum);     // (b, g, r, c, l)
  const auto xs_to_end = xs * decay_to_end.permute({0, 3, 4, 1, 2}).unsqueeze(-1);
  const auto chunk_states = at::einsum("bclgn,bclgrp->bcgrpn", {Bc, xs_to_end});  // (b, c, g, r, p, n)

  // 3. State passing over chunks, starting from the initial state (chunk "-1").
  const auto init = initial_state.defined() ? initial_state.reshape({b, 1, g, r, p, n})
                                            : at::zeros({b, 1, g, r, p, n}, x.options());
  const auto states = at::cat({init, chunk_states}, 1);                       // (b, c + 1, g, r, p, n)
  const auto chunk_log_decay = at::constant_pad_nd(a_cum.select(-1, q - 1), {1, 0});  // (b, g, r, c + 1)
  const auto decay_chunk = at::exp(segment_sums(chunk_log_decay));            // (b, g, r, c + 1, c + 1)
  const auto passed = at::einsum("bgrzc,bcgrpn->bzgrpn", {decay_chunk, states});  // (b, c + 1, g, r, p, n)
  const auto entering = passed.narrow(1, 0, chunks);                          // state before each chunk

  // 4. Contribution of the entering state: C_l . S exp(a_cum[l]).
  const auto c_state = at::einsum("bclgn,bcgrpn->bclgrp", {Cc, entering});
  const auto y_off = c_state * at::exp(a_cum).permute({0, 3, 4, 1, 2}).unsqueeze(-1);

  auto y = (y_diag + y_off).reshape({b, padded, heads, p}).narrow(1, 0, len);
  if (D.defined()) y = y + x * D.view({1, 1, heads, 1});
  if (z.defined()) y = y * at::silu(z);
  at::Tensor final_state;
  if (return_final_state) final_state = passed.select(1, chunks).reshape({b, heads, p, n});
  return {y.contiguous(), final_state};
}

}  // namespace strand
