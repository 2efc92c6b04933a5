// libFuzzer target: arbitrary bytes opened as a safetensors file (header validation), and every
// tensor it declares loaded. strand::Error is the expected outcome for bad input; anything else
// (including a c10::Error from torch) is a bug.
#include <cstdint>
#include <string>

#include "libseq/core/error.h"
#include "libseq/io/safetensors.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const strand::fuzz::ScratchFile file(".safetensors");
  file.write(data, size);
  try {
    const auto st = strand::io::SafetensorsFile::open(file.path());
    for (const std::string& name : st.names()) {
      const auto& info = st.info(name);
      try {
        const at::Tensor t = st.tensor(name);
        if (static_cast<uint64_t>(t.numel()) * t.element_size() != info.nbytes()) std::abort();
      } catch (const strand::Error&) {
      }
    }
  } catch (const strand::Error&) {
  }
  return 0;
}
