// Molecule metrics for chemical language models, on RDKit's C++ API.
//
// Per molecule: Crippen logP, average molecular weight, TPSA (Ertl), QED (Bickerton et al.,
// Nat. Chem. 4, 90, 2012; the constants, acceptor and alert SMARTS of RDKit 2022.09's
// rdkit.Chem.QED 1.1.0, mean weights), and the synthetic accessibility score (Ertl &
// Schuffenhauer, J. Cheminf. 1, 8, 2009; RDKit Contrib/SA_Score, fragment scores from rdkit-data's
// fpscores.pkl.gz).
//
// Per set of generated molecules (definitions of MOSES, Polykovskiy et al. 2020, and GuacaMol):
// validity, uniqueness, novelty against a training set (canonical SMILES), internal diversity
// IntDiv1/IntDiv2, and against a reference set nearest-neighbour similarity (SNN), fragment
// similarity (BRICS) and scaffold similarity (Bemis-Murcko frameworks with at least two rings);
// fingerprints are Morgan radius 2, 1,024 bits.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace RDKit {
class ROMol;
}  // namespace RDKit

namespace strand::chem {

/// QED with the mean weights (0.66, 0.46, 0.05, 0.61, 0.06, 0.65, 0.48, 0.95).
double qed(const RDKit::ROMol& mol);

/// Synthetic accessibility, 1 (easy) to 10 (hard). Loading the fragment table takes ~1 s; score()
/// is thread-safe.
class SaScorer {
 public:
  /// Reads the fragment scores (a gzip protocol-0 pickle). Throws IoError / ParseError.
  explicit SaScorer(const std::string& fpscores_path = default_path());
  /// /usr/share/RDKit/Contrib/SA_Score/fpscores.pkl.gz (Debian package rdkit-data).
  static std::string default_path();
  double score(const RDKit::ROMol& mol) const;
  size_t fragments() const { return scores_.size(); }

 private:
  std::unordered_map<uint32_t, float> scores_;
};

struct MoleculeProperties {
  double logp = 0;
  double mw = 0;
  double tpsa = 0;
  double qed = 0;
  double sa = 0;  ///< NaN without an SaScorer
};

MoleculeProperties molecule_properties(const RDKit::ROMol& mol, const SaScorer* sa);

struct Summary {
  double mean = 0;
  double sd = 0;
  double w1 = -1;  ///< Wasserstein-1 distance to the reference set's values; -1 without one
};

struct GenerationMetrics {
  int64_t samples = 0;
  int64_t empty = 0;   ///< empty strings among the samples
  int64_t valid = 0;   ///< RDKit parses them into at least one atom (or empty, with empty_is_valid)
  int64_t unique = 0;  ///< distinct canonical SMILES among the valid
  int64_t novel = 0;   ///< unique and not in the training set
  double validity = 0;
  double uniqueness = 0;  ///< unique / valid
  double novelty = -1;    ///< novel / unique; -1 without a training set
  double int_div1 = 0;    ///< 1 - mean Tanimoto over all pairs of valid molecules (self included)
  double int_div2 = 0;    ///< 1 - sqrt(mean Tanimoto^2)
  double snn = -1;        ///< mean over valid of the max Tanimoto to the reference set
  double frag = -1;       ///< cosine similarity of BRICS fragment counts to the reference set
  double scaf = -1;       ///< cosine similarity of scaffold counts to the reference set
  Summary logp, mw, tpsa, qed, sa;
};

struct GenerationMetricsOptions {
  /// Count empty strings as valid molecules (selfies does; MOSES and GuacaMol do not).
  bool empty_is_valid = false;
  const SaScorer* sa = nullptr;  ///< SA summaries only with a scorer
  int threads = 0;               ///< 0 = strand::num_threads()
};

/// Metrics of `samples` (SMILES). `training` (for novelty) and `reference` (for SNN, Frag, Scaf
/// and the property W1 distances) may be empty.
GenerationMetrics evaluate_molecules(const std::vector<std::string>& samples, const std::vector<std::string>& training,
                                     const std::vector<std::string>& reference,
                                     const GenerationMetricsOptions& options = {});

}  // namespace strand::chem
