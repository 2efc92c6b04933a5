// MGF reader on the real sample files (tests/data/spectra, provenance in its README) and on bad
// input. Expected values were read off the files with a separate Python script.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "libseq/core/error.h"
#include "tests/message_of.h"

namespace sp = strand::bio::spectra;

namespace {

const std::string kData = std::string(STRAND_TEST_DATA) + "/spectra/";

std::vector<sp::Spectrum> read_all(sp::SpectrumReader& reader) {
  std::vector<sp::Spectrum> out;
  sp::Spectrum s;
  while (reader.next(s)) out.push_back(s);
  return out;
}


}  // namespace

TEST(Mgf, ReadsTheAnnotatedCasanovoSample) {
  auto reader = sp::open_spectra(kData + "casanovo_sample_preprocessed_spectra.mgf");
  const auto all = read_all(*reader);
  ASSERT_EQ(all.size(), 128u);
  EXPECT_EQ(reader->stats().spectra, 128);
  EXPECT_EQ(reader->stats().skipped, 0);
  const sp::Spectrum& first = all.front();
  EXPECT_EQ(first.id, "0");
  EXPECT_EQ(first.index, 0);
  EXPECT_EQ(first.ms_level, 2);
  EXPECT_DOUBLE_EQ(first.precursor_mz, 451.25348);
  EXPECT_EQ(first.precursor_charge, 2);
  EXPECT_EQ(first.scans, "F1:2478");
  EXPECT_DOUBLE_EQ(first.retention_time_s, 824.574);
  EXPECT_EQ(first.peptide, "IAHYNKR");
  ASSERT_EQ(first.mz.size(), 25u);
  ASSERT_EQ(first.intensity.size(), 25u);
  EXPECT_DOUBLE_EQ(first.mz.front(), 63.994834899902344);
  EXPECT_DOUBLE_EQ(first.intensity.front(), 0.0611930787563324);
  EXPECT_DOUBLE_EQ(first.mz.back(), 866.4544677734375);
  EXPECT_DOUBLE_EQ(first.intensity.back(), 0.12016354501247406);
  const sp::Spectrum& last = all.back();
  EXPECT_EQ(last.id, "127");
  EXPECT_EQ(last.index, 127);
  EXPECT_EQ(last.peptide, "RPDQQIQGDGK");
  EXPECT_DOUBLE_EQ(last.precursor_mz, 621.31757);
  EXPECT_EQ(last.mz.size(), 27u);
  size_t peaks = 0;
  for (const auto& s : all) peaks += s.mz.size();
  EXPECT_EQ(peaks, 6929u);
}

TEST(Mgf, PepmassIntensityAndChargeOfTheDepthchargeSample) {
  auto reader = sp::open_mgf(kData + "depthcharge_TMT10-Trial-8.mgf");
  const auto all = read_all(*reader);
  ASSERT_EQ(all.size(), 7u);
  EXPECT_EQ(all[0].id, "TMT10-Trial-8.501.501.3");
  EXPECT_DOUBLE_EQ(all[0].precursor_mz, 804.774963378906);
  EXPECT_DOUBLE_EQ(all[0].precursor_intensity, 11531.6333007813);
  EXPECT_EQ(all[0].precursor_charge, 3);
  EXPECT_EQ(all[0].peptide, "");
  ASSERT_EQ(all[0].mz.size(), 118u);
  EXPECT_DOUBLE_EQ(all[0].mz[0], 284.9170227);
  EXPECT_DOUBLE_EQ(all[0].intensity[0], 12.9353713989);
  EXPECT_EQ(all[6].id, "TMT10-Trial-8.510.510.3");
  EXPECT_EQ(all[6].mz.size(), 107u);
}

TEST(Mgf, ChargeNotations) {
  const auto charge_of = [](const std::string& value) {
    auto r = sp::open_mgf_text("BEGIN IONS\nPEPMASS=500\nCHARGE=" + value + "\n100 1\nEND IONS\n", "t.mgf");
    sp::Spectrum s;
    return r->next(s) ? s.precursor_charge : -99;
  };
  EXPECT_EQ(charge_of("2+"), 2);
  EXPECT_EQ(charge_of("3"), 3);
  EXPECT_EQ(charge_of("2-"), -2);
  EXPECT_EQ(charge_of("2+ and 3+"), 2);
  EXPECT_EQ(charge_of("3+,4+"), 3);
  EXPECT_EQ(charge_of("two"), -99);  // skipped as a bad record
}

TEST(Mgf, BadRecordsAreSkippedAndCounted) {
  const std::string text =
      "# a comment\nCOM=global parameters are allowed\n"
      "BEGIN IONS\nTITLE=no-pepmass\nCHARGE=2+\n100 1\nEND IONS\n"
      "BEGIN IONS\nTITLE=bad-peak\nPEPMASS=500\n100 1\n200 x\nEND IONS\n"
      "BEGIN IONS\nTITLE=negative\nPEPMASS=-5\n100 1\nEND IONS\n"
      "BEGIN IONS\nTITLE=unended\nPEPMASS=500\n100 1\n"
      "BEGIN IONS\nTITLE=good\nPEPMASS=600.5 10\nCHARGE=3+\nRTINSECONDS=12.5\nSEQ=PEPTIDE\n\n100.5\t2\n"
      "200.25 4 1+\nEND IONS\n";
  auto reader = sp::open_mgf_text(text, "bad.mgf");
  const auto all = read_all(*reader);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, "good");
  EXPECT_EQ(all[0].index, 4);  // skipped records keep their place in the numbering
  EXPECT_DOUBLE_EQ(all[0].precursor_mz, 600.5);
  EXPECT_EQ(all[0].precursor_charge, 3);
  EXPECT_EQ(all[0].peptide, "PEPTIDE");
  EXPECT_EQ(all[0].mz, (std::vector<double>{100.5, 200.25}));
  EXPECT_EQ(all[0].intensity, (std::vector<double>{2, 4}));
  const auto& stats = reader->stats();
  EXPECT_EQ(stats.spectra, 1);
  EXPECT_EQ(stats.skipped, 4);
  EXPECT_EQ(stats.reasons.at("no PEPMASS"), 1);
  EXPECT_EQ(stats.reasons.at("bad peak line"), 1);
  EXPECT_EQ(stats.reasons.at("bad PEPMASS"), 1);
  EXPECT_EQ(stats.reasons.at("BEGIN IONS inside a spectrum"), 1);
  EXPECT_NE(stats.first_skipped.find("bad.mgf:3: spectrum 1 'no-pepmass'"), std::string::npos) << stats.first_skipped;
}

TEST(Mgf, TruncatedFileAndStrayTextAreErrors) {
  const std::string truncated = strand_tests::message_of<strand::ParseError>([] {
    auto r = sp::open_mgf_text("BEGIN IONS\nPEPMASS=500\n100 1\nEND IONS\nBEGIN IONS\nPEPMASS=600\n100 1\n", "cut.mgf");
    read_all(*r);
  });
  EXPECT_NE(truncated.find("cut.mgf:5"), std::string::npos) << truncated;
  EXPECT_NE(truncated.find("spectrum 2"), std::string::npos) << truncated;
  EXPECT_NE(truncated.find("truncated"), std::string::npos) << truncated;
  const std::string stray = strand_tests::message_of<strand::ParseError>([] {
    auto r = sp::open_mgf_text("BEGIN IONS\nPEPMASS=500\nEND IONS\n100 1\n", "stray.mgf");
    read_all(*r);
  });
  EXPECT_NE(stray.find("stray.mgf:4"), std::string::npos) << stray;
  EXPECT_NE(stray.find("expected BEGIN IONS"), std::string::npos) << stray;
}

TEST(Mgf, UnknownFileTypeIsAnInputError) {
  EXPECT_THROW(sp::open_spectra("spectra.txt"), strand::InputError);
  EXPECT_THROW(sp::open_spectra(kData + "missing.mgf"), strand::IoError);
}

// The two sample files hold the same spectra annotated in ProForma names and in mass deltas; both
// notations must give the same tokens, and every annotation must explain its precursor m/z.
TEST(Mgf, AnnotationsParseInBothNotationsAndMatchThePrecursor) {
  const auto table = sp::ResidueTable::casanovo();
  auto names = sp::open_mgf(kData + "casanovo_sample_preprocessed_spectra.mgf");
  auto deltas = sp::open_mgf(kData + "casanovo_sample_preprocessed_spectra_massdelta.mgf");
  const auto a = read_all(*names);
  const auto b = read_all(*deltas);
  ASSERT_EQ(a.size(), b.size());
  int matched = 0;
  double worst_ppm = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto tokens = table.parse(a[i].peptide);
    EXPECT_EQ(tokens, table.parse(b[i].peptide)) << a[i].peptide << " vs " << b[i].peptide;
    const double mass = table.peptide_mass(tokens);
    if (sp::precursor_matches(mass, a[i].precursor_mz, a[i].precursor_charge, 20, 0, 1)) ++matched;
    const double ppm = std::abs(sp::ppm_error(a[i].precursor_mz, sp::mz_of(mass, a[i].precursor_charge)));
    worst_ppm = std::max(worst_ppm, std::min(ppm, 1e6));
  }
  EXPECT_EQ(matched, 128) << "worst |ppm| " << worst_ppm;
}

// Lutefisk's QTOF spectrum of ELVISLIVESK (Debian package lutefisk): double-spaced CRLF lines.
TEST(Dta, ReadsTheLutefiskSpectrum) {
  const std::string path = "/usr/share/doc/lutefisk/examples/Qtof_ELVISLIVESK.dta";
  std::unique_ptr<sp::SpectrumReader> reader;
  ASSERT_NO_THROW(reader = sp::open_spectra(path)) << "install the Debian package lutefisk (scripts/setup.sh does)";
  const auto all = read_all(*reader);
  ASSERT_EQ(all.size(), 1u);
  const sp::Spectrum& s = all[0];
  EXPECT_EQ(s.id, "Qtof_ELVISLIVESK");
  EXPECT_EQ(s.precursor_charge, 2);
  EXPECT_NEAR(s.precursor_mz, (1229.74 - sp::kProton) / 2 + sp::kProton, 1e-9);
  ASSERT_EQ(s.mz.size(), 1622u);
  EXPECT_DOUBLE_EQ(s.mz.front(), 68.6871);
  EXPECT_DOUBLE_EQ(s.intensity.front(), 4.0);
  EXPECT_DOUBLE_EQ(s.mz.back(), 1210.3501);
  EXPECT_DOUBLE_EQ(s.intensity.back(), 3.0);
  // The annotated peptide explains the precursor: [M+H]+ of ELVISLIVESK is 1229.7351.
  const auto table = sp::ResidueTable::casanovo();
  EXPECT_TRUE(sp::precursor_matches(table.peptide_mass(table.parse("ELVISLIVESK")), s.precursor_mz, 2, 10, 0, 0));
}

TEST(Dta, BadHeaderOrPeakSkipsTheSpectrum) {
  auto bad_header = sp::open_dta_text("1229.74 2.5\n100 1\n", "a.dta");
  sp::Spectrum s;
  EXPECT_FALSE(bad_header->next(s));
  EXPECT_EQ(bad_header->stats().reasons.at("bad DTA header"), 1);
  auto bad_peak = sp::open_dta_text("1229.74 2\n100 1\n200 -3\n", "b.dta");
  EXPECT_FALSE(bad_peak->next(s));
  EXPECT_EQ(bad_peak->stats().reasons.at("bad peak line"), 1);
  EXPECT_NE(bad_peak->stats().first_skipped.find("line 3"), std::string::npos) << bad_peak->stats().first_skipped;
  auto empty = sp::open_dta_text("\n\n", "c.dta");
  EXPECT_FALSE(empty->next(s));
  EXPECT_EQ(empty->stats().skipped, 0);
}

// The OpenMS BSA runs (Debian package openms-doc): LTQ Orbitrap XL, indexed mzML, uncompressed
// 32/64-bit arrays; 1,684 / 1,690 / 1,438 spectra of which 1,120 / 1,166 / 850 MS2, every MS2 with
// precursor m/z and charge.
TEST(Mzml, ReadsTheOpenmsBsaRuns) {
  const struct {
    const char* file;
    int64_t spectra;
    int64_t ms2;
  } runs[] = {{"BSA1.mzML", 1684, 1120}, {"BSA2.mzML", 1690, 1166}, {"BSA3.mzML", 1438, 850}};
  for (const auto& run : runs) {
    const std::string path = std::string("/usr/share/doc/openms/examples/BSA/") + run.file;
    std::unique_ptr<sp::SpectrumReader> reader;
    ASSERT_NO_THROW(reader = sp::open_spectra(path)) << "install the Debian package openms-doc (scripts/setup.sh does)";
    int64_t total = 0;
    int64_t ms2 = 0;
    int64_t ms2_with_precursor = 0;
    sp::Spectrum s;
    while (reader->next(s)) {
      ++total;
      ASSERT_EQ(s.mz.size(), s.intensity.size());
      if (s.ms_level != 2) continue;
      ++ms2;
      ms2_with_precursor += s.precursor_mz > 0 && s.precursor_charge > 0 ? 1 : 0;
    }
    EXPECT_EQ(total, run.spectra) << run.file;
    EXPECT_EQ(ms2, run.ms2) << run.file;
    EXPECT_EQ(ms2_with_precursor, run.ms2) << run.file;
    EXPECT_EQ(reader->stats().skipped, 0) << reader->stats().first_skipped;
  }
}
