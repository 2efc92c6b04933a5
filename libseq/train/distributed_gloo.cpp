// The Gloo backend (CPU tensors). Built when the gloo headers exist (Debian: libgloo-dev); CMake
// defines USE_C10D_GLOO for this file, which is what ProcessGroupGloo.hpp is guarded by.
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include <sstream>

#include "libseq/core/error.h"
#include "libseq/train/distributed_backend.h"

namespace strand::train::detail {

c10::intrusive_ptr<compat::C10dBackend> make_gloo_backend(const BackendRequest& request) {
  STRAND_ASSERT(request.store != nullptr, "make_gloo_backend: no store");
  auto options = c10d::ProcessGroupGloo::Options::create(request.timeout);
  if (!request.gloo_interfaces.empty()) {
    std::stringstream names(request.gloo_interfaces);
    std::string name;
    while (std::getline(names, name, ',')) {
      if (!name.empty()) options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
    }
  }
  if (options->devices.empty()) {
    const std::string& host = request.master_addr;
    const bool loopback = host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
    // Every rank is on this machine when the store is on a loopback address: stay on loopback
    // rather than on whatever address the host name resolves to.
    options->devices.push_back(loopback ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                        : c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(*request.store, request.rank, request.world_size, options);
}

}  // namespace strand::train::detail
