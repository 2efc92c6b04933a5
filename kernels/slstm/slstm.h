// strand::slstm — the scalar-memory LSTM cell of xLSTM with memory mixing (Beck et al. 2024,
// arXiv:2405.04517), with the semantics of the xlstm package's CUDA kernel (shared reference:
// xlstm.md §2.1), so that checkpoints trained with it behave the same here.
//
// Per batch b, head n, hidden unit d of the head and time t, the gate pre-activations (order i, f,
// z, o) are the precomputed input projections plus the block-diagonal recurrence and the bias:
//   g~[g,n,d] = wx[b,t,g,n,d] + sum_j h_{t-1}[n,j] R[n,j,g,d] + bias[g,n,d]
// and, elementwise,
//   m_t = i~ if n_{t-1} == 0 (the very first step), else max(logsigmoid(f~) + m_{t-1}, i~)
//   i'  = min(1, exp(i~ - m_t)),  f' = min(1, exp(logsigmoid(f~) + m_{t-1} - m_t))
//   c_t = f' c_{t-1} + i' tanh(z~),  n_t = f' n_{t-1} + i',  h_t = sigmoid(o~) c_t / n_t
//
//   wx       (batch, T, 4, heads, head_dim)   input projections, gate order i, f, z, o
//   R        (heads, head_dim, 4, head_dim)   recurrent kernel (input unit j, gate, output unit d)
//   bias     (4, heads, head_dim)
//   state    h, c, n, m, each (batch, heads, head_dim); zero when undefined
//   returns  h (batch, T, heads, head_dim); `last` (when given) receives the final state
// All tensors share a floating dtype and device; arithmetic in at least float32. T >= 1.
//
// Forms: slstm_reference (loops in double, CPU, not differentiable) and slstm_forward (ATen ops,
// one batched matmul per time step, differentiable by ATen autograd).
#pragma once

#include <ATen/core/Tensor.h>

namespace strand {

struct SlstmState {
  at::Tensor h, c, n, m;  ///< each (batch, heads, head_dim)
};

at::Tensor slstm_reference(const at::Tensor& wx, const at::Tensor& R, const at::Tensor& bias,
                           const SlstmState& initial = {}, SlstmState* last = nullptr);

at::Tensor slstm_forward(const at::Tensor& wx, const at::Tensor& R, const at::Tensor& bias,
                         const SlstmState& initial = {}, SlstmState* last = nullptr);

}  // namespace strand
