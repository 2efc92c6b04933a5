// strand::mlstm — the matrix-memory LSTM cell of xLSTM (Beck et al. 2024, arXiv:2405.04517), in
// the stabilised form every implementation runs (shared reference: xlstm.md §1.2-1.4), with the
// query scaled by 1/sqrt(d_qk) as mlstm_kernels and Hugging Face xLSTM do (§1.6), so their states
// are interchangeable with ours.
//
// Per batch b and head h, over time t, with s = 1/sqrt(d_qk) and state (C, n, m) (zero at the start
// unless an initial state is given):
//   log f_t = logsigmoid(f_t),  m_t = max(log f_t + m_{t-1}, i_t)
//   C_t = exp(log f_t + m_{t-1} - m_t) C_{t-1} + exp(i_t - m_t) k_t v_t^T      (d_qk x d_v)
//   n_t = exp(log f_t + m_{t-1} - m_t) n_{t-1} + exp(i_t - m_t) k_t             (d_qk)
//   h_t = (s q_t)^T C_t / (max(|s q_t . n_t|, exp(-m_t)) + eps),  eps = 1e-6
//
//   q, k          (batch, heads, S, d_qk)
//   v             (batch, heads, S, d_v)
//   i, f          (batch, heads, S)   input and forget gate pre-activations
//   C0, n0, m0    undefined, or the state (batch, heads, d_qk, d_v), (batch, heads, d_qk), (batch, heads)
//   returns       h (batch, heads, S, d_v) and, when return_last_state, the last (C, n, m)
// All tensors share a floating dtype and device; gate and state arithmetic runs in at least
// float32. S >= 1; any S (no divisibility requirement).
//
// Forms (equal up to rounding):
//   mlstm_reference   the recurrence in loops, accumulated in double, CPU; not differentiable.
//   mlstm_parallel    the quadratic form (§1.3): decay matrix D from cumulative log forget gates,
//                     row-wise max stabiliser; no initial state; ATen ops, differentiable.
//   mlstm_chunkwise   the chunkwise-parallel form (§1.4): states carried between chunks of
//                     chunk_size steps (the last chunk may be shorter), the quadratic form inside
//                     each chunk with segment sums of log forget gates; ATen ops, differentiable.
//   mlstm_step        one time step of the recurrence, for generation; ATen ops, differentiable.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <tuple>

namespace strand {

struct MlstmState {
  at::Tensor C;  ///< (batch, heads, d_qk, d_v)
  at::Tensor n;  ///< (batch, heads, d_qk)
  at::Tensor m;  ///< (batch, heads)
};

constexpr double kMlstmEps = 1e-6;

at::Tensor mlstm_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                           const at::Tensor& f, const MlstmState& initial = {}, MlstmState* last = nullptr);

at::Tensor mlstm_parallel(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                          const at::Tensor& f);

at::Tensor mlstm_chunkwise(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                           const at::Tensor& f, const MlstmState& initial = {}, MlstmState* last = nullptr,
                           int64_t chunk_size = 64);

/// One step: q, k (batch, heads, d_qk), v (batch, heads, d_v), i, f (batch, heads); `state`
/// (zero when its tensors are undefined) is replaced by the new state. Returns h (batch, heads, d_v).
at::Tensor mlstm_step(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& i,
                      const at::Tensor& f, MlstmState& state);

}  // namespace strand
