// The one place where LibTorch version differences live (kernels/ is the lowest layer, so every
// module can include it). Strand builds against Debian's
// LibTorch 1.13 (CPU) and LibTorch 2.x (GPU builds); code elsewhere uses these names only.
#pragma once

#include <c10/util/Optional.h>
#include <torch/version.h>

#define STRAND_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace strand::compat {

// LibTorch 2.4 made c10::optional an alias of std::optional; 1.13 has its own class. Both accept
// these spellings.
template <typename T>
using optional = c10::optional<T>;
inline constexpr auto nullopt = c10::nullopt;

/// "major.minor.patch" of the LibTorch headers this translation unit was compiled against.
inline const char* torch_header_version() {
#define STRAND_STR2(x) #x
#define STRAND_STR(x) STRAND_STR2(x)
  return STRAND_STR(TORCH_VERSION_MAJOR) "." STRAND_STR(TORCH_VERSION_MINOR) "." STRAND_STR(TORCH_VERSION_PATCH);
#undef STRAND_STR
#undef STRAND_STR2
}

}  // namespace strand::compat
