// Facts about the running build and machine, for `strand info` and provenance records.
#pragma once

#include <string>

#include "kernels/common/device.h"

namespace strand {

/// LibTorch version of the headers strand was compiled against, e.g. "1.13.0".
std::string torch_version();

struct BlasInfo {
  std::string library;   ///< resolved path of the BLAS shared object loaded in this process ("" if none)
  std::string vendor;    ///< "OpenBLAS", "MKL", "reference BLAS" or "unknown"
  std::string config;    ///< openblas_get_config() when OpenBLAS, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  std::string threading; ///< "pthread", "openmp", "serial" or "" when unknown
  bool optimized = false; ///< false for the reference BLAS (matmul ~30x slower)
  std::string core;      ///< OpenBLAS: the kernel set it chose (openblas_get_corename), e.g. "Haswell"
  /// OpenBLAS picked kernels older than this CPU's vector units and OPENBLAS_CORETYPE is unset: the
  /// OPENBLAS_CORETYPE value that would use them ("SkylakeX", "Haswell"); "" otherwise.
  std::string coretype_hint;
};

/// The OPENBLAS_CORETYPE to suggest when OpenBLAS chose `core` on a CPU with `isa`: "SkylakeX"
/// (AVX-512) or "Haswell" (AVX2) when `core` is a pre-AVX2 kernel set (OpenBLAS falls back to
/// Prescott on CPUs its release does not know, e.g. Debian 12's 0.3.21 on Sapphire Rapids);
/// "" otherwise.
std::string openblas_coretype_hint(const std::string& core, kernels::CpuIsa isa);

/// The kernel set the OpenBLAS in this process chose (openblas_get_corename), "" without OpenBLAS.
std::string openblas_core();

/// openblas_coretype_hint for this process, "" when OPENBLAS_CORETYPE is set: one symbol lookup,
/// cheap enough for start-up.
std::string openblas_coretype_hint();

/// Inspects the BLAS actually loaded by LibTorch in this process (not the build-time setting).
BlasInfo blas_info();

/// Measured fp32 matrix-multiply throughput (GFLOP/s) for an n x n product on the current threads.
double matmul_gflops(int n);

}  // namespace strand
