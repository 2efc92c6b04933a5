#include "chem/smiles.h"

#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/versions.h>

#include <memory>

#include "chem/molio.h"
#include "libseq/core/error.h"

namespace strand::chem {
namespace {

std::unique_ptr<RDKit::RWMol> parse_or_throw(std::string_view smiles) {
  std::string why;
  auto mol = parse_smiles(smiles, &why);
  STRAND_CHECK(mol != nullptr, "invalid SMILES '", smiles, "': ", why);
  return mol;
}

}  // namespace

std::string canonical_smiles(std::string_view smiles) { return RDKit::MolToSmiles(*parse_or_throw(smiles)); }

bool is_valid_smiles(std::string_view smiles) { return !smiles.empty() && parse_smiles(smiles) != nullptr; }

int heavy_atom_count(std::string_view smiles) { return static_cast<int>(parse_or_throw(smiles)->getNumHeavyAtoms()); }

std::string rdkit_version() { return RDKit::rdkitVersion; }

}  // namespace strand::chem
