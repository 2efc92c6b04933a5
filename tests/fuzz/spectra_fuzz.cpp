// libFuzzer target: the spectrum readers (bio/spectra) — MGF, DTA and mzML — and the peptide
// parser of the residue table on the same bytes. strand::Error is the expected outcome for bad
// input; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstdint>
#include <memory>
#include <string>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "libseq/core/error.h"

namespace sp = strand::bio::spectra;

namespace {

void drain(std::unique_ptr<sp::SpectrumReader> reader) {
  sp::Spectrum s;
  while (reader->next(s)) {
    if (s.mz.size() != s.intensity.size()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    drain(sp::open_mgf_text(text, "fuzz.mgf"));
  } catch (const strand::Error&) {
  }
  try {
    drain(sp::open_dta_text(text, "fuzz.dta"));
  } catch (const strand::Error&) {
  }
  try {
    drain(sp::open_mzml_text(text, "fuzz.mzML"));
  } catch (const strand::Error&) {
  }
  try {
    static const sp::ResidueTable table = sp::ResidueTable::casanovo();
    const auto tokens = table.parse(text.substr(0, 200));
    table.b_ions(tokens, 2);
    table.y_ions(tokens, 2);
  } catch (const strand::Error&) {
  }
  return 0;
}
