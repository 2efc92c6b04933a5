// libFuzzer target: the annotation text parsers (bio/annotation) — GFF3, GenBank (with its
// location grammar), Stockholm — on the same bytes. strand::Error is the expected outcome for bad
// input; anything else (a crash, a sanitizer report, another exception) is a bug.
#include <cstdint>
#include <string>

#include "bio/annotation/genbank.h"
#include "bio/annotation/gff.h"
#include "bio/annotation/stockholm.h"
#include "libseq/core/error.h"

namespace ann = strand::bio::annotation;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    auto lines = strand::io::TextLines::from_string(text, "fuzz.gff");
    ann::parse_gff3(lines);
  } catch (const strand::Error&) {
  }
  try {
    auto lines = strand::io::TextLines::from_string(text, "fuzz.gb");
    for (const auto& r : ann::parse_genbank(lines))
      for (const auto& f : r.features) {
        try {
          ann::location_sequence(f.parts, r.sequence);
        } catch (const strand::Error&) {
        }
      }
  } catch (const strand::Error&) {
  }
  try {
    ann::parse_location(text, "fuzz.loc", 1);
  } catch (const strand::Error&) {
  }
  try {
    auto lines = strand::io::TextLines::from_string(text, "fuzz.sto");
    for (const auto& a : ann::parse_stockholm(lines))
      for (const auto& row : a.rows) ann::ungapped_upper(row);
  } catch (const strand::Error&) {
  }
  return 0;
}
