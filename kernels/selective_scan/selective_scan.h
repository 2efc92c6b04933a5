// strand::selective_scan — the selective state-space scan of Mamba-1 (Gu & Dao 2023,
// arXiv:2312.00752, §3 and Algorithm 2; semantics of selective_scan_ref in state-spaces/mamba).
//
// For batch b, channel c (group g = c / (dim / G)), state index n and time t:
//   dt[b,c,t]  = delta[b,c,t] + delta_bias[c]                 (delta_bias optional)
//   dt         = softplus(dt) if delta_softplus               (softplus(x) = x for x > 20)
//   h[b,c,n,t] = exp(dt[b,c,t] * A[c,n]) * h[b,c,n,t-1] + dt[b,c,t] * B[b,g,n,t] * u[b,c,t]
//   h[b,c,n,-1] = initial_state[b,c,n]                        (zero when undefined)
//   y[b,c,t]   = sum_n C[b,g,n,t] * h[b,c,n,t] + D[c] * u[b,c,t]      (D optional)
//   out        = y * silu(z)                                  (z optional)
//   last_state = h[:, :, :, L-1]
//
//   u, delta        (batch, dim, L)
//   A               (dim, N)                real
//   B, C            (batch, N, L) (one group shared by every channel) or (batch, G, N, L) with
//                   dim % G == 0
//   D, delta_bias   undefined or (dim)
//   z               undefined or (batch, dim, L)
//   initial_state   undefined or (batch, dim, N)
//   returns         out (batch, dim, L) in the dtype of u; last_state (batch, dim, N) in the
//                   compute dtype (float32 for float32 inputs, float64 for float64), or an
//                   undefined tensor when !return_last_state.
// Every tensor shares the dtype and device of u. Any strides are accepted. Dtypes: float32 and
// float64 (the scan accumulates in the input precision; float32 state and sums as in the
// reference CUDA kernel). L = 0 returns empty outputs and last_state = initial_state (or zeros).
//
// Autograd: gradients flow to u, delta, A, B, C, D, z, delta_bias and initial_state, and the
// gradient of last_state is propagated (unlike mamba_ssm). The forward saves the state at chunk
// boundaries only; the backward recomputes the states inside each chunk, so training memory is
// O(batch * dim * (L + N * L / chunk)), never O(batch * dim * N * L). Second derivatives are
// rejected with an error. Gradients of B and C (shared across channels) are reduced in a fixed
// order on CPU: results are deterministic for a given thread count and shape. The CUDA backward
// adds them with atomicAdd, so their last bits may differ between runs.
//
// Devices: CPU (sequential recurrence per (batch, channel) row with the N-vector state in
// registers, parallel over rows), CUDA in builds with STRAND_CUDA (one thread block per row with
// a thread per state index, N <= 256; recompute in the backward). In builds without CUDA kernels
// a CUDA input throws "strand::selective_scan has no CUDA implementation in this build". Other
// devices run selective_scan_aten.
//
// Failures (c10::Error): wrong ranks or sizes (messages name the argument and the expected
// shape), dim not divisible by G, dtype or device mismatch, an unsupported dtype, N > 256 on CUDA.
// Thread-safe: no shared mutable state; uses LibTorch's intra-op pool (at::parallel_for).
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

namespace strand {

/// The selective scan (see above); differentiable. Undefined tensors mean "absent".
std::tuple<at::Tensor, at::Tensor> selective_scan(const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A,
                                                  const at::Tensor& B, const at::Tensor& C, const at::Tensor& D,
                                                  const at::Tensor& z, const at::Tensor& delta_bias,
                                                  bool delta_softplus, const at::Tensor& initial_state,
                                                  bool return_last_state);

/// Plain reference: loops over (b, c, n, t) written from the equations above, accumulated in
/// double, CPU tensors of any floating dtype; results in the dtype of u (last_state likewise).
/// Slow; for tests. Not differentiable.
std::tuple<at::Tensor, at::Tensor> selective_scan_reference(const at::Tensor& u, const at::Tensor& delta,
                                                            const at::Tensor& A, const at::Tensor& B,
                                                            const at::Tensor& C, const at::Tensor& D,
                                                            const at::Tensor& z, const at::Tensor& delta_bias,
                                                            bool delta_softplus, const at::Tensor& initial_state,
                                                            bool return_last_state);

/// The framework-level formulation, as mamba_ssm's selective_scan_ref writes it: materialises
/// exp(delta * A) and delta * B * u as (batch, dim, L, N) tensors and loops over time with ATen
/// ops; any device, any floating dtype, differentiable by ATen autograd. O(batch * dim * L * N)
/// memory. The baseline of bench/bench_selective_scan and the path for devices without a kernel.
std::tuple<at::Tensor, at::Tensor> selective_scan_aten(const at::Tensor& u, const at::Tensor& delta,
                                                       const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                                                       const at::Tensor& D, const at::Tensor& z,
                                                       const at::Tensor& delta_bias, bool delta_softplus,
                                                       const at::Tensor& initial_state, bool return_last_state);

}  // namespace strand
