#include <ATen/cuda/CUDAContext.h>

#include "kernels/common/device.h"

namespace strand::kernels {

bool built_with_cuda() { return true; }

std::string cuda_summary() {
  const int n = cuda_device_count();
  if (n == 0) return "yes (built with CUDA; no GPU visible)";
  std::string out = "yes (" + std::to_string(n) + (n == 1 ? " device: " : " devices: ");
  for (int i = 0; i < n; ++i) {
    if (i > 0) out += ", ";
    out += at::cuda::getDeviceProperties(i)->name;
  }
  return out + ")";
}

}  // namespace strand::kernels
