#include "libseq/train/rng_state.h"

#include <ATen/Context.h>
#include <ATen/core/Generator.h>
#include <ATen/detail/CUDAHooksInterface.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <type_traits>

#include "libseq/core/error.h"
#include "libseq/core/log.h"

namespace strand::train {
namespace {

// random.h keeps Rng's four words private and offers no accessors; the class is trivially
// copyable with exactly that representation, so its bytes are its state.
static_assert(std::is_trivially_copyable_v<Rng>, "Rng state is copied byte-wise");
static_assert(sizeof(Rng) == 4 * sizeof(uint64_t), "Rng is expected to hold exactly four 64-bit words");

int64_t cuda_device_count() {
  return at::hasCUDA() ? static_cast<int64_t>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
}

at::Tensor get_state(at::Generator generator) {
  std::lock_guard<std::mutex> lock(generator.mutex());
  return generator.get_state().clone();
}

}  // namespace

std::map<std::string, at::Tensor> capture_torch_rng_state() {
  std::map<std::string, at::Tensor> states;
  states["cpu"] = get_state(at::detail::getDefaultCPUGenerator());
  const int64_t devices = cuda_device_count();
  for (int64_t i = 0; i < devices; ++i) {
    const auto device = c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(i));
    states["cuda:" + std::to_string(i)] = get_state(at::globalContext().defaultGenerator(device));
  }
  return states;
}

void restore_torch_rng_state(const std::map<std::string, at::Tensor>& states, const std::string& source) {
  // A Generator is a shared handle: setting the state of a copy sets the default generator's.
  const auto set = [&](at::Generator generator, const std::string& key) {
    try {
      std::lock_guard<std::mutex> lock(generator.mutex());
      generator.set_state(states.at(key));
    } catch (const c10::Error& e) {
      throw ParseError(Location{source, -1, ""}, "random state '" + key + "' was rejected: " + e.what_without_backtrace());
    }
  };
  if (states.count("cpu") == 0) throw ParseError(Location{source, -1, ""}, "missing the 'cpu' random state");
  set(at::detail::getDefaultCPUGenerator(), "cpu");
  const int64_t devices = cuda_device_count();
  for (const auto& entry : states) {
    const std::string& key = entry.first;
    if (key == "cpu") continue;
    int64_t index = -1;
    if (key.rfind("cuda:", 0) == 0 && key.size() > 5 && key.find_first_not_of("0123456789", 5) == std::string::npos) {
      index = std::stoll(key.substr(5));
    }
    if (index < 0) throw ParseError(Location{source, -1, ""}, "unknown random state '" + key + "'");
    if (index >= devices) {
      STRAND_LOG_WARN(source, ": random state of ", key, " not restored: this process has ", devices,
                      " CUDA device(s); random draws on that device will differ from the original run");
      continue;
    }
    set(at::globalContext().defaultGenerator(c10::Device(c10::DeviceType::CUDA, static_cast<c10::DeviceIndex>(index))),
        key);
  }
}

nlohmann::json rng_to_json(const Rng& rng) {
  uint64_t words[4];
  std::memcpy(words, &rng, sizeof words);
  nlohmann::json out = nlohmann::json::array();
  for (const uint64_t w : words) {
    char text[17];
    std::snprintf(text, sizeof text, "%016" PRIx64, w);
    out.push_back(text);
  }
  return out;
}

Rng rng_from_json(const nlohmann::json& value, const std::string& source) {
  const auto fail = [&]() -> ParseError {
    return ParseError(Location{source, -1, ""},
                      "expected a random state: an array of four 16-digit hex strings, found " + value.dump());
  };
  if (!value.is_array() || value.size() != 4) throw fail();
  uint64_t words[4];
  for (size_t i = 0; i < 4; ++i) {
    if (!value[i].is_string()) throw fail();
    const auto& text = value[i].get_ref<const std::string&>();
    if (text.size() != 16 || text.find_first_not_of("0123456789abcdef") != std::string::npos) throw fail();
    words[i] = std::stoull(text, nullptr, 16);
  }
  STRAND_CHECK_AT(ParseError, (Location{source, -1, ""}), (words[0] | words[1] | words[2] | words[3]) != 0,
                  "a random state of all zeros is not a valid xoshiro256** state");
  Rng rng(0);
  std::memcpy(static_cast<void*>(&rng), words, sizeof words);
  return rng;
}

}  // namespace strand::train
