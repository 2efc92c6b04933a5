// Bemis–Murcko frameworks (Bemis & Murcko, J. Med. Chem. 39:2887, 1996): the ring systems of a
// molecule and the linker atoms joining them, with every side chain removed. Used as the group
// of a molecule when a task is split by scaffold, so close analogues never straddle splits.
//
// Convention (that of RDKit's MurckoScaffold): exocyclic atoms double-bonded to a framework atom
// (C=O, C=N, S=O on a ring or linker) stay; aromatic N or P that lose a substituent get the H
// that keeps them valid ([nH]). The framework is written as RDKit canonical SMILES.
#pragma once

#include <string>
#include <string_view>

namespace strand::chem {

/// Canonical SMILES of the Bemis–Murcko framework of `smiles`; "" for a molecule without rings.
/// Throws strand::InputError naming the input when RDKit cannot parse or sanitise it.
/// Thread-safe.
std::string murcko_scaffold(std::string_view smiles);

}  // namespace strand::chem
