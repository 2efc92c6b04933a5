// Saving and restoring random-number state, so a resumed training run draws exactly the numbers
// an uninterrupted run would have drawn.
//
// Two kinds of stream exist in strand (libseq/core/random.h): LibTorch's default generators
// (dropout, torch::rand, mlm_mask without an explicit generator), seeded by strand::manual_seed,
// and strand::Rng objects owned by whoever uses them (typically a data stream). The trainer
// checkpoints the first kind itself; a data stream puts its Rng objects into its data_state()
// JSON with rng_to_json() and reads them back with rng_from_json().
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <map>
#include <string>

#include "libseq/core/random.h"

namespace strand::train {

/// The states of LibTorch's default generators, as uint8 CPU tensors keyed "cpu" and, when this
/// build has CUDA and devices are present, "cuda:0", "cuda:1", ... Each state is copied; later
/// draws do not change it. Thread-safe (takes each generator's lock).
std::map<std::string, at::Tensor> capture_torch_rng_state();

/// Restores states captured by capture_torch_rng_state(). `source` names where they came from in
/// errors. "cpu" is required. A "cuda:<i>" state is restored when device i exists; otherwise a
/// warning says that draws on that device will differ from the original run.
/// Throws strand::ParseError for a missing "cpu" entry, an unknown key, or a state LibTorch
/// rejects (wrong size or dtype).
void restore_torch_rng_state(const std::map<std::string, at::Tensor>& states, const std::string& source);

/// The full state of a strand::Rng as JSON (an array of four 16-digit hex strings).
nlohmann::json rng_to_json(const Rng& rng);
/// Rebuilds an Rng from rng_to_json() output; it continues the original sequence exactly.
/// Throws strand::ParseError naming `source` for anything else.
Rng rng_from_json(const nlohmann::json& value, const std::string& source);

}  // namespace strand::train
