#include "kernels/common/device.h"

namespace strand::kernels {

bool built_with_cuda() { return false; }

std::string cuda_summary() { return "no (strand built without CUDA kernels)"; }

}  // namespace strand::kernels
