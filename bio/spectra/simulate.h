// In-silico tryptic digestion and a simulator of annotated MS/MS spectra, for tests and for
// synthetic training data (shared reference: denovo.md §6.3 for the ion formulas and the
// generator's knobs, §1.6 for the constants), and an annotated MGF writer.
//
// Digestion. Trypsin cleaves after K or R unless the next residue is P. A peptide spans 1 to
// missed_cleavages + 1 consecutive cleavage products and is kept when its length lies in
// [min_length, max_length] and every letter parses with the ResidueTable (B, J, O, U, X, Z, '*',
// gap characters and other unknown letters drop the peptide). Lower-case letters are read as
// upper case. Results are unique and in first-seen order: by start position in the protein, then
// by length (a FASTA file: protein after protein, in file order). Uniqueness is on the letters as
// written (with I merged into L, "PEPTIDEK" and "PEPTLDEK" are both kept).
//
// Ions (§6.3), n residues, fragment charge c, p = proton:
//   b_i = ResidueTable::b_ions, y_i = ResidueTable::y_ions (i = 1..n-1)
//   a_i = b_i - CO / c
//   losses: b/y - H2O / c, b/y - NH3 / c
//   immonium of residue r: m_r - CO + p (charge 1; one per distinct residue token)
//   precursor: (M + z p) / z with M = ResidueTable::peptide_mass
// Fragments are generated at charges 1 .. max(1, min(z - 1, max_fragment_charge)).
//
// Randomness: strand::Rng (xoshiro256**, identical on every platform); uniform draws come from
// Rng::uniform01 / Rng::uniform, normal draws from Marsaglia's polar method written here (no
// std:: distribution is used, their output differs between standard libraries). The same
// (seed, options, peptides) therefore gives byte-identical spectra and MGF text wherever the C
// library's log/exp/sqrt agree (sqrt is exact by IEEE 754; log/exp are the only libm calls).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "libseq/core/random.h"

namespace strand::bio::spectra {

struct DigestOptions {
  int missed_cleavages = 1;  ///< cleavage sites a peptide may contain uncut
  int min_length = 7;        ///< residues
  int max_length = 30;       ///< residues
};

/// Tryptic peptides of one protein sequence, unique, in first-seen order (start, then length).
/// InputError for negative missed cleavages or an empty/inverted length range.
std::vector<std::string> digest(std::string_view protein, const ResidueTable& table, const DigestOptions& options = {});

/// Tryptic peptides of every protein of a FASTA file (plain or gzip), unique over the whole file,
/// in first-seen order (proteins in file order, each as digest() orders it). IoError when the file
/// cannot be opened, ParseError for a malformed file or one that is not FASTA.
std::vector<std::string> digest_fasta(const std::string& path, const ResidueTable& table,
                                      const DigestOptions& options = {});

/// Which a ions to generate: none, a2 at charge 1 (the common diagnostic ion), or every a_i at
/// every fragment charge.
enum class AIons { None, A2, All };

/// A variable modification applied at random: `token` is a modified residue token of the table
/// ("M[Oxidation]": each plain M becomes it with `probability`, independently) or an N-terminal
/// token ("[Acetyl]-": prepended with `probability` when the peptide has no N-terminal token).
struct VariableModification {
  std::string token;
  double probability = 0;
};

/// The generator's knobs; defaults follow §6.3's suggestion. Intensities are in arbitrary units
/// where an unmodified y ion at charge 1 has median 1 (no normalisation is applied).
struct SimulationOptions {
  // Precursor.
  std::vector<int> charges{2, 3, 4};                ///< precursor charges drawn by draw_charge()
  std::vector<double> charge_weights{0.6, 0.3, 0.1};  ///< relative weight of each charge
  double precursor_ppm = 10;             ///< precursor m/z error: uniform in [-ppm, +ppm]
  double isotope_error_probability = 0.1;  ///< precursor picked at the +1 isotope: + 1.003355 / z

  // Fragment ions.
  bool b_ions = true;
  bool y_ions = true;
  AIons a_ions = AIons::A2;
  bool immonium_ions = true;
  int max_fragment_charge = 2;            ///< fragment charges 1 .. max(1, min(z - 1, this))
  double water_loss_probability = 0.25;   ///< per b/y peak: add its -H2O peak
  double ammonia_loss_probability = 0.15; ///< per b/y peak: add its -NH3 peak
  double loss_intensity_min = 0.1;        ///< loss peak intensity / its parent's: uniform in [min, max]
  double loss_intensity_max = 0.2;
  double missing_probability = 0.3;       ///< each fragment peak (b, y, a, immonium) is dropped
                                          ///< with this probability, and its loss peaks with it
  double fragment_ppm_sigma = 10;         ///< Gaussian fragment m/z error, standard deviation in ppm

  // Intensity model: base * bond enhancement * charge factor * log-normal(0, intensity_sigma).
  double y_intensity = 1.0;               ///< base of y ions
  double b_intensity = 0.5;               ///< base of b ions (y ions are stronger)
  double a_intensity = 0.2;               ///< base of a ions
  double immonium_intensity = 0.1;        ///< base of immonium ions
  double multiply_charged_factor = 0.5;   ///< per charge above 1
  double intensity_sigma = 0.6;           ///< sigma of the log-normal factor (0: none)
  double proline_enhancement = 3.0;       ///< cleavage N-terminal to P (b_i, y_{n-i} with residue i+1 = P)
  double acidic_enhancement = 2.0;        ///< cleavage C-terminal to D/E (residue i = D or E)

  // Noise: a uniform count in [min, max] of peaks, m/z uniform in [min_mz, min(max_mz, M + p)],
  // intensity uniform in [noise_intensity_min, noise_intensity_max]; no error, never dropped; no
  // noise when that m/z range is empty.
  int noise_peaks_min = 10;
  int noise_peaks_max = 100;
  double noise_intensity_min = 0.005;
  double noise_intensity_max = 0.05;

  // Modifications. Fixed ones are the table's (C is C[Carbamidomethyl] in the Casanovo table).
  std::vector<VariableModification> variable_modifications{{"M[Oxidation]", 0.1}, {"[Acetyl]-", 0.05}};

  // Output.
  double min_mz = 50;    ///< peaks outside [min_mz, max_mz] are dropped
  double max_mz = 2500;
  int max_peaks = 500;   ///< keep the most intense (ties: lower m/z); 0 = no limit

  /// Every random knob off: b and y ions only, no losses, a or immonium ions, no missing peaks,
  /// no noise, no m/z errors, no modifications, no log-normal factor or bond enhancement.
  static SimulationOptions ideal();
  /// InputError naming the first bad knob (a probability outside [0, 1], a negative width, an
  /// inverted range, charges and weights of different sizes, ...).
  void validate() const;
};

/// A precursor charge drawn from options.charges with options.charge_weights.
int draw_charge(const SimulationOptions& options, Rng& rng);

/// One simulated spectrum of the peptide `tokens` (tokens of `table`) at precursor `charge`:
/// variable modifications applied first, then the precursor and the peaks. Peaks are sorted by
/// m/z (ties by intensity), exact duplicate m/z merged by summing intensities. The spectrum has
/// id "<ProForma>/<charge>", peptide = table.format(modified tokens), precursor_charge = charge,
/// ms_level 2, no retention time. InputError for bad options, a charge < 1, a token outside the
/// table, an N-terminal token not in first place, no residues, or an unknown modification token.
Spectrum simulate(const ResidueTable& table, const std::vector<int>& tokens, int charge,
                  const SimulationOptions& options, Rng& rng);

/// `count` spectra of peptides drawn uniformly from `peptides` (any notation table.parse reads).
/// Spectrum i uses its own stream Rng(seed, kSimulationStream + i): it is the same whatever
/// `count` is. It draws its peptide, then its charge (draw_charge), then simulates; id
/// "sim<i+1>:<ProForma>/<charge>", index i, scans "<i+1>". InputError for an empty peptide list
/// (with count > 0), a peptide that does not parse, or bad options.
std::vector<Spectrum> simulate_spectra(const ResidueTable& table, const std::vector<std::string>& peptides,
                                       int64_t count, const SimulationOptions& options, uint64_t seed);
/// Base of the Rng streams simulate_spectra uses (keeps them apart from other users of a seed).
constexpr uint64_t kSimulationStream = uint64_t{0x73696d} << 40;

/// Annotated MGF text: per spectrum BEGIN IONS, TITLE (if id is not empty), PEPMASS (m/z, and the
/// precursor intensity if not 0), CHARGE=z+ (z- if negative; left out if 0), RTINSECONDS (if
/// >= 0), SCANS (if not empty), SEQ (if peptide is not empty), the peaks "m/z intensity", END IONS
/// and a blank line. Numbers are written in the shortest form that reads back to the same double
/// (std::to_chars). Read back with open_mgf_text it gives the same spectra (index = position; the
/// id of a spectrum without one is its index, as the reader assigns). InputError for what could
/// not be read back: a precursor m/z that is not positive, a negative or non-finite peak, m/z and
/// intensity arrays of different sizes, a charge of five digits, text fields with line breaks or
/// leading/trailing white space.
std::string format_mgf(const std::vector<Spectrum>& spectra);

/// format_mgf written to `path` atomically (strand::io::AtomicFile). IoError on OS failures.
void write_mgf(const std::string& path, const std::vector<Spectrum>& spectra);

}  // namespace strand::bio::spectra
