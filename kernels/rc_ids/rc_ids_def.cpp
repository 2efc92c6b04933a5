#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "kernels/rc_ids/rc_ids.h"

TORCH_LIBRARY_FRAGMENT(strand, m) {
  m.def("reverse_complement_ids(Tensor ids, Tensor complement, Tensor? lengths=None) -> Tensor");
}

namespace strand::kernels {

at::Tensor reverse_complement_ids(const at::Tensor& ids, const at::Tensor& complement,
                                  const compat::optional<at::Tensor>& lengths) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("strand::reverse_complement_ids", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const compat::optional<at::Tensor>&)>();
  return op.call(ids, complement, lengths);
}

}  // namespace strand::kernels
