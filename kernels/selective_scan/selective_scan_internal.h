// Pieces shared by the files of kernels/selective_scan (host side, LibTorch allowed). Not a public API.
//
// Internal ops, registered by selective_scan_def.cpp:
//   strand::_selective_scan_forward(u, delta, A, B, C, D?, z?, delta_bias?, delta_softplus,
//       initial_state?) -> (out, last_state, chunk_states)
//   strand::_selective_scan_backward(grad_out?, grad_last_state?, u, delta, A, B, C, D?, z?,
//       delta_bias?, delta_softplus, initial_state?, chunk_states)
//       -> (grad_u, grad_delta, grad_A, grad_B, grad_C, grad_D, grad_z, grad_delta_bias, grad_initial_state)
// chunk_states is (batch, dim, ceil(L / kSelectiveScanChunk), N) in the compute dtype (see
// selective_scan_params.h). The backward returns undefined gradients for absent optional inputs;
// an undefined grad_out or grad_last_state counts as zero. grad_B and grad_C have the shape of B
// and C (3-dim when B is 3-dim).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <tuple>

#include "kernels/common/torch_compat.h"

namespace strand::kernels {

/// Sizes of one selective-scan call.
struct ScanSizes {
  int64_t batch = 0, dim = 0, len = 0, dstate = 0, groups = 1;
};

/// An optional tensor as the public API spells it: undefined when absent.
inline at::Tensor tensor_or_undefined(const compat::optional<at::Tensor>& t) {
  return t.has_value() ? *t : at::Tensor();
}

/// The public API's "undefined = absent" as an optional for the dispatcher.
inline compat::optional<at::Tensor> optional_if_defined(const at::Tensor& t) {
  return t.defined() ? compat::optional<at::Tensor>(t) : compat::nullopt;
}

/// Checks ranks, sizes, dtypes and devices of selective-scan arguments (not which dtypes a
/// device supports: each implementation checks that) and returns the sizes. Undefined optional
/// tensors are absent. `op` names the caller in messages.
inline ScanSizes check_selective_scan_args(const char* op, const at::Tensor& u, const at::Tensor& delta,
                                           const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                                           const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias,
                                           const at::Tensor& initial_state) {
  TORCH_CHECK(u.defined() && delta.defined() && A.defined() && B.defined() && C.defined(), op,
              ": u, delta, A, B and C must be defined tensors");
  TORCH_CHECK(u.dim() == 3, op, ": u must be (batch, dim, L), got ", u.sizes());
  ScanSizes s;
  s.batch = u.size(0);
  s.dim = u.size(1);
  s.len = u.size(2);
  TORCH_CHECK(delta.sizes() == u.sizes(), op, ": delta must be (batch, dim, L) = ", u.sizes(), " like u, got ",
              delta.sizes());
  TORCH_CHECK(A.dim() == 2 && A.size(0) == s.dim, op, ": A must be (dim, N) with dim = ", s.dim, ", got ", A.sizes());
  s.dstate = A.size(1);
  if (B.dim() == 3) {
    TORCH_CHECK(B.size(0) == s.batch && B.size(1) == s.dstate && B.size(2) == s.len, op,
                ": B must be (batch, N, L) = (", s.batch, ", ", s.dstate, ", ", s.len,
                ") or (batch, G, N, L), got ", B.sizes());
    s.groups = 1;
  } else {
    TORCH_CHECK(B.dim() == 4 && B.size(0) == s.batch && B.size(1) >= 1 && B.size(2) == s.dstate &&
                    B.size(3) == s.len,
                op, ": B must be (batch, N, L) = (", s.batch, ", ", s.dstate, ", ", s.len,
                ") or (batch, G, N, L) = (", s.batch, ", G, ", s.dstate, ", ", s.len, ") with G >= 1, got ", B.sizes());
    s.groups = B.size(1);
    TORCH_CHECK(s.dim % s.groups == 0, op, ": dim (", s.dim, ") must be divisible by the number of groups G (",
                s.groups, ") of B ", B.sizes());
  }
  TORCH_CHECK(C.sizes() == B.sizes(), op, ": C must have the shape of B, ", B.sizes(), ", got ", C.sizes());
  if (D.defined()) {
    TORCH_CHECK(D.dim() == 1 && D.size(0) == s.dim, op, ": D must be (dim) = (", s.dim, "), got ", D.sizes());
  }
  if (z.defined()) {
    TORCH_CHECK(z.sizes() == u.sizes(), op, ": z must be (batch, dim, L) = ", u.sizes(), " like u, got ", z.sizes());
  }
  if (delta_bias.defined()) {
    TORCH_CHECK(delta_bias.dim() == 1 && delta_bias.size(0) == s.dim, op, ": delta_bias must be (dim) = (", s.dim,
                "), got ", delta_bias.sizes());
  }
  if (initial_state.defined()) {
    TORCH_CHECK(initial_state.dim() == 3 && initial_state.size(0) == s.batch && initial_state.size(1) == s.dim &&
                    initial_state.size(2) == s.dstate,
                op, ": initial_state must be (batch, dim, N) = (", s.batch, ", ", s.dim, ", ", s.dstate, "), got ",
                initial_state.sizes());
  }
  TORCH_CHECK(at::isFloatingType(u.scalar_type()), op, ": u must be a floating-point tensor, got ", u.scalar_type());
  const std::pair<const char*, const at::Tensor*> others[] = {{"delta", &delta}, {"A", &A},         {"B", &B},
                                                              {"C", &C},         {"D", &D},         {"z", &z},
                                                              {"delta_bias", &delta_bias}, {"initial_state", &initial_state}};
  for (const auto& [name, t] : others) {
    if (!t->defined()) continue;
    TORCH_CHECK(t->scalar_type() == u.scalar_type(), op, ": every tensor must share the dtype of u (",
                u.scalar_type(), "), but ", name, " is ", t->scalar_type());
    TORCH_CHECK(t->device() == u.device(), op, ": every tensor must be on the device of u (", u.device(), "), but ",
                name, " is on ", t->device());
  }
  return s;
}

/// Which CPU code path runs: chosen at run time (kAuto: AVX2 + FMA where the processor has
/// them), or forced, for tests and benchmarks. kAvx2 on a processor without AVX2 and FMA is an error.
enum class ScanCpuPath { kAuto, kPortable, kAvx2 };

/// True when this processor can run the AVX2 + FMA path.
bool selective_scan_cpu_has_avx2();

/// CPU forward (the kernel behind strand::_selective_scan_forward on CPU) on a chosen path.
/// Returns (out, last_state, chunk_states); chunk_states is undefined when !keep_chunk_states.
std::tuple<at::Tensor, at::Tensor, at::Tensor> selective_scan_forward_cpu(
    const at::Tensor& u, const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
    const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias, bool delta_softplus,
    const at::Tensor& initial_state, bool keep_chunk_states, ScanCpuPath path);

/// CPU backward (strand::_selective_scan_backward on CPU) on a chosen path; see above for the results.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor>
selective_scan_backward_cpu(const at::Tensor& grad_out, const at::Tensor& grad_last_state, const at::Tensor& u,
                            const at::Tensor& delta, const at::Tensor& A, const at::Tensor& B, const at::Tensor& C,
                            const at::Tensor& D, const at::Tensor& z, const at::Tensor& delta_bias,
                            bool delta_softplus, const at::Tensor& initial_state, const at::Tensor& chunk_states,
                            ScanCpuPath path);

}  // namespace strand::kernels
