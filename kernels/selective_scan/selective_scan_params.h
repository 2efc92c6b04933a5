// Plain parameters of the strand::selective_scan kernels, shared by the CUDA launcher and kernels,
// and the chunk length every implementation uses for the saved states. No LibTorch types: this
// header is compiled by nvcc in CPU builds too.
//
// Chunk states: the forward keeps the state h entering each chunk of kSelectiveScanChunk time
// steps, chunk_states[b, c, k, n] = h[b, c, n, k * kSelectiveScanChunk - 1] (initial_state, or
// zero, for k = 0), shape (batch, dim, ceil(L / kSelectiveScanChunk), N) in the compute dtype.
// The backward recomputes the states inside one chunk from it.
#pragma once

#include <cstdint>

namespace strand::kernels {

/// Time steps between two saved states (forward) and per recompute (backward).
constexpr int64_t kSelectiveScanChunk = 256;

/// Largest state size N the CUDA kernels take (one thread per state index in a block).
constexpr int64_t kSelectiveScanCudaMaxState = 256;

/// Number of saved chunk states for a sequence of `len` steps.
constexpr int64_t selective_scan_chunks(int64_t len) { return (len + kSelectiveScanChunk - 1) / kSelectiveScanChunk; }

/// Inputs and outputs of one forward call. Sequence tensors are read through their strides;
/// outputs are contiguous. Optional inputs are nullptr when absent.
template <typename T>
struct SelectiveScanParams {
  int64_t batch, dim, len, dstate, groups;  // dim % groups == 0
  bool delta_softplus;

  const T* u;      // (batch, dim, len)
  const T* delta;  // (batch, dim, len)
  const T* z;      // (batch, dim, len) or nullptr
  int64_t u_stride_b, u_stride_c, u_stride_l;
  int64_t delta_stride_b, delta_stride_c, delta_stride_l;
  int64_t z_stride_b, z_stride_c, z_stride_l;
  const T* A;  // (dim, dstate)
  int64_t A_stride_c, A_stride_n;
  const T* B;  // (batch, groups, dstate, len)
  const T* C;  // (batch, groups, dstate, len)
  int64_t B_stride_b, B_stride_g, B_stride_n, B_stride_l;
  int64_t C_stride_b, C_stride_g, C_stride_n, C_stride_l;
  const T* D;              // (dim) contiguous or nullptr
  const T* delta_bias;     // (dim) contiguous or nullptr
  const T* initial_state;  // (batch, dim, dstate) contiguous or nullptr

  T* out;           // (batch, dim, len) contiguous
  T* last_state;    // (batch, dim, dstate) contiguous
  T* chunk_states;  // (batch, dim, selective_scan_chunks(len), dstate) contiguous, or nullptr (not kept)
};

/// The backward: the forward's inputs (its output pointers unused) plus incoming gradients and
/// the saved chunk states. Every gradient is contiguous; optional ones are nullptr when the
/// matching input is absent.
template <typename T>
struct SelectiveScanBackwardParams {
  SelectiveScanParams<T> fwd;
  const T* chunk_states;     // as SelectiveScanParams::chunk_states
  const T* grad_out;         // (batch, dim, len)
  const T* grad_last_state;  // (batch, dim, dstate) or nullptr (zero)

  T* grad_u;              // (batch, dim, len)
  T* grad_delta;          // (batch, dim, len)
  T* grad_z;              // (batch, dim, len) or nullptr
  T* grad_A_rows;         // (batch, dim, dstate): per-sequence terms, summed over batch by the caller
  T* grad_D_rows;         // (batch, dim) or nullptr, likewise
  T* grad_bias_rows;      // (batch, dim) or nullptr, likewise
  T* grad_B;              // (batch, groups, dstate, len), zero-filled by the caller, accumulated
  T* grad_C;              // (batch, groups, dstate, len), zero-filled by the caller, accumulated
  T* grad_initial_state;  // (batch, dim, dstate) or nullptr
};

/// Launch the CUDA kernels on `stream` (a cudaStream_t): one thread block per (batch, channel)
/// row. Arguments must already be checked (dstate <= kSelectiveScanCudaMaxState,
/// batch * dim < 2^31).
void launch_selective_scan_forward_cuda(const SelectiveScanParams<float>& p, void* stream);
void launch_selective_scan_forward_cuda(const SelectiveScanParams<double>& p, void* stream);
void launch_selective_scan_backward_cuda(const SelectiveScanBackwardParams<float>& p, void* stream);
void launch_selective_scan_backward_cuda(const SelectiveScanBackwardParams<double>& p, void* stream);

}  // namespace strand::kernels
