#include "kernels/common/device.h"

#include <torch/cuda.h>

namespace strand::kernels {

const char* const* op_names() {
  // Every op defined by a *_def.cpp in kernels/; null-terminated.
  static const char* const names[] = {"strand::reverse_complement_ids", "strand::attention",
                                      "strand::_attention_forward", "strand::_attention_backward",
                                      "strand::selective_scan", "strand::_selective_scan_forward",
                                      "strand::_selective_scan_backward",
                                      "strand::causal_conv1d", "strand::causal_conv1d_update",
                                      "strand::_causal_conv1d_backward", nullptr};
  return names;
}

int cuda_device_count() { return built_with_cuda() && torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

}  // namespace strand::kernels
