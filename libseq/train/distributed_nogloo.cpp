// Stand-in when the gloo headers were not found at build time (see distributed.cmake).
#include "libseq/core/error.h"
#include "libseq/train/distributed_backend.h"

namespace strand::train::detail {

c10::intrusive_ptr<compat::C10dBackend> make_gloo_backend(const BackendRequest&) {
  throw UnsupportedError(
      "distributed training on CPU (the Gloo backend) is not in this build: the gloo headers were not found when "
      "it was configured (Debian: apt-get install libgloo-dev, then re-run cmake)");
}

}  // namespace strand::train::detail
