// strand::ssd_scan — the state-space dual (SSD) scan of Mamba-2 (Dao & Gu 2024,
// arXiv:2405.21060, §6 and Listing 1): a selective scan whose decay is one scalar per head.
//
// For batch b, head h (group g = h / (H / G)), head channel p, state index n and time t:
//   dt[b,t,h]     = dt_in[b,t,h] + dt_bias[h]; dt = softplus(dt) if dt_softplus
//   S[b,h,p,n,t]  = exp(dt[b,t,h] * A[h]) * S[b,h,p,n,t-1] + dt[b,t,h] * x[b,t,h,p] * B[b,t,g,n]
//   S[..., -1]    = initial_state[b,h,p,n] (zero when undefined)
//   y[b,t,h,p]    = sum_n C[b,t,g,n] * S[b,h,p,n,t] + D[h] * x[b,t,h,p]
//   out           = y * silu(z) (z optional); final_state = S[..., L-1]
//
//   x             (batch, L, H, P)
//   dt            (batch, L, H)
//   A             (H)
//   B, C          (batch, L, G, N), H % G == 0
//   D, dt_bias    undefined or (H)
//   z             undefined or (batch, L, H, P)
//   initial_state undefined or (batch, H, P, N)
//   returns       out (batch, L, H, P), dtype of x; final_state (batch, H, P, N) or undefined
//                 when !return_final_state
// Every tensor shares the dtype and device of x; any strides; float32 and float64.
// chunk_size (>= 1) sets the chunk length of the chunked algorithm; results do not depend on it
// beyond rounding. Any L (no divisibility requirement).
//
// Algorithms. CPU: the recurrence, through strand::selective_scan on the (batch, H*P, L) view
// (A broadcast over the state, dt over the head channels), so it shares that kernel's memory
// bound and its backward. Other devices: the chunked matmul form (ssd_chunked), whose GEMMs run
// on tensor cores on GPUs. Both are differentiable with respect to every tensor argument.
// Failures (c10::Error): wrong ranks or sizes (naming the argument), H not divisible by G, dtype
// or device mismatch, chunk_size < 1.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace strand {

/// The SSD scan (see above); differentiable.
std::tuple<at::Tensor, at::Tensor> ssd_scan(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                            const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                            const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                            const at::Tensor& initial_state, bool return_final_state,
                                            int64_t chunk_size = 256);

/// The chunked matmul algorithm (intra-chunk quadratic form, chunk states, inter-chunk state
/// passing, off-diagonal term) written with ATen ops; any device and floating dtype,
/// differentiable by ATen autograd. L is padded to a multiple of chunk_size internally.
std::tuple<at::Tensor, at::Tensor> ssd_chunked(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                               const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                               const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                               const at::Tensor& initial_state, bool return_final_state,
                                               int64_t chunk_size);

/// Plain reference: the recurrence above in loops with double accumulation, CPU, any floating
/// dtype; results in the dtype of x. Not differentiable.
std::tuple<at::Tensor, at::Tensor> ssd_reference(const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                                                 const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                                 const at::Tensor& z, const at::Tensor& dt_bias, bool dt_softplus,
                                                 const at::Tensor& initial_state, bool return_final_state);

}  // namespace strand
