// mzTab 1.0 writer and validator (bio/spectra/mztab.h).
//
// Expected m/z values were computed by hand (Python 3, the same constants as masses.h):
//   (sum of residue masses + modification shifts + H2O 18.0105647 + z * proton 1.00727646688) / z
// with the residue masses of denovo.md §1.5; the sums are written next to each value.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/mztab.h"
#include "bio/spectra/spectrum.h"
#include "libseq/core/error.h"
#include "libseq/core/version.h"
#include "tests/temp_dir.h"

namespace {

namespace sp = strand::bio::spectra;


std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    if (end == std::string::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i > 0 ? sep : "") + parts[i];
  return out;
}

/// The lines of a document without the final empty one.
std::vector<std::string> lines_of(const std::string& text) {
  auto lines = split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::vector<std::string> lines_with_prefix(const std::string& text, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& l : lines_of(text))
    if (l.rfind(prefix + "\t", 0) == 0) out.push_back(l);
  return out;
}

/// The PSH columns (without the prefix).
std::vector<std::string> psh_columns(const std::string& text) {
  const auto psh = lines_with_prefix(text, "PSH");
  EXPECT_EQ(psh.size(), 1u);
  if (psh.empty()) return {};
  auto fields = split(psh[0], '\t');
  fields.erase(fields.begin());
  return fields;
}

/// PSM rows as column name -> value.
struct Row {
  std::vector<std::string> columns;
  std::vector<std::string> values;
  std::string operator[](const std::string& column) const {
    const auto it = std::find(columns.begin(), columns.end(), column);
    if (it == columns.end()) {
      ADD_FAILURE() << "no column " << column;
      return {};
    }
    return values.at(static_cast<size_t>(it - columns.begin()));
  }
};

std::vector<Row> psm_rows(const std::string& text) {
  const auto columns = psh_columns(text);
  std::vector<Row> out;
  for (const auto& l : lines_with_prefix(text, "PSM")) {
    auto fields = split(l, '\t');
    fields.erase(fields.begin());
    EXPECT_EQ(fields.size(), columns.size()) << l;
    out.push_back({columns, fields});
  }
  return out;
}

bool mentions(const std::vector<std::string>& problems, const std::string& needle) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(needle) != std::string::npos; });
}

std::string all(const std::vector<std::string>& problems) { return join(problems, "\n"); }

sp::Psm make_psm(const sp::ResidueTable& table, const std::string& peptide, int run, int64_t index, int charge,
                 double exp_mz, double score) {
  sp::Psm p;
  p.run = run;
  p.spectrum_index = index;
  p.charge = charge;
  p.exp_mz = exp_mz;
  p.tokens = table.parse(peptide);
  p.score = score;
  return p;
}

sp::MztabHeader test_header() {
  sp::MztabHeader h;
  h.description = "Strand\ntest run";
  h.software_name = "Strand";
  h.software_version = "1.2.3";
  h.runs = {"/data/sample.mgf", "spectra/run 2.mzML"};
  h.settings = {{"n_beams", "1"}, {"precursor_mass_tol", "50"}};
  h.command_line = "strand denovo --beams 1\tx";
  return h;
}

/// Six PSMs in scrambled order over two runs (MGF run 1, mzML run 2):
///   C (1, 0) CGHTNNIRPK      fixed carbamidomethyl C, retention time, 10 aa scores
///   E (1, 1) PEPTM[Oxidation]K, scans 2478
///   B (1, 3) [Acetyl]-PEPTM[Oxidation]IDE
///   F (1, 3) PEPTIDE          second PSM of spectrum 3, after B in the input
///   D (2, 2) [+25.980265]-SAMPLER, native id scan=3
///   A (2, 7) PEPTIDE          native id with spaces, scans 8
std::vector<sp::Psm> test_psms(const sp::ResidueTable& table) {
  std::vector<sp::Psm> psms;
  auto a = make_psm(table, "PEPTIDE", 2, 7, 1, 800.367, 0.5);
  a.native_id = "controllerType=0 controllerNumber=1 scan=8";
  a.scans = "8";
  auto b = make_psm(table, "[Acetyl]-PEPTM[Oxidation]IDE", 1, 3, 2, 495.2102, -0.5);
  b.aa_scores = {0.123456, 0.987654, 1.0, 0.5, 0.25, 0.000012, 0.75, 0.875};
  auto c = make_psm(table, "CGHTNNIRPK", 1, 0, 2, 523.2719384912345, 0.8125);
  c.aa_scores = {1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5};
  c.retention_time_s = 824.574;
  auto d = make_psm(table, "[+25.980265]-SAMPLER", 2, 2, 3, 277.134, 0.25);
  d.native_id = "scan=3";
  auto e = make_psm(table, "PEPTM[Oxidation]K", 1, 1, 2, 359.6756, 0.75);
  e.scans = "2478";
  auto f = make_psm(table, "PEPTIDE", 1, 3, 2, 400.6873, 0.125);
  psms = {a, b, c, d, e, f};
  return psms;
}

std::string test_document() {
  const auto table = sp::ResidueTable::casanovo();
  return sp::format_mztab(test_header(), table, test_psms(table));
}

/// file:// URI of a path relative to the working directory (`encoded_relative` already
/// percent-encoded); the directory's bytes outside [A-Za-z0-9-._~/] are percent-encoded.
std::string uri_of_relative(const std::string& encoded_relative) {
  std::string out = "file://";
  for (const char c : std::filesystem::current_path().lexically_normal().generic_string()) {
    const bool keep = std::isalnum(static_cast<unsigned char>(c)) || std::string("-._~/").find(c) != std::string::npos;
    if (keep) {
      out += c;
    } else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    }
  }
  return out + "/" + encoded_relative;
}

}  // namespace

// ---- writer ------------------------------------------------------------------------------------

TEST(MztabWrite, FileValidatesAndMatchesFormattedText) {
  strand_tests::TempDir dir("mztab");
  const auto table = sp::ResidueTable::casanovo();
  const std::string path = (dir.path / "out.mztab").string();
  sp::write_mztab(path, test_header(), table, test_psms(table));
  const std::string text = slurp(path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text, test_document());
  const auto problems = sp::validate_mztab(text);
  EXPECT_TRUE(problems.empty()) << all(problems);
  EXPECT_EQ(psm_rows(text).size(), 6u);
  // Only the output file is left in the directory (no temporary file).
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
    (void)entry;
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(MztabWrite, MetadataLinesExact) {
  const std::string text = test_document();
  const std::vector<std::string> expected = {
      "MTD\tmzTab-version\t1.0.0",
      "MTD\tmzTab-mode\tSummary",
      "MTD\tmzTab-type\tIdentification",
      "MTD\tdescription\tStrand test run",
      "MTD\tsoftware[1]\t[, , Strand, 1.2.3]",
      "MTD\tsoftware[1]-setting[1]\tcommand_line = strand denovo --beams 1 x",
      "MTD\tsoftware[1]-setting[2]\tn_beams = 1",
      "MTD\tsoftware[1]-setting[3]\tprecursor_mass_tol = 50",
      "MTD\tpsm_search_engine_score[1]\t[MS, MS:1001143, search engine specific score for PSMs, ]",
      "MTD\tfixed_mod[1]\t[UNIMOD, UNIMOD:4, Carbamidomethyl, ]",
      "MTD\tfixed_mod[1]-site\tC",
      "MTD\tfixed_mod[1]-position\tAnywhere",
      "MTD\tvariable_mod[1]\t[UNIMOD, UNIMOD:35, Oxidation, ]",
      "MTD\tvariable_mod[1]-site\tM",
      "MTD\tvariable_mod[1]-position\tAnywhere",
      "MTD\tvariable_mod[2]\t[UNIMOD, UNIMOD:7, Deamidated, ]",
      "MTD\tvariable_mod[2]-site\tN",
      "MTD\tvariable_mod[2]-position\tAnywhere",
      "MTD\tvariable_mod[3]\t[UNIMOD, UNIMOD:7, Deamidated, ]",
      "MTD\tvariable_mod[3]-site\tQ",
      "MTD\tvariable_mod[3]-position\tAnywhere",
      "MTD\tvariable_mod[4]\t[UNIMOD, UNIMOD:1, Acetyl, ]",
      "MTD\tvariable_mod[4]-site\tN-term",
      "MTD\tvariable_mod[4]-position\tAny N-term",
      "MTD\tvariable_mod[5]\t[UNIMOD, UNIMOD:5, Carbamyl, ]",
      "MTD\tvariable_mod[5]-site\tN-term",
      "MTD\tvariable_mod[5]-position\tAny N-term",
      "MTD\tvariable_mod[6]\t[UNIMOD, UNIMOD:385, Ammonia-loss, ]",
      "MTD\tvariable_mod[6]-site\tN-term",
      "MTD\tvariable_mod[6]-position\tAny N-term",
      "MTD\tvariable_mod[7]\t[CHEMMOD, CHEMMOD:+25.980265, +25.980265, ]",
      "MTD\tvariable_mod[7]-site\tN-term",
      "MTD\tvariable_mod[7]-position\tAny N-term",
      "MTD\tms_run[1]-format\t[MS, MS:1001062, Mascot MGF format, ]",
      "MTD\tms_run[1]-id_format\t[MS, MS:1000774, multiple peak list nativeID format, ]",
      "MTD\tms_run[1]-location\tfile:///data/sample.mgf",
      "MTD\tms_run[2]-format\t[MS, MS:1000584, mzML format, ]",
      "MTD\tms_run[2]-location\t" + uri_of_relative("spectra/run%202.mzML"),
  };
  EXPECT_EQ(lines_with_prefix(text, "MTD"), expected);
  // The metadata comes first, then one blank line, then the PSH.
  const auto lines = lines_of(text);
  ASSERT_GT(lines.size(), expected.size() + 1);
  EXPECT_EQ(std::vector<std::string>(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(expected.size())),
            expected);
  EXPECT_EQ(lines[expected.size()], "");
  EXPECT_EQ(lines[expected.size() + 1].rfind("PSH\t", 0), 0u);
}

TEST(MztabWrite, PshColumnOrder) {
  const std::vector<std::string> base = {"sequence",
                                         "PSM_ID",
                                         "accession",
                                         "unique",
                                         "database",
                                         "database_version",
                                         "search_engine",
                                         "search_engine_score[1]",
                                         "modifications",
                                         "retention_time",
                                         "charge",
                                         "exp_mass_to_charge",
                                         "calc_mass_to_charge",
                                         "spectra_ref",
                                         "pre",
                                         "post",
                                         "start",
                                         "end",
                                         "opt_global_aa_scores",
                                         "opt_global_cv_MS:1003169_proforma_peptidoform_sequence"};
  auto with_scans = base;
  with_scans.push_back("opt_global_cv_MS:1003057_scan_number");
  EXPECT_EQ(psh_columns(test_document()), with_scans);

  // Without any scans the scan-number column is left out.
  const auto table = sp::ResidueTable::casanovo();
  auto psms = test_psms(table);
  for (auto& p : psms) p.scans.clear();
  const std::string text = sp::format_mztab(test_header(), table, psms);
  EXPECT_EQ(psh_columns(text), base);
  EXPECT_TRUE(sp::validate_mztab(text).empty()) << all(sp::validate_mztab(text));
}

TEST(MztabWrite, ModificationsSequenceAndProforma) {
  // The Casanovo table reads I as L (one token for both), so sequences and ProForma show L.
  const auto rows = psm_rows(test_document());
  ASSERT_EQ(rows.size(), 6u);
  // Sorted order: C, E, B, F, D, A.
  EXPECT_EQ(rows[0]["sequence"], "CGHTNNLRPK");
  EXPECT_EQ(rows[0]["modifications"], "1-UNIMOD:4");  // fixed modifications are listed too
  EXPECT_EQ(rows[0]["opt_global_cv_MS:1003169_proforma_peptidoform_sequence"], "C[Carbamidomethyl]GHTNNLRPK");

  EXPECT_EQ(rows[1]["sequence"], "PEPTMK");
  EXPECT_EQ(rows[1]["modifications"], "5-UNIMOD:35");
  EXPECT_EQ(rows[1]["opt_global_cv_MS:1003169_proforma_peptidoform_sequence"], "PEPTM[Oxidation]K");

  EXPECT_EQ(rows[2]["sequence"], "PEPTMLDE");
  EXPECT_EQ(rows[2]["modifications"], "0-UNIMOD:1,5-UNIMOD:35");
  EXPECT_EQ(rows[2]["opt_global_cv_MS:1003169_proforma_peptidoform_sequence"], "[Acetyl]-PEPTM[Oxidation]LDE");

  EXPECT_EQ(rows[3]["sequence"], "PEPTLDE");
  EXPECT_EQ(rows[3]["modifications"], "null");
  EXPECT_EQ(rows[3]["opt_global_cv_MS:1003169_proforma_peptidoform_sequence"], "PEPTLDE");

  EXPECT_EQ(rows[4]["sequence"], "SAMPLER");
  EXPECT_EQ(rows[4]["modifications"], "0-CHEMMOD:+25.980265");
  EXPECT_EQ(rows[4]["opt_global_cv_MS:1003169_proforma_peptidoform_sequence"], "[+25.980265]-SAMPLER");

  for (const auto& r : rows) {
    EXPECT_EQ(r["search_engine"], "[, , Strand, 1.2.3]");
    for (const char* c : {"accession", "unique", "database", "database_version", "pre", "post", "start", "end"})
      EXPECT_EQ(r[c], "null") << c;
  }
}

TEST(MztabWrite, NumbersAndCalcMzAgainstHandComputed) {
  const auto rows = psm_rows(test_document());
  ASSERT_EQ(rows.size(), 6u);
  struct Expected {
    const char* sequence;
    int charge;
    double calc_mz;
  };
  // C: (C 103.009185 + 57.021464 + G + H + T + N + N + I + R + P + K + H2O + 2p) / 2
  // E: (P + E + P + T + M 131.040485 + 15.994915 + K + H2O + 2p) / 2
  // B: (42.010565 + P + E + P + T + M + 15.994915 + I + D + E + H2O + 2p) / 2
  // F: (PEPTIDE 781.349391 + H2O + 2p) / 2;  D: (25.980265 + SAMPLER + H2O + 3p) / 3;  A: PEPTIDE at 1+
  const Expected expected[] = {{"CGHTNNLRPK", 2, 598.8012843168799}, {"PEPTMK", 2, 359.67563581688},
                               {"PEPTMLDE", 2, 495.21023681688},     {"PEPTLDE", 2, 400.68725431688},
                               {"SAMPLER", 3, 277.13427270021333},   {"PEPTLDE", 1, 800.36723216688}};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["sequence"], expected[i].sequence);
    EXPECT_EQ(rows[i]["charge"], std::to_string(expected[i].charge));
    const std::string calc = rows[i]["calc_mass_to_charge"];
    EXPECT_NEAR(std::strtod(calc.c_str(), nullptr), expected[i].calc_mz, 1e-8) << calc;
    EXPECT_GE(calc.size() - calc.find('.') - 1, 6u) << calc;  // at least 6 decimals
  }
  // Experimental m/z: at least 6 decimals, every digit kept.
  EXPECT_EQ(rows[0]["exp_mass_to_charge"], "523.2719384912346");  // the double nearest 523.2719384912345
  EXPECT_EQ(rows[1]["exp_mass_to_charge"], "359.675600");
  EXPECT_EQ(rows[5]["exp_mass_to_charge"], "800.367000");
  // Peptide scores round-trip; retention time in seconds or null.
  EXPECT_EQ(rows[0]["search_engine_score[1]"], "0.8125");
  EXPECT_EQ(rows[2]["search_engine_score[1]"], "-0.5");
  EXPECT_EQ(rows[0]["retention_time"], "824.574");
  EXPECT_EQ(rows[1]["retention_time"], "null");
}

TEST(MztabWrite, AaScoreFormatting) {
  const auto rows = psm_rows(test_document());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0]["opt_global_aa_scores"],
            "1.00000,1.00000,1.00000,1.00000,1.00000,1.00000,1.00000,1.00000,1.00000,0.50000");
  // N-terminal [Acetyl]- has no score of its own: 8 scores for the 8 residues of PEPTMIDE.
  EXPECT_EQ(rows[2]["opt_global_aa_scores"], "0.12346,0.98765,1.00000,0.50000,0.25000,0.00001,0.75000,0.87500");
  EXPECT_EQ(rows[1]["opt_global_aa_scores"], "null");  // none given
}

TEST(MztabWrite, SpectraRefAndScanNumber) {
  const auto rows = psm_rows(test_document());
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0]["spectra_ref"], "ms_run[1]:index=0");  // MGF: 0-based index
  EXPECT_EQ(rows[1]["spectra_ref"], "ms_run[1]:index=1");
  EXPECT_EQ(rows[2]["spectra_ref"], "ms_run[1]:index=3");
  EXPECT_EQ(rows[4]["spectra_ref"], "ms_run[2]:scan=3");  // mzML: the native id
  EXPECT_EQ(rows[5]["spectra_ref"], "ms_run[2]:controllerType=0 controllerNumber=1 scan=8");
  EXPECT_EQ(rows[0]["opt_global_cv_MS:1003057_scan_number"], "null");
  EXPECT_EQ(rows[1]["opt_global_cv_MS:1003057_scan_number"], "ms_run[1]:scan=2478");
  EXPECT_EQ(rows[5]["opt_global_cv_MS:1003057_scan_number"], "ms_run[2]:scan=8");
}

TEST(MztabWrite, RowsSortedByRunAndSpectrumIndex) {
  const auto rows = psm_rows(test_document());
  ASSERT_EQ(rows.size(), 6u);
  const std::vector<std::string> refs = {"ms_run[1]:index=0", "ms_run[1]:index=1", "ms_run[1]:index=3",
                                         "ms_run[1]:index=3", "ms_run[2]:scan=3",
                                         "ms_run[2]:controllerType=0 controllerNumber=1 scan=8"};
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i]["PSM_ID"], std::to_string(i + 1));
    EXPECT_EQ(rows[i]["spectra_ref"], refs[i]);
  }
  // Two PSMs of spectrum 3 keep their input order (B before F).
  EXPECT_EQ(rows[2]["sequence"], "PEPTMLDE");
  EXPECT_EQ(rows[3]["sequence"], "PEPTLDE");
}

TEST(MztabWrite, AtomicWrite) {
  strand_tests::TempDir dir("mztab");
  const auto table = sp::ResidueTable::casanovo();
  const auto psms = test_psms(table);
  // A missing directory: IoError and no file.
  const std::string missing = (dir.path / "no_such_dir" / "out.mztab").string();
  EXPECT_THROW(sp::write_mztab(missing, test_header(), table, psms), strand::IoError);
  EXPECT_FALSE(std::filesystem::exists(missing));
  EXPECT_FALSE(std::filesystem::exists(dir.path / "no_such_dir"));

  // Bad input leaves an existing file untouched and no temporary file behind.
  const std::string path = (dir.path / "out.mztab").string();
  sp::write_mztab(path, test_header(), table, psms);
  const std::string before = slurp(path);
  auto bad = psms;
  bad[3].run = 3;
  EXPECT_THROW(sp::write_mztab(path, test_header(), table, bad), strand::InputError);
  EXPECT_EQ(slurp(path), before);
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
    EXPECT_EQ(entry.path().filename().string(), "out.mztab");
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
}

TEST(MztabWrite, RejectsBadPsms) {
  const auto table = sp::ResidueTable::casanovo();
  const auto header = test_header();
  const auto good = test_psms(table);
  const auto fails = [&](const std::function<void(std::vector<sp::Psm>&)>& edit) {
    auto psms = good;
    edit(psms);
    EXPECT_THROW(sp::format_mztab(header, table, psms), strand::InputError);
  };
  EXPECT_NO_THROW(sp::format_mztab(header, table, good));
  fails([](auto& p) { p[0].run = 0; });
  fails([](auto& p) { p[0].run = 3; });
  fails([](auto& p) { p[0].charge = 0; });
  fails([](auto& p) { p[1].aa_scores.pop_back(); });
  fails([](auto& p) { p[1].tokens.push_back(10000); });
  fails([](auto& p) { p[1].tokens = {p[1].tokens[0]}; });  // [Acetyl]- alone: no residues
  fails([&](auto& p) { p[5].tokens.push_back(table.find("[Acetyl]-")); });  // N-terminal mod at the end
  sp::MztabHeader no_runs = header;
  no_runs.runs.clear();
  EXPECT_THROW(sp::format_mztab(no_runs, table, {}), strand::InputError);
}

TEST(MztabWrite, NoModificationsUseCvTerms) {
  const sp::ResidueTable table({}, true);
  sp::MztabHeader header;
  header.software_version = "1.0";
  header.runs = {"/x/a.mgf"};
  std::vector<sp::Psm> psms = {make_psm(table, "PEPTIDE", 1, 0, 2, 400.6873, 0.9)};
  const std::string text = sp::format_mztab(header, table, psms);
  const auto mtd = lines_with_prefix(text, "MTD");
  EXPECT_NE(std::find(mtd.begin(), mtd.end(),
                      "MTD\tfixed_mod[1]\t[MS, MS:1002453, No fixed modifications searched, ]"),
            mtd.end());
  EXPECT_NE(std::find(mtd.begin(), mtd.end(),
                      "MTD\tvariable_mod[1]\t[MS, MS:1002454, No variable modifications searched, ]"),
            mtd.end());
  EXPECT_EQ(std::count_if(mtd.begin(), mtd.end(),
                          [](const std::string& l) { return l.find("_mod[") != std::string::npos; }),
            2);
  EXPECT_NE(std::find(mtd.begin(), mtd.end(), "MTD\tdescription\tDe novo peptide-spectrum matches"), mtd.end());
  EXPECT_TRUE(sp::validate_mztab(text).empty()) << all(sp::validate_mztab(text));
  // No PSMs at all: still a valid document with a PSH.
  const std::string empty = sp::format_mztab(header, table, {});
  EXPECT_EQ(psh_columns(empty).size(), 20u);
  EXPECT_TRUE(lines_with_prefix(empty, "PSM").empty());
  EXPECT_TRUE(sp::validate_mztab(empty).empty()) << all(sp::validate_mztab(empty));
}

TEST(MztabWrite, UnimodNeedsNameAndMass) {
  // "Oxidation" of W is UNIMOD:35 (name and mass agree); "Oxidation" with another mass, and a
  // mass-named modification, are CHEMMODs; a negative shift keeps its sign.
  const sp::ResidueTable table({{"Oxidation", 'W', 15.994915, false},
                                {"Oxidation", 'H', 31.989829, false},
                                {"MyLoss", 'S', -18.010565, true}},
                               true);
  sp::MztabHeader header;
  header.software_version = "1.0";
  header.runs = {"/x/a.mgf"};
  const std::vector<sp::Psm> psms = {make_psm(table, "SW[Oxidation]H[Oxidation]K", 1, 0, 2, 300, 0.5)};
  const std::string text = sp::format_mztab(header, table, psms);
  const auto mtd = lines_with_prefix(text, "MTD");
  const auto has = [&](const std::string& line) { return std::find(mtd.begin(), mtd.end(), line) != mtd.end(); };
  EXPECT_TRUE(has("MTD\tfixed_mod[1]\t[CHEMMOD, CHEMMOD:-18.010565, MyLoss, ]"));
  EXPECT_TRUE(has("MTD\tfixed_mod[1]-site\tS"));
  EXPECT_TRUE(has("MTD\tvariable_mod[1]\t[UNIMOD, UNIMOD:35, Oxidation, ]"));
  EXPECT_TRUE(has("MTD\tvariable_mod[1]-site\tW"));
  EXPECT_TRUE(has("MTD\tvariable_mod[2]\t[CHEMMOD, CHEMMOD:+31.989829, Oxidation, ]"));
  EXPECT_TRUE(has("MTD\tvariable_mod[2]-site\tH"));
  const auto rows = psm_rows(text);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["modifications"], "1-CHEMMOD:-18.010565,2-UNIMOD:35,3-CHEMMOD:+31.989829");
  EXPECT_TRUE(sp::validate_mztab(text).empty()) << all(sp::validate_mztab(text));
}

TEST(MztabWrite, SoftwareParameter) {
  const auto table = sp::ResidueTable::casanovo();
  sp::MztabHeader header;
  header.runs = {"/x/a.mgf"};
  header.software_name = "Casanovo";
  header.software_version = "5.0.0";
  std::string text = sp::format_mztab(header, table, {make_psm(table, "PEPTIDE", 1, 0, 2, 400, 0.5)});
  auto mtd = lines_with_prefix(text, "MTD");
  EXPECT_NE(std::find(mtd.begin(), mtd.end(), "MTD\tsoftware[1]\t[MS, MS:1003281, Casanovo, 5.0.0]"), mtd.end());
  EXPECT_EQ(psm_rows(text).at(0)["search_engine"], "[MS, MS:1003281, Casanovo, 5.0.0]");

  // Default: Strand with strand::version() (+ git hash when known); a comma in a name is quoted.
  header.software_name = "Strand, de novo";
  header.software_version.clear();
  text = sp::format_mztab(header, table, {});
  mtd = lines_with_prefix(text, "MTD");
  std::string version = strand::version();
  const std::string hash = strand::git_hash();
  if (!hash.empty() && hash != "unknown") version += "+" + hash;
  EXPECT_NE(std::find(mtd.begin(), mtd.end(), "MTD\tsoftware[1]\t[, , \"Strand, de novo\", " + version + "]"),
            mtd.end())
      << join(mtd, "\n");
  EXPECT_TRUE(sp::validate_mztab(text).empty()) << all(sp::validate_mztab(text));
}

TEST(MztabWrite, FreeTextCannotBreakTheFormat) {
  const auto table = sp::ResidueTable::casanovo();
  sp::MztabHeader header;
  header.description = "line one\r\nline\ttwo";
  header.software_version = "1.0";
  header.runs = {"/x/a b\tc.mzML"};
  header.settings = {{"key\twith tab", "value\nwith newline"}};
  header.command_line = "strand\n--x";
  auto psm = make_psm(table, "PEPTIDE", 1, 0, 2, 400, 0.5);
  psm.native_id = "scan=1\tx\ny";
  psm.scans = "1\n2";
  const std::string text = sp::format_mztab(header, table, {psm});
  const auto problems = sp::validate_mztab(text);
  EXPECT_TRUE(problems.empty()) << all(problems);
  const auto mtd = lines_with_prefix(text, "MTD");
  const auto has = [&](const std::string& line) { return std::find(mtd.begin(), mtd.end(), line) != mtd.end(); };
  EXPECT_TRUE(has("MTD\tdescription\tline one  line two"));
  EXPECT_TRUE(has("MTD\tsoftware[1]-setting[1]\tcommand_line = strand --x"));
  EXPECT_TRUE(has("MTD\tsoftware[1]-setting[2]\tkey with tab = value with newline"));
  EXPECT_TRUE(has("MTD\tms_run[1]-location\tfile:///x/a%20b%09c.mzML"));
  const auto rows = psm_rows(text);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0]["spectra_ref"], "ms_run[1]:scan=1 x y");
  EXPECT_EQ(rows[0]["opt_global_cv_MS:1003057_scan_number"], "ms_run[1]:scan=1 2");
  for (const auto& l : lines_of(text)) {
    const auto prefix = l.substr(0, 3);
    EXPECT_TRUE(l.empty() || prefix == "MTD" || prefix == "PSH" || prefix == "PSM") << l;
  }
}

TEST(MztabWrite, PsmForSpectrum) {
  sp::Spectrum s;
  s.id = "controllerType=0 controllerNumber=1 scan=17";
  s.index = 12;
  s.scans = "17";
  s.precursor_mz = 512.25;
  s.precursor_charge = 3;
  s.retention_time_s = 60.5;
  const auto mzml = sp::psm_for_spectrum(s, 2, true);
  EXPECT_EQ(mzml.spectrum_index, 12);
  EXPECT_EQ(mzml.native_id, s.id);
  EXPECT_EQ(mzml.run, 2);
  EXPECT_EQ(mzml.scans, "17");
  EXPECT_EQ(mzml.charge, 3);
  EXPECT_EQ(mzml.exp_mz, 512.25);
  EXPECT_EQ(mzml.retention_time_s, 60.5);
  const auto mgf = sp::psm_for_spectrum(s, 1, false);
  EXPECT_TRUE(mgf.native_id.empty());
  EXPECT_EQ(mgf.run, 1);
}

// ---- validator ---------------------------------------------------------------------------------

namespace {

/// The test document with line `index` (0-based, counting all lines) replaced by `with`.
std::string replace_line(const std::string& text, size_t index, const std::string& with) {
  auto lines = lines_of(text);
  lines.at(index) = with;
  return join(lines, "\n") + "\n";
}

size_t find_line(const std::string& text, const std::string& start) {
  const auto lines = lines_of(text);
  for (size_t i = 0; i < lines.size(); ++i)
    if (lines[i].rfind(start, 0) == 0) return i;
  ADD_FAILURE() << "no line starting with " << start;
  return 0;
}

std::string remove_line(const std::string& text, const std::string& start) {
  auto lines = lines_of(text);
  lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(find_line(text, start)));
  return join(lines, "\n") + "\n";
}

/// The first PSM row with field `column` (0 = prefix) set to `value`.
std::string set_psm_field(const std::string& text, size_t column, const std::string& value) {
  const size_t at = find_line(text, "PSM\t");
  auto fields = split(lines_of(text).at(at), '\t');
  fields.at(column) = value;
  return replace_line(text, at, join(fields, "\t"));
}

size_t column_index(const std::string& text, const std::string& name) {
  const auto columns = psh_columns(text);
  const auto it = std::find(columns.begin(), columns.end(), name);
  EXPECT_NE(it, columns.end()) << name;
  return static_cast<size_t>(it - columns.begin()) + 1;  // + the prefix field
}

}  // namespace

TEST(MztabValidate, BaselineIsValid) {
  const auto problems = sp::validate_mztab(test_document());
  EXPECT_TRUE(problems.empty()) << all(problems);
  // CRLF line ends and COM lines are fine too.
  std::string crlf;
  for (const auto& l : lines_of(test_document())) crlf += l + "\r\n";
  EXPECT_TRUE(sp::validate_mztab("COM\ta comment\n" + crlf).empty()) << all(sp::validate_mztab(crlf));
}

TEST(MztabValidate, PsmRowWithMissingField) {
  const std::string text = test_document();
  const size_t at = find_line(text, "PSM\t");
  auto fields = split(lines_of(text)[at], '\t');
  fields.pop_back();
  const auto problems = sp::validate_mztab(replace_line(text, at, join(fields, "\t")));
  ASSERT_EQ(problems.size(), 1u) << all(problems);
  EXPECT_TRUE(mentions(problems, "line " + std::to_string(at + 1) + ": PSM row has 21 fields, the PSH has 22"))
      << all(problems);
  // One field too many is caught as well.
  fields.push_back("x");
  fields.push_back("y");
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, at, join(fields, "\t"))), "PSM row has 23 fields"));
}

TEST(MztabValidate, PsmBeforePsh) {
  const std::string text = test_document();
  auto lines = lines_of(text);
  const size_t psh = find_line(text, "PSH\t");
  const size_t psm = find_line(text, "PSM\t");
  std::swap(lines[psh], lines[psm]);
  const auto problems = sp::validate_mztab(join(lines, "\n") + "\n");
  EXPECT_TRUE(mentions(problems, "line " + std::to_string(psh + 1) + ": PSM row before the PSH header"))
      << all(problems);
  // No PSH at all.
  EXPECT_TRUE(mentions(sp::validate_mztab(remove_line(text, "PSH\t")), "PSM row before the PSH header"));
}

TEST(MztabValidate, MissingMandatoryMetadata) {
  const std::string text = test_document();
  const std::pair<const char*, const char*> cases[] = {
      {"MTD\tmzTab-version\t", "mzTab-version is missing"},
      {"MTD\tmzTab-mode\t", "mzTab-mode is missing"},
      {"MTD\tmzTab-type\t", "mzTab-type is missing"},
      {"MTD\tdescription\t", "description is missing"},
      {"MTD\tpsm_search_engine_score[1]\t", "has no MTD psm_search_engine_score[1]"},
      {"MTD\tfixed_mod[1]\t", "without fixed_mod[1]"},
      {"MTD\tms_run[2]-location\t", "ms_run[2] has no valid -location"},
  };
  for (const auto& [line, message] : cases) {
    const auto problems = sp::validate_mztab(remove_line(text, line));
    EXPECT_TRUE(mentions(problems, message)) << line << ":\n" << all(problems);
  }
  // All fixed_mod lines gone: fixed_mod[1-n] missing.
  std::string no_fixed = text;
  while (no_fixed.find("MTD\tfixed_mod[") != std::string::npos) no_fixed = remove_line(no_fixed, "MTD\tfixed_mod[");
  EXPECT_TRUE(mentions(sp::validate_mztab(no_fixed), "fixed_mod[1-n] is missing"));
  std::string no_variable = text;
  while (no_variable.find("MTD\tvariable_mod[") != std::string::npos)
    no_variable = remove_line(no_variable, "MTD\tvariable_mod[");
  EXPECT_TRUE(mentions(sp::validate_mztab(no_variable), "variable_mod[1-n] is missing"));
  // No ms_run at all.
  std::string no_runs = text;
  while (no_runs.find("MTD\tms_run[") != std::string::npos) no_runs = remove_line(no_runs, "MTD\tms_run[");
  EXPECT_TRUE(mentions(sp::validate_mztab(no_runs), "ms_run[1-n]-location is missing"));
  // Wrong values of the mandatory keys.
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, 0, "MTD\tmzTab-version\t2.0.0")),
                       "mzTab-version is '2.0.0', expected 1.0.0"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, 1, "MTD\tmzTab-mode\tSummery")),
                       "mzTab-mode is 'Summery'"));
  // Complete mode requires software[1-n].
  std::string complete = replace_line(text, 1, "MTD\tmzTab-mode\tComplete");
  EXPECT_TRUE(sp::validate_mztab(complete).empty()) << all(sp::validate_mztab(complete));
  while (complete.find("MTD\tsoftware[") != std::string::npos) complete = remove_line(complete, "MTD\tsoftware[");
  EXPECT_TRUE(mentions(sp::validate_mztab(complete), "software[1-n] is missing"));
}

TEST(MztabValidate, MalformedMetadata) {
  const std::string text = test_document();
  const size_t fixed = find_line(text, "MTD\tfixed_mod[1]\t");
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, fixed, "MTD\tfixed_mod[1]\t[UNIMOD, UNIMOD:4, , ]")),
                       "is not a parameter"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, fixed, "MTD\tfixed_mod[1]\tCarbamidomethyl")),
                       "is not a parameter"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, fixed, "MTD\tfixed_mod[0]\t[UNIMOD, UNIMOD:4, C, ]")),
                       "malformed MTD key 'fixed_mod[0]'"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, 3, "MTD\tdescription\tone\ttwo")),
                       "MTD line has 4 fields"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, 3, "MTD\tmzTab-type\tIdentification")),
                       "MTD mzTab-type is defined twice"));
  const size_t location = find_line(text, "MTD\tms_run[1]-location\t");
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, location, "MTD\tms_run[1]-location\t/data/sample.mgf")),
                       "is not a URI"));
  EXPECT_TRUE(mentions(sp::validate_mztab(text + "MTD\ttitle\tlate\n"), "MTD line after the first table section"));
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, 3, "XYZ\tdescription\tx")), "unknown line prefix 'XYZ'"));
}

TEST(MztabValidate, NonIntegerCharge) {
  const std::string text = test_document();
  const size_t charge = column_index(text, "charge");
  for (const char* bad : {"2.5", "2+", "two", ""}) {
    const auto problems = sp::validate_mztab(set_psm_field(text, charge, bad));
    EXPECT_TRUE(mentions(problems, "charge '" + std::string(bad) + "' is not an integer")) << bad << all(problems);
  }
  EXPECT_TRUE(sp::validate_mztab(set_psm_field(text, charge, "null")).empty());
  EXPECT_TRUE(sp::validate_mztab(set_psm_field(text, charge, "3")).empty());
}

TEST(MztabValidate, SpectraRefToUndeclaredRun) {
  const std::string text = test_document();
  const size_t ref = column_index(text, "spectra_ref");
  auto problems = sp::validate_mztab(set_psm_field(text, ref, "ms_run[3]:index=0"));
  EXPECT_TRUE(mentions(problems, "refers to ms_run[3], which the metadata does not declare")) << all(problems);
  problems = sp::validate_mztab(set_psm_field(text, ref, "ms_run[1]:index=0|ms_run[9]:index=1"));
  EXPECT_TRUE(mentions(problems, "ms_run[9]")) << all(problems);
  EXPECT_TRUE(mentions(sp::validate_mztab(set_psm_field(text, ref, "index=0")), "is not ms_run[k]:"));
  EXPECT_TRUE(mentions(sp::validate_mztab(set_psm_field(text, ref, "null")), "spectra_ref is missing"));
  EXPECT_TRUE(sp::validate_mztab(set_psm_field(text, ref, "ms_run[2]:scan=5")).empty());
}

TEST(MztabValidate, PshColumns) {
  const std::string text = test_document();
  const size_t at = find_line(text, "PSH\t");
  auto fields = split(lines_of(text)[at], '\t');
  // Two stable columns swapped (rows still have as many fields).
  auto swapped = fields;
  std::swap(swapped[2], swapped[3]);  // PSM_ID <-> accession
  auto problems = sp::validate_mztab(replace_line(text, at, join(swapped, "\t")));
  EXPECT_TRUE(mentions(problems, "PSH column 'accession' is out of the specification's order")) << all(problems);
  // A required column renamed.
  auto renamed = fields;
  renamed[column_index(text, "calc_mass_to_charge")] = "calc_mz";
  problems = sp::validate_mztab(replace_line(text, at, join(renamed, "\t")));
  EXPECT_TRUE(mentions(problems, "PSH lacks the required column 'calc_mass_to_charge'")) << all(problems);
  EXPECT_TRUE(mentions(problems, "unknown or misnumbered PSH column 'calc_mz'")) << all(problems);
  // A score column numbered from 2.
  auto score = fields;
  score[column_index(text, "search_engine_score[1]")] = "search_engine_score[2]";
  problems = sp::validate_mztab(replace_line(text, at, join(score, "\t")));
  EXPECT_TRUE(mentions(problems, "PSH lacks the required column 'search_engine_score[1]'")) << all(problems);
  // A stable column after the optional ones.
  auto late = fields;
  std::rotate(late.begin() + 18, late.begin() + 19, late.end());  // "end" moves to the last place
  problems = sp::validate_mztab(replace_line(text, at, join(late, "\t")));
  EXPECT_TRUE(mentions(problems, "PSH column 'end' comes after the optional (opt_) columns")) << all(problems);
  // A badly named optional column.
  auto opt = fields;
  opt.back() = "opt_scan_number";
  EXPECT_TRUE(mentions(sp::validate_mztab(replace_line(text, at, join(opt, "\t"))), "malformed optional column"));
  // A second PSH.
  EXPECT_TRUE(mentions(sp::validate_mztab(text + lines_of(text)[at] + "\n"), "a second PSH header"));
}

TEST(MztabValidate, PsmFieldValues) {
  const std::string text = test_document();
  const auto bad = [&](const std::string& column, const std::string& value, const std::string& message) {
    const auto problems = sp::validate_mztab(set_psm_field(text, column_index(text, column), value));
    EXPECT_TRUE(mentions(problems, message)) << column << " = " << value << ":\n" << all(problems);
  };
  bad("exp_mass_to_charge", "abc", "exp_mass_to_charge 'abc' is not a number");
  bad("calc_mass_to_charge", "1.2.3", "calc_mass_to_charge '1.2.3' is not a number");
  bad("search_engine_score[1]", "high", "search_engine_score[1] 'high' is not a number");
  bad("retention_time", "12|x", "retention_time '12|x' is not a '|'-list of numbers");
  bad("PSM_ID", "first", "PSM_ID 'first' is not an integer");
  bad("unique", "yes", "unique 'yes' is not null, 0 or 1");
  bad("sequence", "pep tide", "is not a peptide of upper-case letters");
  bad("start", "1.5", "start '1.5' is not an integer");
  bad("modifications", "5-Oxidation (M):UNIMOD:35", "unknown modification kind");
  // The reference's Casanovo example: names and ';' are not mzTab 1.0 grammar.
  bad("modifications", "0-Acetyl (N-term):UNIMOD:1; 5-Oxidation (M):UNIMOD:35",
      "unknown modification kind 'Acetyl (N-term)'");
  bad("modifications", "12-UNIMOD:4", "position 12 is outside the peptide (length 10)");
  bad("modifications", "1-UNIMOD:x", "UNIMOD accession 'x' is not a number");
  bad("modifications", "1UNIMOD:4", "expected '-' after the position");
  // Accepted forms.
  const std::vector<std::pair<std::string, std::string>> accepted = {
      {"exp_mass_to_charge", "1.5e3"},
      {"exp_mass_to_charge", "NaN"},
      {"search_engine_score[1]", "-INF"},
      {"retention_time", "10.5|11"},
      {"modifications", "0"},
      {"modifications", "3|4-UNIMOD:21,11-CHEMMOD:-18.01"},
      {"modifications", "3[MS, MS:1001876, modification probability, 0.8]|4-MOD:00412"},
      {"unique", "1"}};
  for (const auto& [column, value] : accepted) {
    const auto problems = sp::validate_mztab(set_psm_field(text, column_index(text, column), value));
    EXPECT_TRUE(problems.empty()) << column << " = " << value << ":\n" << all(problems);
  }
}

TEST(MztabValidate, ProblemCountIsCapped) {
  const std::string text = test_document();
  std::string broken = text;
  for (int i = 0; i < 500; ++i) broken += "PSM\tx\n";
  const auto problems = sp::validate_mztab(broken);
  ASSERT_EQ(problems.size(), 201u);
  EXPECT_EQ(problems.back(), "... and 300 more problems");
}
