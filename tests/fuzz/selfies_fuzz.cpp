// libFuzzer target: the SELFIES decoder and the SMILES reader of the SELFIES encoder, on the same
// bytes, with the default and the reference options. EncoderError / DecoderError are the expected
// outcome for bad input; a crash, a sanitizer report or another exception is a bug. Whatever the
// encoder produces must decode.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "chem/selfies/selfies.h"

namespace sf = strand::chem::selfies;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const sf::Options& options : {sf::Options(), sf::Options::reference()}) {
    try {
      sf::decode(text, options);
    } catch (const sf::DecoderError&) {
    }
    std::string selfies;
    try {
      selfies = sf::encode(text, options);
    } catch (const sf::EncoderError&) {
      continue;
    }
    if (!options.reject_oversized_spans) continue;  // the reference may write [Ring4]
    try {
      sf::decode(selfies, options);
    } catch (const sf::DecoderError& e) {
      std::fprintf(stderr, "encoder output does not decode: %s -> %s: %s\n", text.c_str(), selfies.c_str(), e.what());
      std::abort();
    }
  }
  return 0;
}
