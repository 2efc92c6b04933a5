// libFuzzer target: EMBOSS .cut codon-usage text through CodonUsage::parse_emboss.
// strand::Error is the expected outcome for bad input; anything else is a bug.
#include <cstdint>
#include <string_view>

#include "bio/codon_usage.h"
#include "libseq/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const auto usage = strand::bio::CodonUsage::parse_emboss(text, "fuzz.cut");
    for (const auto& entry : usage.entries()) usage.entry(entry.codon);
  } catch (const strand::Error&) {
  }
  return 0;
}
