// What this build and this machine can run: CUDA kernels compiled in, devices visible.
#pragma once

#include <string>

namespace strand::kernels {

/// True when strand's CUDA kernels were compiled into this build (STRAND_CUDA resolved ON).
bool built_with_cuda();

/// Number of CUDA devices LibTorch can use (0 in CPU builds or without a GPU).
int cuda_device_count();

/// One-line description: "CUDA kernels: yes (2 devices: NVIDIA H200, ...)" or "CUDA kernels: no (CPU build)".
std::string cuda_summary();

/// x86-64 instruction sets the CPU kernels have code paths for (other machines: kBaseline).
enum class CpuIsa { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

/// The widest of them this CPU and OS support (AVX2 with FMA; AVX-512 F, VL, BW and DQ).
CpuIsa cpu_isa();

/// "baseline", "AVX2" or "AVX-512".
const char* cpu_isa_name(CpuIsa isa);

/// Names of all ops registered under the `strand` namespace by this library.
const char* const* op_names();

}  // namespace strand::kernels
