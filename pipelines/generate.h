// `strand generate`: sampling from a causal language model. Modality "chem": a SMILES or SELFIES
// model (tokenizer smiles or selfies) writes molecules, optionally conditioned in context on a set
// of molecules joined with '.' as the prompt (the in-context mode of Chem-xLSTM, Schmidinger et
// al., ICLR 2025).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "libseq/infer/sampling.h"

namespace strand::pipelines {

struct GenerateOptions {
  std::string model;
  std::string modality = "chem";
  int64_t samples = 100;
  int64_t batch = 64;
  uint64_t seed = 42;
  infer::SamplingOptions sampling;
  /// Molecules (SMILES) given as context: the prompt is <bos> + context joined with '.' + '.', in
  /// the model's notation (encoded to SELFIES for a SELFIES model). Empty = unconditional.
  std::vector<std::string> context;
  /// Write every sample (one per line; .smi/.txt, or .selfies for a SELFIES model's raw output) or
  /// the valid ones with 2D coordinates (.sdf). Atomic.
  std::string out;
  std::string command_line;
};

struct GeneratedMolecule {
  std::string text;    ///< what the model wrote (SMILES, or SELFIES for a SELFIES model)
  std::string decoded; ///< SELFIES models: the SMILES the SELFIES decoder writes (empty on a decoder error)
  std::string smiles;  ///< the SMILES (decoded for SELFIES); empty when the sample is empty or invalid
  bool valid = false;  ///< RDKit parses it into at least one atom
};

struct GenerateResult {
  std::vector<GeneratedMolecule> molecules;
  int64_t valid = 0;
};

/// Throws InputError / ConfigError for a model that cannot sample (not causal, not a chemical
/// tokenizer) or bad options.
GenerateResult generate(const GenerateOptions& options);

}  // namespace strand::pipelines
