#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "pipelines/info.h"

namespace strand::apps {

int cmd_info(int argc, char** argv) {
  CommonOptions common;
  po::options_description opts("info options");
  bool json = false;
  bool no_bench = false;
  opts.add_options()("json", po::bool_switch(&json), "print JSON instead of text")(
      "no-bench", po::bool_switch(&no_bench), "skip the matmul throughput check");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand info [options]",
                     "Prints the strand version and git hash, the LibTorch version, the BLAS library actually "
                     "loaded (with a measured matmul rate), CUDA availability, the thread count and the versions "
                     "of HTSlib, RDKit and HDF5.",
                     opts, common, vm))
    return 0;
  pipelines::InfoOptions options;
  options.measure_matmul = !no_bench;
  const auto info = pipelines::collect_info(options);
  std::cout << (json ? info.dump(2) + "\n" : pipelines::format_info(info));
  return 0;
}

}  // namespace strand::apps
