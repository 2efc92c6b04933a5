// Argument checks shared by the files of kernels/ssd (host side, LibTorch allowed). Not a public API.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>

namespace strand::kernels {

struct SsdShape {
  int64_t batch, len, heads, head_dim, groups, state;  // b, L, H, P, G, N
};

/// Checks ranks, sizes, dtypes and devices of the ssd_scan arguments (see kernels/ssd/ssd.h) and
/// returns the sizes. `op` names the caller in messages.
inline SsdShape check_ssd_args(const char* op, const at::Tensor& x, const at::Tensor& dt, const at::Tensor& A,
                               const at::Tensor& B, const at::Tensor& C, const at::Tensor& D, const at::Tensor& z,
                               const at::Tensor& dt_bias, const at::Tensor& initial_state) {
  TORCH_CHECK(x.defined() && dt.defined() && A.defined() && B.defined() && C.defined(), op,
              ": x, dt, A, B and C must be defined tensors");
  TORCH_CHECK(x.dim() == 4, op, ": x must be (batch, L, H, P), got ", x.sizes());
  TORCH_CHECK(at::isFloatingType(x.scalar_type()), op, ": x must be a floating-point tensor, got ", x.scalar_type());
  SsdShape s{x.size(0), x.size(1), x.size(2), x.size(3), 0, 0};
  TORCH_CHECK(dt.dim() == 3 && dt.size(0) == s.batch && dt.size(1) == s.len && dt.size(2) == s.heads, op,
              ": dt must be (batch, L, H) = (", s.batch, ", ", s.len, ", ", s.heads, "), got ", dt.sizes());
  TORCH_CHECK(A.dim() == 1 && A.size(0) == s.heads, op, ": A must be (H) = (", s.heads, "), got ", A.sizes());
  TORCH_CHECK(B.dim() == 4 && B.size(0) == s.batch && B.size(1) == s.len, op, ": B must be (batch, L, G, N) = (",
              s.batch, ", ", s.len, ", G, N), got ", B.sizes());
  s.groups = B.size(2);
  s.state = B.size(3);
  TORCH_CHECK(s.groups >= 1 && s.heads % s.groups == 0, op, ": the number of heads H = ", s.heads,
              " must be a multiple of the number of groups G = ", s.groups, " (B ", B.sizes(), ")");
  TORCH_CHECK(C.sizes() == B.sizes(), op, ": C must be (batch, L, G, N) like B ", B.sizes(), ", got ", C.sizes());
  const auto check_head_vector = [&](const at::Tensor& t, const char* what) {
    if (t.defined()) {
      TORCH_CHECK(t.dim() == 1 && t.size(0) == s.heads, op, ": ", what, " must be (H) = (", s.heads, "), got ",
                  t.sizes());
    }
  };
  check_head_vector(D, "D");
  check_head_vector(dt_bias, "dt_bias");
  if (z.defined()) {
    TORCH_CHECK(z.sizes() == x.sizes(), op, ": z must be (batch, L, H, P) like x ", x.sizes(), ", got ", z.sizes());
  }
  if (initial_state.defined()) {
    TORCH_CHECK(initial_state.dim() == 4 && initial_state.size(0) == s.batch && initial_state.size(1) == s.heads &&
                    initial_state.size(2) == s.head_dim && initial_state.size(3) == s.state,
                op, ": initial_state must be (batch, H, P, N) = (", s.batch, ", ", s.heads, ", ", s.head_dim, ", ",
                s.state, "), got ", initial_state.sizes());
  }
  const std::pair<const at::Tensor*, const char*> others[] = {{&dt, "dt"},         {&A, "A"}, {&B, "B"},
                                                              {&C, "C"},           {&D, "D"}, {&z, "z"},
                                                              {&dt_bias, "dt_bias"}, {&initial_state, "initial_state"}};
  for (const auto& [t, what] : others) {
    if (!t->defined()) continue;
    TORCH_CHECK(t->scalar_type() == x.scalar_type(), op, ": ", what, " must have the dtype of x (", x.scalar_type(),
                "), got ", t->scalar_type());
    TORCH_CHECK(t->device() == x.device(), op, ": ", what, " is on ", t->device(), " but x is on ", x.device());
  }
  return s;
}

}  // namespace strand::kernels
