// Residue, peptide, fragment and precursor masses for tandem mass spectrometry: one table of
// residues and modifications (fixed, variable and N-terminal), peptide parsing in the notations
// spectrum files use, and tolerance helpers.
//
// Masses are monoisotopic, in daltons. Residue masses and the default modifications are those of
// Casanovo v5's configuration (shared reference: denovo.md §1.5); constants as depthcharge
// defines them (§1.6). Formulas (§1.6, §6.3):
//   neutral peptide mass  M = sum of residue masses (N-terminal modification included) + H2O
//   precursor m/z         (M + z * proton) / z
//   b_i (z+)              (sum of the first i residues + N-terminal modification + z * proton) / z
//   y_i (z+)              (sum of the last i residues + H2O + z * proton) / z
//
// Peptide notations read by ResidueTable::parse:
//   ProForma names       "AGM[Oxidation]THIVR", "[Acetyl]-PEPTIDE", "[+25.980265]-PEPTIDE"
//   mass deltas          "HQGVM+15.995VGM+15.995GQK", "+42.011PEPTIDE", "+43.006-17.027PEPTIDE"
//                        (a delta matches the modification of that residue whose mass shift agrees
//                        to 0.01 Da)
// A residue with a fixed modification (carbamidomethyl C by default) is that token whether or
// not the peptide names the modification.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace strand::bio::spectra {

constexpr double kProton = 1.00727646688;   ///< proton mass
constexpr double kHydrogen = 1.007825035;   ///< hydrogen atom
constexpr double kWater = 18.0105647;       ///< H2O
constexpr double kAmmonia = 17.026549;      ///< NH3
constexpr double kCarbonMonoxide = 27.994915;
constexpr double kIsotopeSpacing = 1.003355;  ///< 13C - 12C

struct Modification {
  std::string name;   ///< Unimod name ("Oxidation") or a signed mass ("+25.980265")
  char target = 0;    ///< residue letter, or '^' for the peptide N-terminus
  double delta = 0;   ///< mass shift
  bool fixed = false; ///< every target residue carries it (residues only)
};

/// One token of the peptide vocabulary.
struct Residue {
  std::string token;     ///< "G", "C[Carbamidomethyl]", "M[Oxidation]", "[Acetyl]-"
  char amino_acid = 0;   ///< one-letter code; 0 for an N-terminal modification
  double mass = 0;       ///< residue mass with its modification, or the N-terminal shift
};

class ResidueTable {
 public:
  /// The 20 standard residues with `modifications` added. With `merge_isoleucine`, I is read as
  /// L and has no token of its own (I and L have the same mass). ConfigError for a modification
  /// of an unknown residue, a duplicate token or a second fixed modification of one residue.
  ResidueTable(const std::vector<Modification>& modifications, bool merge_isoleucine = true);

  /// Casanovo v5's set: fixed C[Carbamidomethyl]; variable M[Oxidation], N[Deamidated],
  /// Q[Deamidated]; N-terminal [Acetyl]-, [Carbamyl]-, [Ammonia-loss]-, [+25.980265]-; I merged.
  static ResidueTable casanovo();
  static std::vector<Modification> casanovo_modifications();

  const std::vector<Residue>& residues() const noexcept { return residues_; }
  /// Index of a token, or -1.
  int find(std::string_view token) const;
  bool merges_isoleucine() const noexcept { return merge_isoleucine_; }

  /// The tokens of a peptide, N-terminal modification first. InputError naming the peptide, the
  /// position and the problem for an unknown residue or modification.
  std::vector<int> parse(std::string_view peptide) const;
  /// The peptide written back in ProForma names (the token strings joined).
  std::string format(const std::vector<int>& tokens) const;

  /// Sum of the residue masses (the N-terminal modification included), without water.
  double residue_sum(const std::vector<int>& tokens) const;
  /// Neutral peptide mass: residue sum + H2O.
  double peptide_mass(const std::vector<int>& tokens) const { return residue_sum(tokens) + kWater; }
  /// b ions b_1 .. b_{n-1} at charge z (n residues; an N-terminal modification counts in every b).
  std::vector<double> b_ions(const std::vector<int>& tokens, int charge = 1) const;
  /// y ions y_1 .. y_{n-1} at charge z.
  std::vector<double> y_ions(const std::vector<int>& tokens, int charge = 1) const;

 private:
  int modified_token(char residue, std::string_view name, double delta, bool by_name) const;
  int n_terminal_token(std::string_view name, double delta, bool by_name) const;

  std::vector<Residue> residues_;
  std::vector<Modification> modifications_;  ///< index-aligned with the modification tokens
  std::vector<int> token_of_mod_;            ///< modification index -> token
  int plain_[26];                            ///< token of each letter as written plainly, -1 none
  bool merge_isoleucine_;
};

/// m/z of a neutral mass at charge z: (M + z * proton) / z.
inline double mz_of(double neutral_mass, int charge) { return (neutral_mass + charge * kProton) / charge; }
/// Neutral mass of an ion of m/z at charge z: (m/z - proton) * z.
inline double neutral_of(double mz, int charge) { return (mz - kProton) * charge; }
/// (observed - theoretical) / theoretical in parts per million.
inline double ppm_error(double observed, double theoretical) { return (observed - theoretical) / theoretical * 1e6; }

/// Whether a peptide of neutral mass `calc_mass` explains a precursor of `observed_mz` at `charge`
/// within `tolerance_ppm`, allowing the observed peak to be isotope k in [min_isotope,
/// max_isotope] (Casanovo's rule: |calc_mz - (observed_mz - k * 1.003355 / z)| / observed_mz * 1e6
/// within the tolerance for some k).
bool precursor_matches(double calc_mass, double observed_mz, int charge, double tolerance_ppm, int min_isotope = 0,
                       int max_isotope = 1);

}  // namespace strand::bio::spectra
