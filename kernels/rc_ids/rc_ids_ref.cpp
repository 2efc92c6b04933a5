// Reference: written from the definition in rc_ids.h with scalar tensor indexing and no shared
// helpers, so that it can catch a bug in the CPU or CUDA kernels.
#include <ATen/ATen.h>

#include "kernels/rc_ids/rc_ids.h"

namespace strand::kernels {

at::Tensor reverse_complement_ids_ref(const at::Tensor& ids, const at::Tensor& complement,
                                      const compat::optional<at::Tensor>& lengths) {
  TORCH_CHECK(ids.dim() == 2, "reverse_complement_ids_ref: ids must be (batch, length)");
  const auto ids64 = ids.to(at::kLong).cpu();
  const auto comp64 = complement.to(at::kLong).cpu();
  auto out = ids64.clone();
  const int64_t batch = ids64.size(0);
  const int64_t length = ids64.size(1);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t n = lengths.has_value() ? lengths->cpu()[b].item<int64_t>() : length;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t source = ids64[b][n - 1 - i].item<int64_t>();
      out[b][i] = comp64[source].item<int64_t>();
    }
  }
  return out.to(ids.scalar_type());
}

}  // namespace strand::kernels
