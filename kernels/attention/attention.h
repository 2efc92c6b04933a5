// strand::attention — scaled dot-product attention computed blockwise with an online softmax
// (FlashAttention: Dao et al. 2022, arXiv:2205.14135; backward as in FlashAttention-2, Dao 2023,
// arXiv:2307.08691), so memory stays O(batch * heads * length * head_dim): the (Lq, Lk) score
// matrix is never stored.
//
//   out[b,h,i,:] = sum_j p[b,h,i,j] v[b,h,j,:],   p[b,h,i,:] = softmax_j(scale * q[b,h,i,:] . k[b,h,j,:] + mask)
//
// where key j is visible to query i when
//   key_padding_mask is undefined or key_padding_mask[b, j] is true (true = real token), and
//   causal is false, or j <= q_offset + i (query i sits at absolute position q_offset + i).
// q_offset serves KV-cache decoding: Lq new queries attend to Lk = q_offset + Lq cached keys
// (any q_offset >= 0 is accepted; it has no effect when causal is false). A query row that sees
// no key at all (every visible key padded, or Lk = 0) outputs zeros and passes zero gradients,
// never NaN.
//
//   q                 (batch, heads, Lq, head_dim)
//   k, v              (batch, heads, Lk, head_dim), same dtype and device as q
//   key_padding_mask  undefined, or (batch, Lk) bool on the same device
//   scale             finite multiplier of the scores, usually head_dim^-1/2
//   q_offset          >= 0
//   returns           (batch, heads, Lq, head_dim), dtype of q, contiguous
// Any strides are accepted (inputs are made contiguous inside). Dtypes: float32 and float64 on
// CPU and CUDA; float16 and bfloat16 are rejected with an error on both.
//
// Devices and autograd. CPU: blocked kernel for forward and backward; the forward keeps each
// row's logsumexp and the backward recomputes probabilities block by block from it, so training
// also needs O(length) memory. CUDA (builds with STRAND_CUDA): blocked forward kernel, head_dim
// <= 128; its backward recomputes the probabilities materialised with ATen ops, O(Lq * Lk)
// memory, like attention_naive. In builds without CUDA kernels a CUDA input throws
// "strand::attention has no CUDA implementation in this build". Other devices run
// attention_naive. Gradients flow to q, k and v (not to the mask); second derivatives
// (create_graph) are rejected with an error.
//
// Failures (c10::Error): wrong ranks, mismatched batch/heads/lengths/head_dim, dtype or device
// mismatch, a mask that is not (batch, Lk) bool, q_offset < 0, non-finite scale, a dtype the
// device does not support. Thread-safe: no shared mutable state; uses LibTorch's intra-op
// thread pool (at::parallel_for) on CPU.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace strand {

/// Blocked online-softmax attention (see above); differentiable with respect to q, k and v.
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& key_padding_mask,
                     bool causal, double scale, int64_t q_offset = 0);

/// Plain reference: loops written from the definition above, accumulated in double, CPU tensors
/// of any floating dtype; returns the dtype of q. Slow (O(Lq * Lk * head_dim) scalar work), for
/// tests. Not differentiable.
at::Tensor attention_reference(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const at::Tensor& key_padding_mask, bool causal, double scale, int64_t q_offset = 0);

/// Materialised attention with ATen ops (matmul, masked softmax, matmul) on any device and any
/// floating dtype, differentiable by ATen autograd (including second derivatives). Needs
/// O(Lq * Lk) memory per (batch, head). The baseline of bench/bench_attention and the path for
/// devices without a strand kernel. Same arguments, shape checks and results as attention().
at::Tensor attention_naive(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                           const at::Tensor& key_padding_mask, bool causal, double scale, int64_t q_offset = 0);

}  // namespace strand
