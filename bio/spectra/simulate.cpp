#include "bio/spectra/simulate.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <unordered_set>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace strand::bio::spectra {
namespace {

// ---------------------------------------------------------------------------------------------
// Digestion.

/// Which upper-case letters the table reads as a residue on their own.
std::array<bool, 26> parseable_letters(const ResidueTable& table) {
  std::array<bool, 26> ok{};
  for (char c = 'A'; c <= 'Z'; ++c) {
    try {
      table.parse(std::string(1, c));
      ok[static_cast<size_t>(c - 'A')] = true;
    } catch (const InputError&) {
      ok[static_cast<size_t>(c - 'A')] = false;
    }
  }
  return ok;
}

void check_digest_options(const DigestOptions& options) {
  STRAND_CHECK(options.missed_cleavages >= 0, "digest: missed_cleavages must be >= 0, got ", options.missed_cleavages);
  STRAND_CHECK(options.min_length >= 1 && options.min_length <= options.max_length,
               "digest: the peptide length range must satisfy 1 <= min_length <= max_length, got ", options.min_length,
               "..", options.max_length);
}

/// Appends the digest of one protein to `out`, skipping peptides already in `seen`.
void digest_into(std::string_view protein, const std::array<bool, 26>& parseable, const DigestOptions& options,
                 std::unordered_set<std::string>& seen, std::vector<std::string>& out) {
  std::string seq(protein);
  for (char& c : seq)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  // Cleavage boundaries: 0, after every K/R not followed by P, and the end.
  std::vector<size_t> cuts{0};
  for (size_t i = 0; i + 1 < seq.size(); ++i)
    if ((seq[i] == 'K' || seq[i] == 'R') && seq[i + 1] != 'P') cuts.push_back(i + 1);
  if (!seq.empty()) cuts.push_back(seq.size());
  // bad_before[i]: number of unparseable letters in seq[0, i).
  std::vector<size_t> bad_before(seq.size() + 1, 0);
  for (size_t i = 0; i < seq.size(); ++i) {
    const char c = seq[i];
    const bool ok = c >= 'A' && c <= 'Z' && parseable[static_cast<size_t>(c - 'A')];
    bad_before[i + 1] = bad_before[i] + (ok ? 0 : 1);
  }
  const size_t span = static_cast<size_t>(options.missed_cleavages) + 1;
  const size_t min_length = static_cast<size_t>(options.min_length);
  const size_t max_length = static_cast<size_t>(options.max_length);
  for (size_t a = 0; a + 1 < cuts.size(); ++a) {
    for (size_t k = 1; k <= span && a + k < cuts.size(); ++k) {
      const size_t begin = cuts[a];
      const size_t end = cuts[a + k];
      const size_t length = end - begin;
      if (length > max_length) break;
      if (length < min_length || bad_before[end] != bad_before[begin]) continue;
      std::string peptide = seq.substr(begin, length);
      if (seen.insert(peptide).second) out.push_back(std::move(peptide));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Random draws on strand::Rng, written out so every platform gives the same numbers.

double uniform(Rng& rng, double lo, double hi) { return lo + (hi - lo) * rng.uniform01(); }

bool chance(Rng& rng, double probability) { return rng.uniform01() < probability; }

/// Standard normal (Marsaglia's polar method; the second value of the pair is discarded).
double normal(Rng& rng) {
  for (;;) {
    const double u = 2 * rng.uniform01() - 1;
    const double v = 2 * rng.uniform01() - 1;
    const double s = u * u + v * v;
    if (s > 0 && s < 1) return u * std::sqrt(-2 * std::log(s) / s);
  }
}

void check_probability(double p, const char* name) {
  STRAND_CHECK(p >= 0 && p <= 1, "simulation options: ", name, " must be a probability in [0, 1], got ", p);
}

void check_non_negative(double x, const char* name) {
  STRAND_CHECK(std::isfinite(x) && x >= 0, "simulation options: ", name, " must be finite and >= 0, got ", x);
}

void check_range(double lo, double hi, const char* name) {
  STRAND_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo >= 0 && lo <= hi, "simulation options: ", name,
               " must satisfy 0 <= min <= max, got ", lo, "..", hi);
}

/// Applies the variable modifications to `peptide` (tokens of `table`) at random.
void apply_modifications(const ResidueTable& table, std::vector<int>& peptide,
                         const std::vector<VariableModification>& modifications, Rng& rng) {
  const auto& residues = table.residues();
  for (const auto& m : modifications) {
    const int token = table.find(m.token);
    STRAND_CHECK(token >= 0, "simulation options: variable modification '", m.token,
                 "' is not a token of the residue table");
    const Residue& r = residues[static_cast<size_t>(token)];
    if (r.amino_acid == 0) {
      const bool has_n_term = !peptide.empty() && residues[static_cast<size_t>(peptide.front())].amino_acid == 0;
      if (!has_n_term && chance(rng, m.probability)) peptide.insert(peptide.begin(), token);
      continue;
    }
    const int plain = table.find(std::string(1, r.amino_acid));
    STRAND_CHECK(plain >= 0 && plain != token, "simulation options: '", m.token,
                 "' is not a variable modification (the table has no unmodified ", std::string(1, r.amino_acid),
                 " token)");
    for (int& t : peptide)
      if (t == plain && chance(rng, m.probability)) t = token;
  }
}

struct Peak {
  double mz;
  double intensity;
};

// ---------------------------------------------------------------------------------------------
// MGF output.

void append_number(std::string& out, double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  STRAND_ASSERT(ec == std::errc(), "to_chars failed");
  out.append(buffer, end);
}

void check_text_field(const Spectrum& s, size_t position, const char* key, const std::string& value) {
  const auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; };
  const bool breaks = value.find_first_of("\r\n") != std::string::npos;
  const bool padded = !value.empty() && (is_space(value.front()) || is_space(value.back()));
  STRAND_CHECK(!breaks && !padded, "MGF output: spectrum ", position + 1, " ('", s.id, "'): the ", key,
               " value has ", breaks ? "a line break" : "leading or trailing white space",
               " and would not read back as written");
}

void append_spectrum(std::string& out, const Spectrum& s, size_t position) {
  check_text_field(s, position, "TITLE", s.id);
  check_text_field(s, position, "SCANS", s.scans);
  check_text_field(s, position, "SEQ", s.peptide);
  STRAND_CHECK(std::isfinite(s.precursor_mz) && s.precursor_mz > 0, "MGF output: spectrum ", position + 1, " ('",
               s.id, "'): the precursor m/z must be positive, got ", s.precursor_mz);
  STRAND_CHECK(std::isfinite(s.precursor_intensity), "MGF output: spectrum ", position + 1, " ('", s.id,
               "'): the precursor intensity is not finite");
  STRAND_CHECK(std::abs(s.precursor_charge) <= 9999, "MGF output: spectrum ", position + 1, " ('", s.id,
               "'): charge ", s.precursor_charge, " has more than four digits");
  STRAND_CHECK(s.mz.size() == s.intensity.size(), "MGF output: spectrum ", position + 1, " ('", s.id, "'): ",
               s.mz.size(), " m/z values but ", s.intensity.size(), " intensities");
  out += "BEGIN IONS\n";
  if (!s.id.empty()) out += "TITLE=" + s.id + "\n";
  out += "PEPMASS=";
  append_number(out, s.precursor_mz);
  if (s.precursor_intensity != 0) {
    out += ' ';
    append_number(out, s.precursor_intensity);
  }
  out += '\n';
  if (s.precursor_charge != 0)
    out += "CHARGE=" + std::to_string(std::abs(s.precursor_charge)) + (s.precursor_charge > 0 ? "+\n" : "-\n");
  if (s.retention_time_s >= 0) {
    STRAND_CHECK(std::isfinite(s.retention_time_s), "MGF output: spectrum ", position + 1, " ('", s.id,
                 "'): the retention time is not finite");
    out += "RTINSECONDS=";
    append_number(out, s.retention_time_s);
    out += '\n';
  }
  if (!s.scans.empty()) out += "SCANS=" + s.scans + "\n";
  if (!s.peptide.empty()) out += "SEQ=" + s.peptide + "\n";
  for (size_t i = 0; i < s.mz.size(); ++i) {
    const double mz = s.mz[i];
    const double intensity = s.intensity[i];
    STRAND_CHECK(std::isfinite(mz) && mz >= 0 && std::isfinite(intensity) && intensity >= 0, "MGF output: spectrum ",
                 position + 1, " ('", s.id, "'): peak ", i + 1, " (", mz, ", ", intensity,
                 ") must have a finite, non-negative m/z and intensity");
    append_number(out, mz);
    out += ' ';
    append_number(out, intensity);
    out += '\n';
  }
  out += "END IONS\n\n";
}

}  // namespace

// -----------------------------------------------------------------------------------------------

std::vector<std::string> digest(std::string_view protein, const ResidueTable& table, const DigestOptions& options) {
  check_digest_options(options);
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  digest_into(protein, parseable_letters(table), options, seen, out);
  return out;
}

std::vector<std::string> digest_fasta(const std::string& path, const ResidueTable& table,
                                      const DigestOptions& options) {
  check_digest_options(options);
  const bio::io::SequenceFormat format = bio::io::detect_format(path);
  if (format != bio::io::SequenceFormat::Fasta)
    throw ParseError(Location{path, -1, ""}, std::string("expected a protein FASTA file, found ") +
                                                 bio::io::format_name(format));
  const auto parseable = parseable_letters(table);
  std::unordered_set<std::string> seen;
  std::vector<std::string> out;
  auto reader = bio::io::open_sequences(path);
  bio::io::SequenceRecord record;
  while (reader->next(record)) digest_into(record.seq, parseable, options, seen, out);
  return out;
}

SimulationOptions SimulationOptions::ideal() {
  SimulationOptions o;
  o.precursor_ppm = 0;
  o.isotope_error_probability = 0;
  o.a_ions = AIons::None;
  o.immonium_ions = false;
  o.water_loss_probability = 0;
  o.ammonia_loss_probability = 0;
  o.missing_probability = 0;
  o.fragment_ppm_sigma = 0;
  o.intensity_sigma = 0;
  o.proline_enhancement = 1;
  o.acidic_enhancement = 1;
  o.noise_peaks_min = 0;
  o.noise_peaks_max = 0;
  o.variable_modifications.clear();
  o.max_peaks = 0;
  return o;
}

void SimulationOptions::validate() const {
  STRAND_CHECK(!charges.empty() && charges.size() == charge_weights.size(),
               "simulation options: charges and charge_weights must be non-empty and of the same size, got ",
               charges.size(), " and ", charge_weights.size());
  double total = 0;
  for (size_t i = 0; i < charges.size(); ++i) {
    STRAND_CHECK(charges[i] >= 1, "simulation options: precursor charges must be >= 1, got ", charges[i]);
    check_non_negative(charge_weights[i], "a charge weight");
    total += charge_weights[i];
  }
  STRAND_CHECK(total > 0, "simulation options: the charge weights sum to 0");
  check_non_negative(precursor_ppm, "precursor_ppm");
  check_probability(isotope_error_probability, "isotope_error_probability");
  STRAND_CHECK(max_fragment_charge >= 1, "simulation options: max_fragment_charge must be >= 1, got ",
               max_fragment_charge);
  check_probability(water_loss_probability, "water_loss_probability");
  check_probability(ammonia_loss_probability, "ammonia_loss_probability");
  check_range(loss_intensity_min, loss_intensity_max, "loss_intensity_min..loss_intensity_max");
  check_probability(missing_probability, "missing_probability");
  check_non_negative(fragment_ppm_sigma, "fragment_ppm_sigma");
  check_non_negative(y_intensity, "y_intensity");
  check_non_negative(b_intensity, "b_intensity");
  check_non_negative(a_intensity, "a_intensity");
  check_non_negative(immonium_intensity, "immonium_intensity");
  check_non_negative(multiply_charged_factor, "multiply_charged_factor");
  check_non_negative(intensity_sigma, "intensity_sigma");
  check_non_negative(proline_enhancement, "proline_enhancement");
  check_non_negative(acidic_enhancement, "acidic_enhancement");
  STRAND_CHECK(noise_peaks_min >= 0 && noise_peaks_min <= noise_peaks_max,
               "simulation options: noise peaks must satisfy 0 <= min <= max, got ", noise_peaks_min, "..",
               noise_peaks_max);
  check_range(noise_intensity_min, noise_intensity_max, "noise_intensity_min..noise_intensity_max");
  for (const auto& m : variable_modifications) check_probability(m.probability, "a variable modification probability");
  STRAND_CHECK(std::isfinite(min_mz) && std::isfinite(max_mz) && min_mz >= 0 && min_mz < max_mz,
               "simulation options: the m/z range must satisfy 0 <= min_mz < max_mz, got ", min_mz, "..", max_mz);
  STRAND_CHECK(max_peaks >= 0, "simulation options: max_peaks must be >= 0 (0 = no limit), got ", max_peaks);
}

int draw_charge(const SimulationOptions& options, Rng& rng) {
  options.validate();
  double total = 0;
  for (const double w : options.charge_weights) total += w;
  const double u = rng.uniform01() * total;
  double cumulative = 0;
  for (size_t i = 0; i < options.charges.size(); ++i) {
    cumulative += options.charge_weights[i];
    if (u < cumulative) return options.charges[i];
  }
  // Rounding can leave u at the total: the last charge with a positive weight.
  for (size_t i = options.charges.size(); i-- > 0;)
    if (options.charge_weights[i] > 0) return options.charges[i];
  return options.charges.back();
}

Spectrum simulate(const ResidueTable& table, const std::vector<int>& tokens, int charge,
                  const SimulationOptions& options, Rng& rng) {
  options.validate();
  STRAND_CHECK(charge >= 1, "simulate: the precursor charge must be >= 1, got ", charge);
  const auto& residues = table.residues();
  for (size_t k = 0; k < tokens.size(); ++k) {
    const int t = tokens[k];
    STRAND_CHECK(t >= 0 && static_cast<size_t>(t) < residues.size(), "simulate: token ", t, " at position ", k + 1,
                 " is not in the residue table");
    STRAND_CHECK(k == 0 || residues[static_cast<size_t>(t)].amino_acid != 0, "simulate: N-terminal token '",
                 residues[static_cast<size_t>(t)].token, "' at position ", k + 1, " (it must come first)");
  }

  std::vector<int> peptide = tokens;
  apply_modifications(table, peptide, options.variable_modifications, rng);
  std::vector<char> aa;  // residue letters, N-terminal token left out
  for (const int t : peptide)
    if (residues[static_cast<size_t>(t)].amino_acid != 0) aa.push_back(residues[static_cast<size_t>(t)].amino_acid);
  STRAND_CHECK(!aa.empty(), "simulate: the peptide has no residues");
  const size_t n = aa.size();
  const double neutral = table.peptide_mass(peptide);

  Spectrum out;
  out.peptide = table.format(peptide);
  out.id = out.peptide + "/" + std::to_string(charge);
  out.precursor_charge = charge;
  out.ms_level = 2;

  // Precursor: isotope pick, then the ppm error.
  const int isotope = chance(rng, options.isotope_error_probability) ? 1 : 0;
  const double ppm = options.precursor_ppm > 0 ? uniform(rng, -options.precursor_ppm, options.precursor_ppm) : 0;
  out.precursor_mz =
      (mz_of(neutral, charge) + static_cast<double>(isotope) * kIsotopeSpacing / static_cast<double>(charge)) *
      (1 + ppm * 1e-6);

  std::vector<Peak> peaks;
  const auto with_error = [&](double mz) {
    return options.fragment_ppm_sigma > 0 ? mz * (1 + options.fragment_ppm_sigma * normal(rng) * 1e-6) : mz;
  };
  const auto log_normal = [&] { return options.intensity_sigma > 0 ? std::exp(options.intensity_sigma * normal(rng)) : 1.0; };
  const auto present = [&] { return !chance(rng, options.missing_probability); };
  // Enhancement of the cleavage between residue i and i + 1 (1-based i = 1 .. n - 1).
  const auto bond_factor = [&](size_t i) {
    double f = 1;
    if (aa[i] == 'P') f *= options.proline_enhancement;
    if (aa[i - 1] == 'D' || aa[i - 1] == 'E') f *= options.acidic_enhancement;
    return f;
  };
  // A b or y peak with its neutral losses.
  const auto add_series_ion = [&](double mz, double base, int z) {
    if (!present()) return;
    const double intensity = base * log_normal();
    peaks.push_back({with_error(mz), intensity});
    const double zd = static_cast<double>(z);
    if (chance(rng, options.water_loss_probability))
      peaks.push_back({with_error(mz - kWater / zd),
                       intensity * uniform(rng, options.loss_intensity_min, options.loss_intensity_max)});
    if (chance(rng, options.ammonia_loss_probability))
      peaks.push_back({with_error(mz - kAmmonia / zd),
                       intensity * uniform(rng, options.loss_intensity_min, options.loss_intensity_max)});
  };

  const int max_fragment_charge = std::max(1, std::min(charge - 1, options.max_fragment_charge));
  double charge_factor = 1;
  for (int z = 1; z <= max_fragment_charge; ++z, charge_factor *= options.multiply_charged_factor) {
    const std::vector<double> b = table.b_ions(peptide, z);
    const std::vector<double> y = table.y_ions(peptide, z);
    STRAND_ASSERT(b.size() == n - 1 && y.size() == n - 1, "b/y ion counts do not match the peptide length");
    for (size_t i = 1; i < n; ++i) {
      const double bond = bond_factor(i);
      if (options.b_ions) add_series_ion(b[i - 1], options.b_intensity * bond * charge_factor, z);
      if (options.y_ions) add_series_ion(y[n - i - 1], options.y_intensity * bond * charge_factor, z);
    }
    if (options.a_ions == AIons::All || (options.a_ions == AIons::A2 && z == 1)) {
      const size_t first = options.a_ions == AIons::A2 ? 2 : 1;
      const size_t last = options.a_ions == AIons::A2 ? std::min<size_t>(2, n - 1) : n - 1;
      for (size_t i = first; i <= last; ++i) {
        if (!present()) continue;
        const double intensity = options.a_intensity * bond_factor(i) * charge_factor * log_normal();
        peaks.push_back({with_error(b[i - 1] - kCarbonMonoxide / static_cast<double>(z)), intensity});
      }
    }
  }
  if (options.immonium_ions) {
    std::vector<int> done;
    for (const int t : peptide) {
      const Residue& r = residues[static_cast<size_t>(t)];
      if (r.amino_acid == 0 || std::find(done.begin(), done.end(), t) != done.end()) continue;
      done.push_back(t);
      if (!present()) continue;
      peaks.push_back({with_error(r.mass - kCarbonMonoxide + kProton), options.immonium_intensity * log_normal()});
    }
  }
  // Noise up to the singly protonated peptide.
  const double noise_hi = std::min(options.max_mz, neutral + kProton);
  if (noise_hi > options.min_mz && options.noise_peaks_max > 0) {
    const uint64_t spread = static_cast<uint64_t>(options.noise_peaks_max - options.noise_peaks_min) + 1;
    const uint64_t count = static_cast<uint64_t>(options.noise_peaks_min) + rng.uniform(spread);
    for (uint64_t k = 0; k < count; ++k) {
      const double mz = uniform(rng, options.min_mz, noise_hi);
      peaks.push_back({mz, uniform(rng, options.noise_intensity_min, options.noise_intensity_max)});
    }
  }

  // Range, order, exact duplicates, peak limit.
  peaks.erase(std::remove_if(peaks.begin(), peaks.end(),
                             [&](const Peak& p) { return !(p.mz >= options.min_mz && p.mz <= options.max_mz); }),
              peaks.end());
  const auto by_mz = [](const Peak& a, const Peak& b) {
    return a.mz < b.mz || (a.mz == b.mz && a.intensity < b.intensity);
  };
  std::sort(peaks.begin(), peaks.end(), by_mz);
  std::vector<Peak> merged;
  for (const Peak& p : peaks) {
    if (!merged.empty() && merged.back().mz == p.mz)
      merged.back().intensity += p.intensity;
    else
      merged.push_back(p);
  }
  if (options.max_peaks > 0 && merged.size() > static_cast<size_t>(options.max_peaks)) {
    std::sort(merged.begin(), merged.end(), [](const Peak& a, const Peak& b) {
      return a.intensity > b.intensity || (a.intensity == b.intensity && a.mz < b.mz);
    });
    merged.resize(static_cast<size_t>(options.max_peaks));
    std::sort(merged.begin(), merged.end(), by_mz);
  }
  out.mz.reserve(merged.size());
  out.intensity.reserve(merged.size());
  for (const Peak& p : merged) {
    out.mz.push_back(p.mz);
    out.intensity.push_back(p.intensity);
  }
  return out;
}

std::vector<Spectrum> simulate_spectra(const ResidueTable& table, const std::vector<std::string>& peptides,
                                       int64_t count, const SimulationOptions& options, uint64_t seed) {
  options.validate();
  STRAND_CHECK(count >= 0, "simulate_spectra: the spectrum count must be >= 0, got ", count);
  std::vector<Spectrum> out;
  if (count == 0) return out;
  STRAND_CHECK(!peptides.empty(), "simulate_spectra: no peptides to simulate");
  std::vector<std::vector<int>> parsed;
  parsed.reserve(peptides.size());
  for (const auto& p : peptides) parsed.push_back(table.parse(p));
  out.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    Rng rng(seed, kSimulationStream + static_cast<uint64_t>(i));
    const auto& tokens = parsed[rng.uniform(parsed.size())];
    const int charge = draw_charge(options, rng);
    Spectrum s = simulate(table, tokens, charge, options, rng);
    s.id = "sim" + std::to_string(i + 1) + ":" + s.id;
    s.index = i;
    s.scans = std::to_string(i + 1);
    out.push_back(std::move(s));
  }
  return out;
}

std::string format_mgf(const std::vector<Spectrum>& spectra) {
  std::string out;
  for (size_t i = 0; i < spectra.size(); ++i) append_spectrum(out, spectra[i], i);
  return out;
}

void write_mgf(const std::string& path, const std::vector<Spectrum>& spectra) {
  strand::io::AtomicFile file(path);
  std::string chunk;
  for (size_t i = 0; i < spectra.size(); ++i) {
    chunk.clear();
    append_spectrum(chunk, spectra[i], i);
    file.write(chunk);
  }
  file.commit();
}

}  // namespace strand::bio::spectra
