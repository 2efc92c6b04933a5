#include "libseq/core/system_info.h"

#include <dlfcn.h>
#include <link.h>

#include <ATen/ATen.h>

#include "kernels/common/torch_compat.h"

#include <cctype>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

namespace strand {
namespace {

std::vector<std::string> loaded_libraries() {
  std::vector<std::string> out;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        if (info->dlpi_name != nullptr && info->dlpi_name[0] != '\0')
          static_cast<std::vector<std::string>*>(data)->emplace_back(info->dlpi_name);
        return 0;
      },
      &out);
  return out;
}

std::string resolve(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : path;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

std::string torch_version() { return compat::torch_header_version(); }

std::string openblas_coretype_hint(const std::string& core, kernels::CpuIsa isa) {
  std::string c;
  for (const char ch : core) c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  static const char* const kPreAvx2[] = {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                                         "sandybridge", "katmai", "coppermine", "northwood", "banias"};
  bool old = false;
  for (const char* name : kPreAvx2) old = old || c == name;
  if (!old) return "";
  if (isa == kernels::CpuIsa::kAvx512) return "SkylakeX";
  if (isa == kernels::CpuIsa::kAvx2) return "Haswell";
  return "";
}

std::string openblas_core() {
  using name_fn = char* (*)();
  const auto fn = reinterpret_cast<name_fn>(::dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  return fn != nullptr ? std::string(fn()) : std::string();
}

std::string openblas_coretype_hint() {
  return std::getenv("OPENBLAS_CORETYPE") != nullptr ? std::string()
                                                      : openblas_coretype_hint(openblas_core(), kernels::cpu_isa());
}

BlasInfo blas_info() {
  BlasInfo info;
  for (const auto& lib : loaded_libraries()) {
    const std::string real = resolve(lib);
    if (contains(real, "libblas.so") || contains(real, "libopenblas") || contains(real, "libmkl_rt")) {
      if (info.library.empty() || contains(real, "libblas.so")) info.library = real;
    }
  }
  using config_fn = char* (*)();
  if (auto fn = reinterpret_cast<config_fn>(::dlsym(RTLD_DEFAULT, "openblas_get_config"))) {
    info.vendor = "OpenBLAS";
    info.config = fn();
    info.optimized = true;
    info.core = openblas_core();
    info.coretype_hint = openblas_coretype_hint();
    using parallel_fn = int (*)();
    if (auto par = reinterpret_cast<parallel_fn>(::dlsym(RTLD_DEFAULT, "openblas_get_parallel"))) {
      const int p = par();
      info.threading = p == 1 ? "pthread" : p == 2 ? "openmp" : "serial";
    }
  } else if (::dlsym(RTLD_DEFAULT, "mkl_get_version") != nullptr) {
    info.vendor = "MKL";
    info.optimized = true;
  } else if (contains(info.library, "/blas/libblas.so")) {
    info.vendor = "reference BLAS";
  } else {
    info.vendor = "unknown";
  }
  // Debian's alternatives can point libblas.so.3 at the reference implementation even when
  // libopenblas is loaded for LAPACK: the resolved libblas path decides which one sgemm uses.
  if (contains(info.library, "/blas/libblas.so")) {
    info.vendor = "reference BLAS";
    info.optimized = false;
  }
  return info;
}

double matmul_gflops(int n) {
  const auto a = at::rand({n, n});
  const auto b = at::rand({n, n});
  at::mm(a, b);  // warm-up: thread pool start, BLAS initialisation
  int reps = 0;
  const auto start = std::chrono::steady_clock::now();
  double seconds = 0;
  do {
    at::mm(a, b);
    ++reps;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (seconds < 0.2);
  return 2.0 * n * n * static_cast<double>(n) * reps / seconds / 1e9;
}

}  // namespace strand
