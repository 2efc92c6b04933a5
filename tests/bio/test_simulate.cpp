// In-silico digestion, the MS/MS spectrum simulator and the annotated MGF writer
// (bio/spectra/simulate.h). Expected digests were worked out by hand from the trypsin rule and
// checked with a separate Python script; expected ions come from ResidueTable::b_ions / y_ions.
#include "bio/spectra/simulate.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "tests/temp_dir.h"

namespace sp = strand::bio::spectra;

namespace {


const sp::ResidueTable& table() {
  static const sp::ResidueTable t = sp::ResidueTable::casanovo();
  return t;
}

// The hand-written protein: cleavage products A .. H (see Digest.TrypsinRule...).
const std::string kA = "MAGICKPEPTIDER";                  // 14, KP inside: not cleaved
const std::string kB = "SHQTK";                           // 5: too short alone
const std::string kC = "LLNGERPEPK";                      // 10, RP inside: not cleaved
const std::string kD = std::string(27, 'W') + "K";        // 28
const std::string kE = "DEFGHR";                          // 6: too short alone
const std::string kF = "XYZAMPLEK";                       // X, Z: not parseable
const std::string kG = "NQSTVLWR";                        // 8
const std::string kH = "LASTPEPTIDE";                     // 11, protein C-terminus
const std::string kProtein = kA + kB + kC + kD + kE + kF + kG + kH;

/// b and y ions at charges 1 .. max_charge within [lo, hi], sorted.
std::vector<double> theoretical(const std::vector<int>& tokens, int max_charge, double lo = 50, double hi = 2500) {
  std::vector<double> out;
  for (int z = 1; z <= max_charge; ++z) {
    for (const double mz : table().b_ions(tokens, z)) out.push_back(mz);
    for (const double mz : table().y_ions(tokens, z)) out.push_back(mz);
  }
  out.erase(std::remove_if(out.begin(), out.end(), [&](double mz) { return mz < lo || mz > hi; }), out.end());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool contains(const std::vector<double>& v, double x) { return std::find(v.begin(), v.end(), x) != v.end(); }

double intensity_at(const sp::Spectrum& s, double mz) {
  for (size_t i = 0; i < s.mz.size(); ++i)
    if (s.mz[i] == mz) return s.intensity[i];
  return -1;
}

sp::Spectrum simulate(const std::string& peptide, int charge, const sp::SimulationOptions& options, uint64_t seed) {
  strand::Rng rng(seed);
  return sp::simulate(table(), table().parse(peptide), charge, options, rng);
}

void expect_same_spectra(const std::vector<sp::Spectrum>& a, const std::vector<sp::Spectrum>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("spectrum " + std::to_string(i));
    EXPECT_EQ(a[i].id, b[i].id);
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_EQ(a[i].ms_level, b[i].ms_level);
    EXPECT_EQ(a[i].precursor_mz, b[i].precursor_mz);
    EXPECT_EQ(a[i].precursor_intensity, b[i].precursor_intensity);
    EXPECT_EQ(a[i].precursor_charge, b[i].precursor_charge);
    EXPECT_EQ(a[i].retention_time_s, b[i].retention_time_s);
    EXPECT_EQ(a[i].scans, b[i].scans);
    EXPECT_EQ(a[i].peptide, b[i].peptide);
    EXPECT_EQ(a[i].mz, b[i].mz);
    EXPECT_EQ(a[i].intensity, b[i].intensity);
  }
}

std::vector<sp::Spectrum> read_all(sp::SpectrumReader& reader) {
  std::vector<sp::Spectrum> out;
  sp::Spectrum s;
  while (reader.next(s)) out.push_back(s);
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Digestion

TEST(Digest, TrypsinRuleMissedCleavagesAndLengths) {
  sp::DigestOptions none;
  none.missed_cleavages = 0;
  EXPECT_EQ(sp::digest(kProtein, table(), none), (std::vector<std::string>{kA, kC, kD, kG, kH}));

  // Default: one missed cleavage, 7..30 residues. A+B (19), B+C (15), G+H (19) join; C+D (38)
  // and D+E (34) are too long; pairs with F contain X/Z.
  EXPECT_EQ(sp::digest(kProtein, table()),
            (std::vector<std::string>{kA, kA + kB, kB + kC, kC, kD, kG, kG + kH, kH}));

  sp::DigestOptions two;
  two.missed_cleavages = 2;
  EXPECT_EQ(sp::digest(kProtein, table(), two),
            (std::vector<std::string>{kA, kA + kB, kA + kB + kC, kB + kC, kC, kD, kG, kG + kH, kH}));
  two.max_length = 28;  // A+B+C (29) drops, D (28) stays
  EXPECT_EQ(sp::digest(kProtein, table(), two),
            (std::vector<std::string>{kA, kA + kB, kB + kC, kC, kD, kG, kG + kH, kH}));

  sp::DigestOptions short_ones;
  short_ones.missed_cleavages = 0;
  short_ones.min_length = 5;
  short_ones.max_length = 10;
  EXPECT_EQ(sp::digest(kProtein, table(), short_ones), (std::vector<std::string>{kB, kC, kE, kG}));

  // A cleavage site right before P is no site; after K before anything else it is.
  EXPECT_EQ(sp::digest("AAAAAAKPAAAAAAAR", table(), none), (std::vector<std::string>{"AAAAAAKPAAAAAAAR"}));
  EXPECT_EQ(sp::digest("AAAAAAKGAAAAAAAR", table(), none), (std::vector<std::string>{"AAAAAAK", "GAAAAAAAR"}));
  EXPECT_EQ(sp::digest("AAAAAARPAAAAAAAK", table(), none), (std::vector<std::string>{"AAAAAARPAAAAAAAK"}));
}

TEST(Digest, SkipsLettersTheTableCannotRead) {
  sp::DigestOptions none;
  none.missed_cleavages = 0;
  for (const char bad : std::string("BJOUXZ*-.1")) {
    SCOPED_TRACE(std::string("letter ") + bad);
    EXPECT_TRUE(sp::digest(std::string("AAAAAA") + bad + "AAK", table(), none).empty());
    // Only the peptide holding the letter goes.
    EXPECT_EQ(sp::digest(std::string("GGGGGGGK") + "AAAAAA" + bad + "AAK", table(), none),
              (std::vector<std::string>{"GGGGGGGK"}));
  }
  EXPECT_EQ(sp::digest("AAAAAAGAAK", table(), none), (std::vector<std::string>{"AAAAAAGAAK"}));
  EXPECT_EQ(sp::digest("AAAAAAIAAK", table(), none), (std::vector<std::string>{"AAAAAAIAAK"}));  // I read as L
}

TEST(Digest, UniqueLowerCaseAndBadOptions) {
  EXPECT_EQ(sp::digest("SAMPLEDKSAMPLEDK", table()), (std::vector<std::string>{"SAMPLEDK", "SAMPLEDKSAMPLEDK"}));
  EXPECT_EQ(sp::digest("sampledkGEPTIDER", table()),
            (std::vector<std::string>{"SAMPLEDK", "SAMPLEDKGEPTIDER", "GEPTIDER"}));
  EXPECT_TRUE(sp::digest("", table()).empty());
  sp::DigestOptions bad;
  bad.missed_cleavages = -1;
  EXPECT_THROW(sp::digest(kProtein, table(), bad), strand::InputError);
  bad = {};
  bad.min_length = 10;
  bad.max_length = 9;
  EXPECT_THROW(sp::digest(kProtein, table(), bad), strand::InputError);
}

TEST(Digest, FastaFileFirstSeenOrderWithoutDuplicates) {
  strand_tests::TempDir dir("simulate");
  const std::string path = (dir / "proteins.fasta");
  {
    std::ofstream f(path);
    f << ">p1 first protein\n" << kA.substr(0, 7) << "\n" << kA.substr(7) << kB << kC << "\n";
    f << ">p2 shares C\n" << kC << kG << "\n";
  }
  EXPECT_EQ(sp::digest_fasta(path, table()),
            (std::vector<std::string>{kA, kA + kB, kB + kC, kC, kC + kG, kG}));
  EXPECT_THROW(sp::digest_fasta((dir / "missing.fasta"), table()), strand::IoError);
  const std::string fastq = (dir / "reads.fastq");
  {
    std::ofstream f(fastq);
    f << "@r1\nACGT\n+\nIIII\n";
  }
  EXPECT_THROW(sp::digest_fasta(fastq, table()), strand::ParseError);
}

// ---------------------------------------------------------------------------------------------
// Simulation

TEST(Simulate, IdealSpectrumIsExactlyTheBAndYIons) {
  const sp::SimulationOptions ideal = sp::SimulationOptions::ideal();
  const std::string peptide = "GACDEFHIKLMNPQRSTVWYK";
  const std::vector<int> tokens = table().parse(peptide);
  const double mass = table().peptide_mass(tokens);
  for (const int charge : {2, 3, 4}) {
    SCOPED_TRACE("charge " + std::to_string(charge));
    const sp::Spectrum s = simulate(peptide, charge, ideal, 11);
    const int fragment_charges = charge == 2 ? 1 : 2;
    const std::vector<double> expected = theoretical(tokens, fragment_charges);
    EXPECT_EQ(s.mz, expected);
    EXPECT_EQ(s.intensity.size(), s.mz.size());
    EXPECT_EQ(s.precursor_mz, sp::mz_of(mass, charge));
    EXPECT_EQ(s.precursor_charge, charge);
    EXPECT_EQ(s.peptide, table().format(tokens));
    EXPECT_EQ(s.peptide, "GAC[Carbamidomethyl]DEFHLKLMNPQRSTVWYK");
    EXPECT_EQ(s.id, s.peptide + "/" + std::to_string(charge));
    EXPECT_EQ(s.ms_level, 2);
    EXPECT_LT(s.retention_time_s, 0);
    // The 1+ ions are all there; 2+ b1 (29.5) is below 50 and left out.
    EXPECT_TRUE(contains(s.mz, table().b_ions(tokens, 1).front()));
    if (charge >= 3) {
      EXPECT_FALSE(contains(s.mz, table().b_ions(tokens, 2).front()));
      EXPECT_TRUE(contains(s.mz, table().y_ions(tokens, 2).back()));
    } else {
      EXPECT_FALSE(contains(s.mz, table().y_ions(tokens, 2).back()));
    }
  }
  // Only b or only y.
  sp::SimulationOptions only_y = ideal;
  only_y.b_ions = false;
  std::vector<double> ys = table().y_ions(tokens, 1);
  std::sort(ys.begin(), ys.end());
  ASSERT_GT(ys.back(), 2500);  // y20 (2523.2) is past max_mz and left out
  ys.pop_back();
  EXPECT_EQ(simulate(peptide, 2, only_y, 1).mz, ys);
  only_y.max_mz = 3000;
  EXPECT_EQ(simulate(peptide, 2, only_y, 1).mz.size(), ys.size() + 1);
}

TEST(Simulate, IntensityModel) {
  // Log-normal factor off: intensities are base * bond enhancement * charge factor, exactly.
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.proline_enhancement = 3;
  o.acidic_enhancement = 2;
  const std::string peptide = "ALNGERPEPDK";  // no b2 (2+) = b1 (1+) coincidence (as LL has)
  const std::vector<int> tokens = table().parse(peptide);
  const sp::Spectrum s = simulate(peptide, 3, o, 5);
  const size_t n = peptide.size();
  for (int z = 1; z <= 2; ++z) {
    const std::vector<double> b = table().b_ions(tokens, z);
    const std::vector<double> y = table().y_ions(tokens, z);
    const double charge_factor = z == 1 ? 1.0 : 0.5;
    for (size_t i = 1; i < n; ++i) {
      SCOPED_TRACE("bond " + std::to_string(i) + " charge " + std::to_string(z));
      double bond = 1;
      if (peptide[i] == 'P') bond *= 3;
      if (peptide[i - 1] == 'D' || peptide[i - 1] == 'E') bond *= 2;
      if (b[i - 1] >= 50) {
        EXPECT_EQ(intensity_at(s, b[i - 1]), 0.5 * bond * charge_factor);
      }
      EXPECT_EQ(intensity_at(s, y[n - i - 1]), 1.0 * bond * charge_factor);
    }
  }
  // With the log-normal factor on, y ions are stronger than b ions on average.
  sp::SimulationOptions noisy = sp::SimulationOptions::ideal();
  noisy.intensity_sigma = 0.6;
  double b_sum = 0;
  double y_sum = 0;
  std::set<double> distinct;
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const sp::Spectrum r = simulate(peptide, 2, noisy, seed);
    for (const double mz : table().b_ions(tokens, 1)) b_sum += intensity_at(r, mz);
    for (const double mz : table().y_ions(tokens, 1)) y_sum += intensity_at(r, mz);
    distinct.insert(r.intensity.begin(), r.intensity.end());
  }
  EXPECT_GT(y_sum, 1.5 * b_sum);
  EXPECT_GT(distinct.size(), 100u);
}

TEST(Simulate, FragmentAndPrecursorErrorsStayWithinTheirBounds) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.fragment_ppm_sigma = 10;
  o.precursor_ppm = 10;
  const std::string peptide = "ALNGERPEPKSAMPLEDK";
  const std::vector<int> tokens = table().parse(peptide);
  const std::vector<double> expected = theoretical(tokens, 2);
  const double precursor = sp::mz_of(table().peptide_mass(tokens), 3);
  double sum_sq = 0;
  double largest = 0;
  size_t count = 0;
  double largest_precursor = 0;
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    const sp::Spectrum s = simulate(peptide, 3, o, seed);
    ASSERT_EQ(s.mz.size(), expected.size());
    for (size_t i = 0; i < s.mz.size(); ++i) {
      // Ions of this peptide are more than 1000 ppm apart: the sorted orders agree.
      const double ppm = sp::ppm_error(s.mz[i], expected[i]);
      EXPECT_LE(std::abs(ppm), 5 * o.fragment_ppm_sigma) << s.mz[i] << " vs " << expected[i];
      sum_sq += ppm * ppm;
      largest = std::max(largest, std::abs(ppm));
      ++count;
    }
    const double precursor_ppm = sp::ppm_error(s.precursor_mz, precursor);
    EXPECT_LE(std::abs(precursor_ppm), o.precursor_ppm + 1e-6);
    largest_precursor = std::max(largest_precursor, std::abs(precursor_ppm));
  }
  for (size_t i = 1; i < expected.size(); ++i) ASSERT_GT(sp::ppm_error(expected[i], expected[i - 1]), 1000);
  const double sd = std::sqrt(sum_sq / static_cast<double>(count));
  EXPECT_GT(sd, 9);
  EXPECT_LT(sd, 11);
  EXPECT_GT(largest, 20);
  EXPECT_GT(largest_precursor, 8);
}

TEST(Simulate, NoisePeakCountWithinRange) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.noise_peaks_min = 5;
  o.noise_peaks_max = 12;
  const std::string peptide = "SAMPLEDKPEPTIDER";
  const std::vector<int> tokens = table().parse(peptide);
  const std::vector<double> expected = theoretical(tokens, 1);
  const double top = table().peptide_mass(tokens) + sp::kProton;
  std::set<size_t> counts;
  for (uint64_t seed = 1; seed <= 200; ++seed) {
    const sp::Spectrum s = simulate(peptide, 2, o, seed);
    size_t noise = 0;
    for (size_t i = 0; i < s.mz.size(); ++i) {
      if (contains(expected, s.mz[i])) continue;
      ++noise;
      EXPECT_GE(s.mz[i], 50);
      EXPECT_LE(s.mz[i], top);
      EXPECT_GE(s.intensity[i], o.noise_intensity_min);
      EXPECT_LE(s.intensity[i], o.noise_intensity_max);
    }
    EXPECT_EQ(s.mz.size(), expected.size() + noise);
    EXPECT_GE(noise, 5u);
    EXPECT_LE(noise, 12u);
    EXPECT_TRUE(std::is_sorted(s.mz.begin(), s.mz.end()));
    counts.insert(noise);
  }
  EXPECT_EQ(counts, (std::set<size_t>{5, 6, 7, 8, 9, 10, 11, 12}));
}

TEST(Simulate, AllFragmentsMissingLeavesOnlyNoise) {
  sp::SimulationOptions o;  // defaults: losses, a2 and immonium ions on
  o.missing_probability = 1;
  o.noise_peaks_min = 0;
  o.noise_peaks_max = 0;
  o.variable_modifications.clear();
  const std::string peptide = "SAMPLEDKPEPTIDER";
  for (uint64_t seed = 1; seed <= 10; ++seed) EXPECT_TRUE(simulate(peptide, 3, o, seed).mz.empty());

  o.noise_peaks_min = 3;
  o.noise_peaks_max = 20;
  o.fragment_ppm_sigma = 0;
  const std::vector<double> expected = theoretical(table().parse(peptide), 2);
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    const sp::Spectrum s = simulate(peptide, 3, o, seed);
    EXPECT_GE(s.mz.size(), 3u);
    EXPECT_LE(s.mz.size(), 20u);
    for (size_t i = 0; i < s.mz.size(); ++i) {
      EXPECT_FALSE(contains(expected, s.mz[i]));
      EXPECT_LE(s.intensity[i], o.noise_intensity_max);
    }
  }
  // With every fragment kept, the same knobs give the ions back.
  o.missing_probability = 0;
  const sp::Spectrum kept = simulate(peptide, 3, o, 1);
  for (const double mz : expected) EXPECT_TRUE(contains(kept.mz, mz)) << mz;
}

TEST(Simulate, NeutralLossesAIonsAndImmoniumIons) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.water_loss_probability = 1;
  o.ammonia_loss_probability = 1;
  o.a_ions = sp::AIons::A2;
  o.immonium_ions = true;
  const std::string peptide = "SAMPLEDKPEPTLDER";
  const std::vector<int> tokens = table().parse(peptide);
  const sp::Spectrum s = simulate(peptide, 2, o, 3);
  const std::vector<double> b = table().b_ions(tokens, 1);
  const std::vector<double> y = table().y_ions(tokens, 1);
  for (const auto* series : {&b, &y}) {
    for (const double mz : *series) {
      const double parent = intensity_at(s, mz);
      ASSERT_GT(parent, 0) << mz;
      for (const double loss : {sp::kWater, sp::kAmmonia}) {
        if (mz - loss < 50) continue;
        const double lost = intensity_at(s, mz - loss / 1.0);
        EXPECT_GE(lost, o.loss_intensity_min * parent) << mz << " - " << loss;
        EXPECT_LE(lost, o.loss_intensity_max * parent) << mz << " - " << loss;
      }
    }
  }
  EXPECT_GT(intensity_at(s, b[1] - sp::kCarbonMonoxide / 1.0), 0);  // a2
  EXPECT_LT(intensity_at(s, b[2] - sp::kCarbonMonoxide / 1.0), 0);  // no a3 with AIons::A2
  const auto immonium = [](char residue) {
    const int t = table().find(std::string(1, residue));
    return table().residues()[static_cast<size_t>(t)].mass - sp::kCarbonMonoxide + sp::kProton;
  };
  for (const char r : std::string("PLDERTK")) EXPECT_GT(intensity_at(s, immonium(r)), 0) << r;
  EXPECT_LT(intensity_at(s, immonium('W')), 0);  // not in the peptide
  // Every peak is one of these kinds: 2 (b, y) * 3 (plain, -H2O, -NH3) * 15 bonds, a2, 9 immonium
  // ions (S at 60.04, A at 44.05 below 50 is left out) within range, less the ones below 50.
  EXPECT_LE(s.mz.size(), 2u * 3u * 15u + 1u + 9u);

  // At 3+ the 2+ fragments lose H2O / 2 and NH3 / 2 in m/z.
  const sp::Spectrum three = simulate(peptide, 3, o, 3);
  for (const double mz : table().y_ions(tokens, 2)) {
    ASSERT_GT(intensity_at(three, mz), 0) << mz;
    EXPECT_GT(intensity_at(three, mz - sp::kWater / 2.0), 0) << mz;
    EXPECT_GT(intensity_at(three, mz - sp::kAmmonia / 2.0), 0) << mz;
  }

  sp::SimulationOptions all = sp::SimulationOptions::ideal();
  all.a_ions = sp::AIons::All;
  const sp::Spectrum with_a = simulate(peptide, 3, all, 3);
  for (int z = 1; z <= 2; ++z)
    for (const double mz : table().b_ions(tokens, z)) {
      const double a = mz - sp::kCarbonMonoxide / static_cast<double>(z);
      if (a >= 50) {
        EXPECT_GT(intensity_at(with_a, a), 0) << a;
      }
    }
}

TEST(Simulate, IsotopeErrorShiftsThePrecursor) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.isotope_error_probability = 1;
  const std::string peptide = "SAMPLEDKPEPTIDER";
  const double mass = table().peptide_mass(table().parse(peptide));
  for (const int z : {1, 2, 3, 4}) {
    const sp::Spectrum s = simulate(peptide, z, o, 9);
    EXPECT_NEAR(s.precursor_mz, sp::mz_of(mass, z) + 1.003355 / z, 1e-9) << z;
    EXPECT_NEAR((s.precursor_mz - sp::mz_of(mass, z)) * z, sp::kIsotopeSpacing, 1e-9) << z;
    EXPECT_TRUE(sp::precursor_matches(mass, s.precursor_mz, z, 1, 1, 1));
    EXPECT_FALSE(sp::precursor_matches(mass, s.precursor_mz, z, 1, 0, 0));
  }
  o.isotope_error_probability = 0.5;
  int shifted = 0;
  int plain = 0;
  for (uint64_t seed = 1; seed <= 100; ++seed) {
    const double mz = simulate(peptide, 2, o, seed).precursor_mz;
    if (mz == sp::mz_of(mass, 2)) ++plain;
    else if (std::abs(mz - sp::mz_of(mass, 2) - sp::kIsotopeSpacing / 2) < 1e-9) ++shifted;
  }
  EXPECT_EQ(shifted + plain, 100);
  EXPECT_GT(shifted, 25);
  EXPECT_GT(plain, 25);
}

TEST(Simulate, ModificationsAppearInSeqAndMasses) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.variable_modifications = {{"M[Oxidation]", 1}, {"[Acetyl]-", 1}};
  const std::string peptide = "MCPEPTMIDEK";
  const std::vector<int> plain = table().parse(peptide);
  const sp::Spectrum s = simulate(peptide, 2, o, 1);
  EXPECT_EQ(s.peptide, "[Acetyl]-M[Oxidation]C[Carbamidomethyl]PEPTM[Oxidation]LDEK");
  const std::vector<int> modified = table().parse(s.peptide);
  EXPECT_EQ(s.precursor_mz, sp::mz_of(table().peptide_mass(modified), 2));
  EXPECT_NEAR(s.precursor_mz - sp::mz_of(table().peptide_mass(plain), 2), (42.010565 + 2 * 15.994915) / 2, 1e-9);
  EXPECT_EQ(s.mz, theoretical(modified, 1));
  // b1 carries the acetyl and the oxidation.
  EXPECT_NEAR(table().b_ions(modified, 1).front(), 131.040485 + 15.994915 + 42.010565 + sp::kProton, 1e-9);

  // Without variable modifications only the fixed carbamidomethyl remains.
  const sp::Spectrum bare = simulate(peptide, 2, sp::SimulationOptions::ideal(), 1);
  EXPECT_EQ(bare.peptide, "MC[Carbamidomethyl]PEPTMLDEK");
  EXPECT_EQ(bare.precursor_mz, sp::mz_of(table().peptide_mass(plain), 2));

  // At probability 0.5 each M and the N-terminus vary from spectrum to spectrum.
  o.variable_modifications = {{"M[Oxidation]", 0.5}, {"[Acetyl]-", 0.5}};
  std::set<std::string> seen;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const sp::Spectrum r = simulate(peptide, 2, o, seed);
    EXPECT_EQ(r.precursor_mz, sp::mz_of(table().peptide_mass(table().parse(r.peptide)), 2)) << r.peptide;
    seen.insert(r.peptide);
  }
  EXPECT_EQ(seen.size(), 8u);  // 2 (acetyl) * 2 * 2 (two M)

  // An existing N-terminal modification is kept, not doubled.
  o.variable_modifications = {{"[Acetyl]-", 1}};
  EXPECT_EQ(simulate("[Carbamyl]-MPEPTIDEK", 2, o, 1).peptide, "[Carbamyl]-MPEPTLDEK");
}

TEST(Simulate, MaxPeaksKeepsTheMostIntense) {
  sp::SimulationOptions o = sp::SimulationOptions::ideal();
  o.intensity_sigma = 0.8;
  o.noise_peaks_min = 50;
  o.noise_peaks_max = 50;
  const sp::Spectrum all = simulate("SAMPLEDKPEPTIDER", 3, o, 4);
  o.max_peaks = 10;
  const sp::Spectrum top = simulate("SAMPLEDKPEPTIDER", 3, o, 4);
  ASSERT_GT(all.mz.size(), 10u);
  ASSERT_EQ(top.mz.size(), 10u);
  EXPECT_TRUE(std::is_sorted(top.mz.begin(), top.mz.end()));
  std::vector<double> sorted = all.intensity;
  std::sort(sorted.begin(), sorted.end(), std::greater<double>());
  for (size_t i = 0; i < top.mz.size(); ++i) {
    EXPECT_EQ(intensity_at(all, top.mz[i]), top.intensity[i]);
    EXPECT_GE(top.intensity[i], sorted[9]);
  }
}

TEST(Simulate, SameSeedSameSpectraOtherSeedDifferent) {
  const std::vector<std::string> peptides = sp::digest(kProtein, table());
  const sp::SimulationOptions o;  // defaults: every random knob on
  const auto a = sp::simulate_spectra(table(), peptides, 20, o, 42);
  const auto b = sp::simulate_spectra(table(), peptides, 20, o, 42);
  const auto c = sp::simulate_spectra(table(), peptides, 20, o, 43);
  ASSERT_EQ(a.size(), 20u);
  EXPECT_EQ(sp::format_mgf(a), sp::format_mgf(b));
  EXPECT_NE(sp::format_mgf(a), sp::format_mgf(c));
  expect_same_spectra(a, b);
  // Spectrum i does not depend on how many are generated.
  const auto first = sp::simulate_spectra(table(), peptides, 5, o, 42);
  EXPECT_EQ(sp::format_mgf(first), sp::format_mgf(std::vector<sp::Spectrum>(a.begin(), a.begin() + 5)));
  // Ids, indices, scans; peptides and charges vary.
  std::set<std::string> sequences;
  std::set<int> charges;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].index, static_cast<int64_t>(i));
    EXPECT_EQ(a[i].scans, std::to_string(i + 1));
    EXPECT_EQ(a[i].id, "sim" + std::to_string(i + 1) + ":" + a[i].peptide + "/" + std::to_string(a[i].precursor_charge));
    EXPECT_FALSE(a[i].mz.empty());
    sequences.insert(a[i].peptide);
    charges.insert(a[i].precursor_charge);
  }
  EXPECT_GT(sequences.size(), 4u);
  EXPECT_GT(charges.size(), 1u);
  // A single simulate() under one seed repeats too, and another seed differs.
  EXPECT_EQ(simulate(kC, 2, o, 5).mz, simulate(kC, 2, o, 5).mz);
  EXPECT_NE(simulate(kC, 2, o, 5).mz, simulate(kC, 2, o, 6).mz);
}

TEST(Simulate, DrawChargeFollowsTheWeights) {
  sp::SimulationOptions o;
  o.charges = {2, 3, 5};
  o.charge_weights = {1, 0, 3};
  strand::Rng rng(1);
  int twos = 0;
  int fives = 0;
  for (int i = 0; i < 1000; ++i) {
    const int z = sp::draw_charge(o, rng);
    ASSERT_TRUE(z == 2 || z == 5) << z;
    (z == 2 ? twos : fives)++;
  }
  EXPECT_GT(twos, 200);
  EXPECT_LT(twos, 300);
  EXPECT_EQ(twos + fives, 1000);
}

TEST(Simulate, RejectsBadInput) {
  const std::vector<int> tokens = table().parse("PEPTIDEK");
  strand::Rng rng(1);
  sp::SimulationOptions o;
  EXPECT_THROW(sp::simulate(table(), tokens, 0, o, rng), strand::InputError);
  EXPECT_THROW(sp::simulate(table(), {}, 2, o, rng), strand::InputError);
  EXPECT_THROW(sp::simulate(table(), {1000}, 2, o, rng), strand::InputError);
  EXPECT_THROW(sp::simulate(table(), {tokens[0], table().find("[Acetyl]-")}, 2, o, rng), strand::InputError);
  o.missing_probability = 1.5;
  EXPECT_THROW(sp::simulate(table(), tokens, 2, o, rng), strand::InputError);
  o = {};
  o.variable_modifications = {{"M[Foo]", 0.1}};
  EXPECT_THROW(sp::simulate(table(), tokens, 2, o, rng), strand::InputError);
  o.variable_modifications = {{"C[Carbamidomethyl]", 0.1}};  // fixed: no plain C to modify
  EXPECT_THROW(sp::simulate(table(), tokens, 2, o, rng), strand::InputError);
  o = {};
  o.charge_weights = {1, 1};
  EXPECT_THROW(o.validate(), strand::InputError);
  o = {};
  o.noise_peaks_min = 5;
  o.noise_peaks_max = 4;
  EXPECT_THROW(o.validate(), strand::InputError);
  EXPECT_NO_THROW(sp::SimulationOptions().validate());
  EXPECT_NO_THROW(sp::SimulationOptions::ideal().validate());
  EXPECT_THROW(sp::simulate_spectra(table(), {"PEPTIDEB"}, 1, {}, 1), strand::InputError);
  EXPECT_THROW(sp::simulate_spectra(table(), {}, 1, {}, 1), strand::InputError);
  EXPECT_TRUE(sp::simulate_spectra(table(), {}, 0, {}, 1).empty());
}

// ---------------------------------------------------------------------------------------------
// MGF output

TEST(SimulatedMgf, RoundTripThroughOpenMgf) {
  std::vector<sp::Spectrum> spectra = sp::simulate_spectra(table(), sp::digest(kProtein, table()), 12, {}, 7);
  sp::Spectrum hand;
  hand.id = "hand made: scan 2478";
  hand.precursor_mz = 1.0 / 3.0 + 500;
  hand.precursor_intensity = 1234.5;
  hand.precursor_charge = 0;
  hand.retention_time_s = 824.574;
  hand.scans = "F1:2478";
  hand.peptide = "HQGVM+15.995VGM+15.995GQK";
  hand.mz = {0.1 + 0.2, 100.0 / 7.0, 1e-7, 2500.000000000001};
  hand.intensity = {0, 1e300, 5e-324, 123456789.123456789};
  spectra.push_back(hand);
  sp::Spectrum negative;  // no TITLE: the reader names it by its index
  negative.precursor_mz = 445.12;
  negative.precursor_charge = -2;
  spectra.push_back(negative);
  for (size_t i = 0; i < spectra.size(); ++i) spectra[i].index = static_cast<int64_t>(i);
  spectra.back().id = std::to_string(spectra.size() - 1);
  std::vector<sp::Spectrum> written = spectra;
  written.back().id.clear();

  strand_tests::TempDir dir("simulate");
  const std::string path = (dir / "simulated.mgf");
  sp::write_mgf(path, written);
  auto reader = sp::open_mgf(path);
  const auto back = read_all(*reader);
  EXPECT_EQ(reader->stats().skipped, 0);
  expect_same_spectra(back, spectra);

  auto text_reader = sp::open_mgf_text(sp::format_mgf(written), "memory");
  expect_same_spectra(read_all(*text_reader), spectra);

  std::ifstream f(path);
  const std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, sp::format_mgf(written));
  EXPECT_NE(text.find("BEGIN IONS\nTITLE=sim1:"), std::string::npos);
  EXPECT_NE(text.find("\nCHARGE=" + std::to_string(spectra[0].precursor_charge) + "+\n"), std::string::npos);
  EXPECT_NE(text.find("\nSEQ=" + spectra[0].peptide + "\n"), std::string::npos);
  EXPECT_NE(text.find("\nSCANS=1\n"), std::string::npos);
  EXPECT_NE(text.find("\nRTINSECONDS=824.574\n"), std::string::npos);
  EXPECT_NE(text.find("\nPEPMASS=500.3333333333333 1234.5\n"), std::string::npos);
  EXPECT_NE(text.find("\nCHARGE=2-\n"), std::string::npos);
  EXPECT_EQ(text.find("RTINSECONDS", text.find("TITLE=sim1:")), text.find("RTINSECONDS=824.574"));

  // Empty list: an empty file.
  sp::write_mgf((dir / "empty.mgf"), {});
  EXPECT_TRUE(read_all(*sp::open_mgf((dir / "empty.mgf"))).empty());
}

TEST(SimulatedMgf, RejectsWhatWouldNotReadBack) {
  strand_tests::TempDir dir("simulate");
  const std::string path = (dir / "bad.mgf");
  sp::Spectrum good;
  good.id = "x";
  good.precursor_mz = 400;
  good.precursor_charge = 2;
  good.mz = {100};
  good.intensity = {1};
  EXPECT_NO_THROW(sp::format_mgf({good}));
  const auto rejects = [&](const std::function<void(sp::Spectrum&)>& spoil) {
    sp::Spectrum s = good;
    spoil(s);
    bool threw = false;
    try {
      sp::write_mgf(path, {good, s});
    } catch (const strand::InputError&) {
      threw = true;
    }
    return threw && !std::filesystem::exists(path);  // nothing half-written at the path
  };
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.id = "two\nlines"; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.id = " padded"; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.peptide = "PEPTIDEK\r"; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.scans = "1 "; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.precursor_mz = 0; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.precursor_mz = std::nan(""); }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.precursor_charge = 12345; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.intensity.clear(); }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.mz[0] = -1; }));
  EXPECT_TRUE(rejects([](sp::Spectrum& s) { s.intensity[0] = std::numeric_limits<double>::infinity(); }));
  EXPECT_FALSE(rejects([](sp::Spectrum& s) { s.id = "fine = title"; }));
  EXPECT_THROW(sp::write_mgf((dir / "no-such-dir/x.mgf"), {good}), strand::IoError);
}
