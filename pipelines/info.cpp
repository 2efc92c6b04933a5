#include "pipelines/info.h"

#include <H5public.h>
#include <htslib/hts.h>

#include <sstream>

#include "chem/smiles.h"
#include "kernels/common/device.h"
#include "libseq/core/parallel.h"
#include "libseq/core/system_info.h"
#include "libseq/core/version.h"

namespace strand::pipelines {

nlohmann::json collect_info(const InfoOptions& options) {
  nlohmann::json j;
  j["version"] = strand::version();
  j["git_hash"] = strand::git_hash();
  j["libtorch"] = strand::torch_version();
  const auto blas = strand::blas_info();
  j["blas"] = {{"vendor", blas.vendor},
               {"library", blas.library},
               {"config", blas.config},
               {"threading", blas.threading},
               {"optimized", blas.optimized},
               {"core", blas.core},
               {"coretype_hint", blas.coretype_hint}};
  if (options.measure_matmul) j["blas"]["matmul_512_gflops"] = strand::matmul_gflops(512);
  j["cuda"] = strand::kernels::cuda_summary();
  j["cuda_devices"] = strand::kernels::cuda_device_count();
  j["threads"] = strand::num_threads();
  j["hardware_threads"] = strand::hardware_threads();
  j["htslib"] = hts_version();
  j["rdkit"] = strand::chem::rdkit_version();
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  j["hdf5"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
  return j;
}

std::string format_info(const nlohmann::json& j) {
  std::ostringstream os;
  os << "strand " << j["version"].get<std::string>() << " (git " << j["git_hash"].get<std::string>() << ")\n";
  os << "LibTorch: " << j["libtorch"].get<std::string>() << "\n";
  const auto& b = j["blas"];
  os << "BLAS: " << b["vendor"].get<std::string>();
  if (!b["threading"].get<std::string>().empty()) os << " (" << b["threading"].get<std::string>() << ")";
  if (!b["library"].get<std::string>().empty()) os << " " << b["library"].get<std::string>();
  os << "\n";
  if (!b["config"].get<std::string>().empty()) os << "BLAS config: " << b["config"].get<std::string>() << "\n";
  if (!b["core"].get<std::string>().empty()) {
    os << "BLAS kernels: " << b["core"].get<std::string>();
    const auto hint = b["coretype_hint"].get<std::string>();
    if (!hint.empty())
      os << "  (WARNING: older than this CPU's vector units; without STRAND_KEEP_BLAS_CORE strand sets "
         << "OPENBLAS_CORETYPE=" << hint << ", several times faster matrix products)";
    os << "\n";
  }
  if (b.contains("matmul_512_gflops")) {
    os << "BLAS check: 512x512 fp32 matmul " << static_cast<int>(b["matmul_512_gflops"].get<double>() + 0.5)
       << " GFLOP/s" << (b["optimized"].get<bool>() ? "" : "  (WARNING: reference BLAS, matmul ~30x slower; "
                                                          "apt-get install libopenblas0-pthread)")
       << "\n";
  }
  os << "CUDA: " << j["cuda"].get<std::string>() << "\n";
  os << "threads: " << j["threads"].get<int>() << " (hardware " << j["hardware_threads"].get<int>() << ")\n";
  os << "HTSlib: " << j["htslib"].get<std::string>() << "\n";
  os << "RDKit: " << j["rdkit"].get<std::string>() << "\n";
  os << "HDF5: " << j["hdf5"].get<std::string>() << "\n";
  return os.str();
}

}  // namespace strand::pipelines
