// The one place where LibTorch version differences live (kernels/ is the lowest layer, so every
// module can include it). Strand builds against Debian's
// LibTorch 1.13 (CPU) and LibTorch 2.x (GPU builds); code elsewhere uses these names only.
#pragma once

#include <c10/util/Optional.h>
#include <torch/version.h>

#define STRAND_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

// c10d (torch.distributed's C++ core): LibTorch 2.0 split the collective implementations (Gloo,
// NCCL) out of c10d::ProcessGroup into c10d::Backend; 1.13's ProcessGroupGloo/ProcessGroupNCCL
// derive from ProcessGroup itself. Both bases have the same collective methods (allreduce,
// broadcast, barrier with their *Options structs) and both return c10::intrusive_ptr<c10d::Work>.
namespace c10d {
class ProcessGroup;
class Backend;
}  // namespace c10d

namespace strand::compat {

#if STRAND_TORCH_AT_LEAST(2, 0)
using C10dBackend = ::c10d::Backend;
#else
using C10dBackend = ::c10d::ProcessGroup;
#endif

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
