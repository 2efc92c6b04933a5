// libFuzzer target: bytes parsed as JSON (strand::parse_json) and loaded as a tokenizer file by
// a registry holding the bio tokenizers; a tokenizer that loads must encode a nucleotide string.
// strand::Error is the expected outcome for bad input; anything else (including an exception
// from nlohmann::json) is a bug.
#include <cstdint>
#include <string>
#include <vector>

#include "bio/tokenizers/register.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/tokenize/registry.h"
#include "libseq/tokenize/tokenizer.h"

namespace {

const strand::tokenize::TokenizerRegistry& registry() {
  static const auto* r = [] {
    auto* out = new strand::tokenize::TokenizerRegistry();
    strand::bio::register_tokenizers(*out);
    return out;
  }();
  return *r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const nlohmann::json document =
        strand::parse_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz.json");
    const auto tokenizer = registry().from_json(document, "fuzz.json");
    std::vector<strand::tokenize::TokenId> ids;
    try {
      tokenizer->encode_ids_into("ACGTNacgtnRYSWKM-.*MKVLA", ids);
    } catch (const strand::Error&) {
    }
  } catch (const strand::Error&) {
  }
  return 0;
}
