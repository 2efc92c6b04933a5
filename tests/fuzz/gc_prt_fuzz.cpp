// libFuzzer target: NCBI gc.prt text through parse_gc_prt, and every parsed table through
// GeneticCode. strand::Error is the expected outcome for bad input; anything else is a bug.
#include <cstdint>
#include <string_view>

#include "bio/genetic_code.h"
#include "libseq/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    for (auto& table : strand::bio::parse_gc_prt(text, "fuzz.prt")) {
      try {
        const strand::bio::GeneticCode code(std::move(table));
        for (const std::string_view codon : {"ATG", "TAA", "NNN", "GCN", "TAR"}) {
          code.translate(codon);
          code.is_start(codon);
          code.is_stop(codon);
        }
      } catch (const strand::Error&) {
      }
    }
  } catch (const strand::Error&) {
  }
  return 0;
}
