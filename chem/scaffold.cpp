#include "chem/scaffold.h"

#include <GraphMol/GraphMol.h>
#include <GraphMol/MolOps.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <memory>
#include <mutex>
#include <vector>

#include "libseq/core/error.h"

namespace strand::chem {

std::string murcko_scaffold(std::string_view smiles) {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
  std::unique_ptr<RDKit::ROMol> mol;
  try {
    mol.reset(RDKit::SmilesToMol(std::string(smiles)));
  } catch (const std::exception&) {
    mol.reset();
  }
  STRAND_CHECK(mol != nullptr, "invalid SMILES '", smiles, "': RDKit could not parse or sanitize it");
  const RDKit::RingInfo* rings = mol->getRingInfo();
  const unsigned n = mol->getNumAtoms();
  std::vector<char> keep(n, 1);
  std::vector<unsigned> degree(n);
  for (unsigned i = 0; i < n; ++i) degree[i] = mol->getAtomWithIdx(i)->getDegree();
  // Prune non-ring atoms with at most one kept neighbour until none is left: what remains is the
  // ring systems plus the paths joining them.
  for (bool changed = true; changed;) {
    changed = false;
    for (unsigned i = 0; i < n; ++i) {
      if (!keep[i] || rings->numAtomRings(i) != 0 || degree[i] > 1) continue;
      keep[i] = 0;
      changed = true;
      for (const auto& nb : boost::make_iterator_range(mol->getAtomNeighbors(mol->getAtomWithIdx(i))))
        if (keep[nb]) --degree[nb];
    }
  }
  bool any = false;
  for (unsigned i = 0; i < n; ++i) any = any || keep[i];
  if (!any) return "";
  // Exocyclic double-bonded terminal atoms on the framework stay.
  std::vector<char> framework(keep);
  for (unsigned i = 0; i < n; ++i) {
    const RDKit::Atom* a = mol->getAtomWithIdx(i);
    if (framework[i] || a->getDegree() != 1) continue;
    for (const auto& edge : boost::make_iterator_range(mol->getAtomBonds(a))) {
      const RDKit::Bond* b = (*mol)[edge];
      if (b->getBondType() == RDKit::Bond::DOUBLE && framework[b->getOtherAtomIdx(i)]) keep[i] = 1;
    }
  }
  RDKit::RWMol rw(*mol);
  for (unsigned i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    RDKit::Atom* a = rw.getAtomWithIdx(i);
    unsigned lost = 0;
    for (const auto& nb : boost::make_iterator_range(mol->getAtomNeighbors(mol->getAtomWithIdx(i))))
      if (!keep[nb]) ++lost;
    if (lost == 0) continue;
    a->setNoImplicit(false);
    if (a->getIsAromatic() && (a->getAtomicNum() == 7 || a->getAtomicNum() == 15))
      a->setNumExplicitHs(a->getNumExplicitHs() + 1);
  }
  for (unsigned i = n; i-- > 0;)
    if (!keep[i]) rw.removeAtom(i);
  try {
    RDKit::MolOps::sanitizeMol(rw);
  } catch (const std::exception&) {
    // A framework RDKit cannot kekulise after the cut still has a well-defined (unsanitised)
    // canonical form, which is all a grouping key needs.
    rw.updatePropertyCache(false);
  }
  return RDKit::MolToSmiles(rw);
}

}  // namespace strand::chem
