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

CpuIsa cpu_isa() {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  static const CpuIsa isa = [] {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq"))
      return CpuIsa::kAvx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return CpuIsa::kAvx2;
    return CpuIsa::kBaseline;
  }();
  return isa;
#else
  return CpuIsa::kBaseline;
#endif
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return "AVX-512";
    case CpuIsa::kAvx2: return "AVX2";
    case CpuIsa::kBaseline: break;
  }
  return "baseline";
}

int cuda_device_count() { return built_with_cuda() && torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

}  // namespace strand::kernels
