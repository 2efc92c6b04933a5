#include "libseq/mixers/mixer.h"

#include <ATen/ATen.h>

#include <mutex>

#include "libseq/core/error.h"
#include "libseq/mixers/attention.h"
#include "libseq/mixers/mamba.h"
#include "libseq/mixers/mamba2.h"

namespace strand::mixers {

std::unique_ptr<MixerState> Mixer::make_state(int64_t) const {
  throw UnsupportedError(name() + " does not support step-by-step decoding");
}

at::Tensor Mixer::step(const at::Tensor&, MixerState&) {
  throw UnsupportedError(name() + " does not support step-by-step decoding");
}

at::Tensor Mixer::prefill(const at::Tensor& x, MixerState& state) {
  STRAND_ASSERT(x.dim() == 3, "prefill expects (B, L, D)");
  std::vector<at::Tensor> out;
  out.reserve(static_cast<size_t>(x.size(1)));
  for (int64_t t = 0; t < x.size(1); ++t) out.push_back(step(x.select(1, t), state));
  return at::stack(out, 1);
}

void MixerRegistry::add(MixerType type) {
  STRAND_ASSERT(!types_.count(type.letter), "layer letter '", type.letter, "' registered twice");
  types_.emplace(type.letter, std::move(type));
}

bool MixerRegistry::has(char letter) const { return types_.count(letter) != 0; }

const MixerType& MixerRegistry::get(char letter, const std::string& where) const {
  const auto it = types_.find(letter);
  if (it == types_.end())
    throw ConfigError(where + ": unknown layer letter '" + std::string(1, letter) + "' (known: " + describe() + ")");
  return it->second;
}

std::string MixerRegistry::describe() const {
  std::string out;
  for (const auto& [letter, type] : types_) {
    if (!out.empty()) out += ", ";
    out += std::string(1, letter) + " " + type.name;
  }
  return out;
}

MixerRegistry& mixer_registry() {
  static MixerRegistry registry;
  return registry;
}

void register_builtin_mixers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mixer_registry().add(attention_mixer_type());
    mixer_registry().add(mamba_mixer_type());
    mixer_registry().add(mamba2_mixer_type());
  });
}

}  // namespace strand::mixers
