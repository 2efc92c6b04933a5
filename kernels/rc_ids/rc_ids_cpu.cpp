#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "kernels/rc_ids/rc_ids.h"
#include "kernels/rc_ids/rc_ids_check.h"

namespace strand::kernels {
namespace {

template <typename Index>
void rc_rows(const at::Tensor& ids, const at::Tensor& complement, const int64_t* lengths, at::Tensor& out) {
  const Index* in = ids.data_ptr<Index>();
  const Index* comp = complement.data_ptr<Index>();
  Index* dst = out.data_ptr<Index>();
  const int64_t length = ids.size(1);
  const int64_t vocab = complement.size(0);
  const int64_t sb = ids.stride(0);
  const int64_t sl = ids.stride(1);
  at::parallel_for(0, ids.size(0), 16, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const int64_t n = lengths != nullptr ? lengths[b] : length;
      const Index* row = in + b * sb;
      Index* o = dst + b * length;
      for (int64_t i = 0; i < length; ++i) {
        const int64_t source = i < n ? n - 1 - i : i;
        const Index id = row[source * sl];
        TORCH_CHECK(id >= 0 && id < vocab, "reverse_complement_ids: id ", id, " at row ", b, " position ", source,
                    " is outside the complement map [0, ", vocab, ")");
        o[i] = i < n ? comp[id] : id;
      }
    }
  });
}

at::Tensor reverse_complement_ids_cpu(const at::Tensor& ids, const at::Tensor& complement,
                                      const compat::optional<at::Tensor>& lengths) {
  check_rc_ids_args(ids, complement, lengths);
  const auto comp = complement.contiguous();
  at::Tensor lens;
  if (lengths.has_value()) lens = lengths->contiguous();
  const int64_t* lens_ptr = lengths.has_value() ? lens.data_ptr<int64_t>() : nullptr;
  auto out = at::empty(ids.sizes(), ids.options().memory_format(at::MemoryFormat::Contiguous));
  if (ids.scalar_type() == at::kInt) {
    rc_rows<int32_t>(ids, comp, lens_ptr, out);
  } else {
    rc_rows<int64_t>(ids, comp, lens_ptr, out);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CPU, m) { m.impl("reverse_complement_ids", &reverse_complement_ids_cpu); }

}  // namespace strand::kernels
