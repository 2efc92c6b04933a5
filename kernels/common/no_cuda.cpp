// Builds without strand's CUDA kernels register this throwing implementation for the CUDA
// dispatch key of every strand op, so a CUDA tensor reaching an op gets a clear message
// instead of the dispatcher's generic "could not run ... with arguments from the CUDA backend".
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "kernels/common/device.h"

namespace {

void throw_no_cuda(const c10::OperatorHandle& op, torch::jit::Stack*) {
  TORCH_CHECK_NOT_IMPLEMENTED(false, op.schema().name(),
                              " has no CUDA implementation in this build (strand was built without CUDA kernels; "
                              "rebuild with -DSTRAND_CUDA=ON against a LibTorch with CUDA)");
}

}  // namespace

TORCH_LIBRARY_IMPL(strand, CUDA, m) {
  for (const char* const* name = strand::kernels::op_names(); *name != nullptr; ++name) {
    const std::string op(*name);
    m.impl(op.substr(op.find("::") + 2).c_str(), torch::CppFunction::makeFromBoxedFunction<&throw_no_cuda>());
  }
}
