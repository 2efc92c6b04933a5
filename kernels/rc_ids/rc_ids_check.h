// Argument checks shared by the CPU kernel and the CUDA launcher (host side, LibTorch allowed).
#pragma once

#include <ATen/ATen.h>

namespace strand::kernels {

/// Checks ranks, dtypes, devices and length bounds of reverse_complement_ids arguments.
inline void check_rc_ids_args(const at::Tensor& ids, const at::Tensor& complement,
                              const compat::optional<at::Tensor>& lengths) {
  TORCH_CHECK(ids.dim() == 2, "reverse_complement_ids: ids must be (batch, length), got ", ids.sizes());
  TORCH_CHECK(ids.scalar_type() == at::kInt || ids.scalar_type() == at::kLong,
              "reverse_complement_ids: ids must be int32 or int64, got ", ids.scalar_type());
  TORCH_CHECK(complement.dim() == 1 && complement.scalar_type() == ids.scalar_type(),
              "reverse_complement_ids: complement must be a 1-D tensor of the ids' dtype, got ", complement.sizes(), " ",
              complement.scalar_type());
  TORCH_CHECK(complement.device() == ids.device(), "reverse_complement_ids: complement is on ", complement.device(),
              " but ids are on ", ids.device());
  if (lengths.has_value()) {
    const auto& lens = *lengths;
    TORCH_CHECK(lens.dim() == 1 && lens.size(0) == ids.size(0) && lens.scalar_type() == at::kLong,
                "reverse_complement_ids: lengths must be int64 of shape (", ids.size(0), "), got ", lens.sizes(), " ",
                lens.scalar_type());
    TORCH_CHECK(lens.device() == ids.device(), "reverse_complement_ids: lengths are on ", lens.device(),
                " but ids are on ", ids.device());
    if (lens.numel() > 0) {
      TORCH_CHECK(lens.min().item<int64_t>() >= 0 && lens.max().item<int64_t>() <= ids.size(1),
                  "reverse_complement_ids: every length must lie in [0, ", ids.size(1), "]");
    }
  }
}

}  // namespace strand::kernels
