// `strand evaluate-molecules`: the metrics of generated molecules (chem/metrics.h) from files.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "chem/metrics.h"
#include "chem/molio.h"

namespace strand::pipelines {

struct EvaluateMoleculesOptions {
  /// Generated molecules, one per line (SMILES, or SELFIES with `selfies`; a second column is
  /// ignored; an empty line is an empty sample, which counts as invalid unless empty_is_valid).
  std::string samples;
  bool selfies = false;  ///< decode each sample with the SELFIES decoder first (errors are invalid)
  /// Training molecules for novelty, and reference molecules for SNN/Frag/Scaf and property W1:
  /// .smi/.txt lists, or any molecule file (.csv/.tsv/.sdf, see chem/molio.h). Optional.
  std::string training;
  std::string reference;
  bool empty_is_valid = false;
  /// SA scores from this fragment table; empty = RDKit's (rdkit-data); "none" = no SA score.
  std::string sa_fpscores;
  /// ChemNet weights (scripts/chemnet_to_safetensors.py): adds the FCD between the valid samples
  /// and the reference set, both canonicalised by RDKit. Needs `reference`.
  std::string chemnet;
  std::string out;         ///< metrics JSON (atomic); empty = none
  std::string properties;  ///< per-molecule TSV: sample, smiles (canonical), valid, logP, MW, TPSA, QED, SA
  std::string command_line;
};

struct EvaluateMoleculesResult {
  chem::GenerationMetrics metrics;
  double fcd = -1;      ///< Fréchet ChemNet Distance; -1 without `chemnet`
  nlohmann::json json;  ///< what `out` receives
};

/// Reads, evaluates, writes. Throws IoError / InputError for unreadable inputs.
EvaluateMoleculesResult evaluate_molecules(const EvaluateMoleculesOptions& options);

struct ConvertMoleculesOptions {
  std::string input;               ///< any molecule file chem/molio.h reads
  chem::MoleculeReadOptions read;  ///< columns, header, SMILES style, standardisation
  /// .smi (SMILES and name per line), .selfies (SELFIES and name per line: a SELFIES training
  /// corpus), .csv/.tsv or .sdf. Atomic.
  std::string out;
};

struct ConvertMoleculesResult {
  chem::MoleculeReadStats stats;
  int64_t written = 0;
  int64_t encoder_errors = 0;  ///< .selfies: molecules the SELFIES encoder rejects (skipped)
};

/// Reads every good molecule of `input` and writes it to `out` in the format of its extension.
ConvertMoleculesResult convert_molecules(const ConvertMoleculesOptions& options);

/// The SMILES of a molecule list: the first field of every line of a .smi/.smiles/.txt/.selfies file
/// (`keep_empty`: empty lines give empty entries; otherwise they and '#' comments are skipped),
/// or the good molecules of a .csv/.tsv/.sdf file.
std::vector<std::string> read_smiles_list(const std::string& path, bool keep_empty);

}  // namespace strand::pipelines
