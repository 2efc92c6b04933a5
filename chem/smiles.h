// SMILES parsing and canonicalisation through RDKit.
#pragma once

#include <string>
#include <string_view>

namespace strand::chem {

/// RDKit canonical SMILES of `smiles` (aromaticity perceived, stereo kept).
/// Throws strand::InputError naming the input when RDKit cannot parse or sanitise it.
/// Thread-safe (RDKit parsing is re-entrant).
std::string canonical_smiles(std::string_view smiles);

/// True when RDKit parses and sanitises `smiles`. Never throws on bad SMILES.
bool is_valid_smiles(std::string_view smiles);

/// Number of heavy atoms of a SMILES; throws like canonical_smiles.
int heavy_atom_count(std::string_view smiles);

/// RDKit version string, e.g. "2022.09.4".
std::string rdkit_version();

}  // namespace strand::chem
