#include "chem/smiles.h"

#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>
#include <RDGeneral/versions.h>

#include <memory>
#include <mutex>

#include "libseq/core/error.h"

namespace strand::chem {
namespace {

// RDKit reports parse failures on its own error log as well as through the return value; strand
// reports them itself, so RDKit's copy is switched off once.
void silence_rdkit() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}

std::unique_ptr<RDKit::ROMol> parse(std::string_view smiles) {
  silence_rdkit();
  try {
    return std::unique_ptr<RDKit::ROMol>(RDKit::SmilesToMol(std::string(smiles)));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<RDKit::ROMol> parse_or_throw(std::string_view smiles) {
  auto mol = parse(smiles);
  STRAND_CHECK(mol != nullptr, "invalid SMILES '", smiles, "': RDKit could not parse or sanitize it");
  return mol;
}

}  // namespace

std::string canonical_smiles(std::string_view smiles) { return RDKit::MolToSmiles(*parse_or_throw(smiles)); }

bool is_valid_smiles(std::string_view smiles) { return !smiles.empty() && parse(smiles) != nullptr; }

int heavy_atom_count(std::string_view smiles) { return static_cast<int>(parse_or_throw(smiles)->getNumHeavyAtoms()); }

std::string rdkit_version() { return RDKit::rdkitVersion; }

}  // namespace strand::chem
