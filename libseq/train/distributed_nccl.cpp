// The NCCL backend (CUDA tensors). Built in CUDA builds when nccl.h is found; CMake defines
// USE_C10D_NCCL for this file, which is what ProcessGroupNCCL.hpp is guarded by.
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "libseq/core/error.h"
#include "libseq/train/distributed_backend.h"

namespace strand::train::detail {

c10::intrusive_ptr<compat::C10dBackend> make_nccl_backend(const BackendRequest& request) {
  STRAND_ASSERT(request.store != nullptr, "make_nccl_backend: no store");
  if (!request.local_rank) {
    throw ConfigError("the NCCL backend needs each rank's local rank to choose its GPU: set LOCAL_RANK (torchrun "
                      "sets it), or launch with srun (SLURM_LOCALID) or mpirun (OMPI_COMM_WORLD_LOCAL_RANK)");
  }
  const int devices = static_cast<int>(c10::cuda::device_count());
  if (*request.local_rank >= devices) {
    throw ConfigError("local rank " + std::to_string(*request.local_rank) + " has no GPU: this node shows " +
                      std::to_string(devices) + " CUDA device(s); start at most that many ranks per node");
  }
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(*request.local_rank));
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = request.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(*request.store, request.rank, request.world_size, options);
}

}  // namespace strand::train::detail
