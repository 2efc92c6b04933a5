// Stand-in for builds without CUDA or without nccl.h (see distributed.cmake).
#include "libseq/core/error.h"
#include "libseq/train/distributed_backend.h"

namespace strand::train::detail {

c10::intrusive_ptr<compat::C10dBackend> make_nccl_backend(const BackendRequest&) {
  throw UnsupportedError(
      "the NCCL backend has no CUDA implementation in this build (it needs a CUDA LibTorch and nccl.h at build "
      "time); train on CPU with the Gloo backend instead");
}

}  // namespace strand::train::detail
