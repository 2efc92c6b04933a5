// `strand info`: what this build is and what the machine gives it.
#pragma once

#include <nlohmann/json.hpp>

namespace strand::pipelines {

struct InfoOptions {
  bool measure_matmul = true;  ///< time a 512x512 fp32 matmul to show the BLAS is fast
};

/// Collects version, git hash, LibTorch version, BLAS (loaded library, vendor, threading, measured
/// GFLOP/s), CUDA availability, thread count, HTSlib, RDKit and HDF5 versions.
nlohmann::json collect_info(const InfoOptions& options);

/// The same as human-readable "key: value" lines.
std::string format_info(const nlohmann::json& info);

}  // namespace strand::pipelines
