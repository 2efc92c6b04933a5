// strand::reverse_complement_ids — reverse complement of token-id sequences.
//
// For each row b of `ids` (batch, length), the first lengths[b] positions are reversed and every id
// is replaced by complement[id]; positions at or after lengths[b] (right padding) are copied
// unchanged. Without `lengths` every row is full length.
//
//   ids         (batch, length) int32 or int64, CPU or CUDA; any strides
//   complement  (vocab,) same dtype and device as ids; a permutation-like map of token ids
//               (e.g. Caduceus A<->T, C<->G, specials to themselves)
//   lengths     optional (batch,) int64 on the same device, 0 <= lengths[b] <= length
//   returns     (batch, length), dtype of ids, contiguous
//
// Failures (c10::Error): wrong rank or dtype, device mismatch, an id outside [0, vocab), a length
// outside [0, length]. In builds without CUDA kernels a CUDA input throws
// "strand::reverse_complement_ids has no CUDA implementation in this build".
// Thread-safe; no autograd (integer op).
#pragma once

#include <ATen/core/Tensor.h>

#include "kernels/common/torch_compat.h"

namespace strand::kernels {

at::Tensor reverse_complement_ids(const at::Tensor& ids, const at::Tensor& complement,
                                  const compat::optional<at::Tensor>& lengths = compat::nullopt);

/// Plain reference (loops straight from the definition above), CPU only, for tests.
at::Tensor reverse_complement_ids_ref(const at::Tensor& ids, const at::Tensor& complement,
                                      const compat::optional<at::Tensor>& lengths = compat::nullopt);

}  // namespace strand::kernels
