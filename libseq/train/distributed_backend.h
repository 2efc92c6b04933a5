// Internal to libseq/train/distributed.cpp: the c10d backends. Which file defines each factory is
// decided by CMake (libseq/train/distributed.cmake): distributed_gloo.cpp when the gloo headers
// exist, else distributed_nogloo.cpp; distributed_nccl.cpp in CUDA builds with nccl.h, else
// distributed_nonccl.cpp. The stand-ins throw UnsupportedError.
#pragma once

#include <c10/util/intrusive_ptr.h>

#include <chrono>
#include <optional>
#include <string>

#include "kernels/common/torch_compat.h"

namespace c10d {
class Store;
}  // namespace c10d

namespace strand::train::detail {

struct BackendRequest {
  const c10::intrusive_ptr<c10d::Store>* store = nullptr;  ///< the group's (prefixed) store; not null
  int rank = 0;
  int world_size = 1;
  std::optional<int> local_rank;
  std::string master_addr;             ///< Gloo binds the loopback interface when this is a loopback address
  std::string gloo_interfaces;         ///< GLOO_SOCKET_IFNAME: comma-separated interface names, or ""
  std::chrono::milliseconds timeout{};
};

/// ProcessGroupGloo over the request's store. Throws UnsupportedError when not built.
c10::intrusive_ptr<compat::C10dBackend> make_gloo_backend(const BackendRequest& request);

/// ProcessGroupNCCL over the request's store, after making CUDA device local_rank current.
/// Throws ConfigError without a local rank or when it exceeds the visible devices,
/// UnsupportedError when not built.
c10::intrusive_ptr<compat::C10dBackend> make_nccl_backend(const BackendRequest& request);

}  // namespace strand::train::detail
