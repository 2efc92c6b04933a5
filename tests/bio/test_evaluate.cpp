// De novo evaluation (Casanovo's matching rules and metrics, denovo.md §4.1-4.2) on hand-made
// peptides with hand-traced walks, the precision-coverage curve and its CSV, and the SVG
// line-chart writer.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include <unistd.h>

#include "bio/spectra/evaluate.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/svg_plot.h"

namespace sp = strand::bio::spectra;
namespace sio = strand::io;

namespace {

const sp::ResidueTable& table() {
  static const sp::ResidueTable t = sp::ResidueTable::casanovo();
  return t;
}

sp::AaMatch match(const std::string& a, const std::string& b, const sp::ResidueTable& t = table(),
                  double cumulative = 0.5, double residue = 0.1) {
  return sp::aa_match(sp::token_masses(t, t.parse(a)), sp::token_masses(t, t.parse(b)), cumulative, residue);
}

std::vector<bool> flags(const std::string& pattern) {
  std::vector<bool> out;
  for (const char c : pattern) out.push_back(c == '1');
  return out;
}

/// A fresh directory under the system temp dir, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path = std::filesystem::temp_directory_path() /
           ("strand_eval_" + std::string(info->name()) + "_" + std::to_string(static_cast<long>(::getpid())));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

}  // namespace

// ---- aa_match ---------------------------------------------------------------------------------

TEST(AaMatch, IdenticalPeptides) {
  const auto m = match("PEPTIDE", "PEPTIDE");
  EXPECT_EQ(m.matches, flags("1111111"));
  EXPECT_EQ(m.n_matched, 7);
  EXPECT_TRUE(m.peptide_match);
}

TEST(AaMatch, SubstitutionIsRecoveredByTheSuffixWalk) {
  // T (101.05) -> S (87.03): the prefix walk matches P E P, then stays 14 Da out of step to the
  // end; the suffix walk matches E D I and stops at T/S (flags from index 3 on).
  const auto m = match("PEPTIDE", "PEPSIDE");
  EXPECT_EQ(m.matches, flags("1110111"));
  EXPECT_EQ(m.n_matched, 6);
  EXPECT_FALSE(m.peptide_match);
}

TEST(AaMatch, SwappedAdjacentPair) {
  // T I -> I T: the prefix walk matches P E P, skips T/I (12 Da apart), pairs I with T once the
  // running masses agree again (a mismatch at index 4) and matches D E; index 3 is never paired.
  // The suffix walk (down to index 3) confirms E D and pairs T with I at index 3: a mismatch.
  const auto m = match("PEPTIDE", "PEPITDE");
  EXPECT_EQ(m.matches, flags("1110011"));
  EXPECT_EQ(m.n_matched, 5);
  EXPECT_FALSE(m.peptide_match);
}

TEST(AaMatch, LysineAndGlutamineMatchUnderTheResidueTolerance) {
  // K 128.094963, Q 128.058578: 0.036 Da apart, inside 0.1 Da.
  const auto m = match("PEPTKDE", "PEPTQDE");
  EXPECT_EQ(m.n_matched, 7);
  EXPECT_TRUE(m.peptide_match);
  // With a 0.03 Da residue tolerance the pair is walked (cumulative 0.036 < 0.5) but not matched,
  // in both walks.
  const auto strict = match("PEPTKDE", "PEPTQDE", table(), 0.5, 0.03);
  EXPECT_EQ(strict.matches, flags("1111011"));
  EXPECT_EQ(strict.n_matched, 6);
  EXPECT_FALSE(strict.peptide_match);
}

TEST(AaMatch, ExtraResidue) {
  // At the end: the prefix walk matches all 7, position 7 (the extra K) stays false, and the
  // suffix walk cannot start (index 6 of the true peptide is below the first mismatch, 7).
  const auto end = match("PEPTIDE", "PEPTIDEK");
  EXPECT_EQ(end.matches, flags("11111110"));
  EXPECT_EQ(end.n_matched, 7);
  EXPECT_FALSE(end.peptide_match);
  // A repeated last residue: the suffix walk must not start either (walking past the first
  // mismatch would pair the two final E's and flag position 7).
  const auto repeated = match("PEPTIDE", "PEPTIDEE");
  EXPECT_EQ(repeated.matches, flags("11111110"));
  EXPECT_FALSE(repeated.peptide_match);
  // In the middle: the prefix walk matches P E P and never resynchronises (57 Da out); the suffix
  // walk pairs E D I T with the prediction's positions 7 6 5 4.
  const auto middle = match("PEPTIDE", "PEPGTIDE");
  EXPECT_EQ(middle.matches, flags("11101111"));
  EXPECT_EQ(middle.n_matched, 7);
  EXPECT_FALSE(middle.peptide_match);
}

TEST(AaMatch, DifferentLengthsWithAgreeingMasses) {
  // N (114.042927) against G G (114.042928): the running masses agree, so the walks pair N with
  // the second G (prefix, index 3) and with the first G (suffix, index 2), both mismatches. The
  // peptide is not a match: Casanovo needs every one of max(4, 5) flags.
  const auto m = match("PENK", "PEGGK");
  EXPECT_EQ(m.matches, flags("11001"));
  EXPECT_EQ(m.n_matched, 3);
  EXPECT_FALSE(m.peptide_match);
}

TEST(AaMatch, CumulativeToleranceOnRawMasses) {
  // Every residue 0.05 Da heavier: the running difference grows 0.05, 0.10, 0.15, ...
  const std::vector<double> a{100, 50, 50, 50, 100};
  const std::vector<double> b{100.05, 50.05, 50.05, 50.05, 100.05};
  const auto loose = sp::aa_match(a, b);
  EXPECT_EQ(loose.n_matched, 5);
  EXPECT_TRUE(loose.peptide_match);
  // 0.12 Da: the prefix walk pairs positions 0-1, the suffix walk 4-3 and loses step at 2.
  const auto tight = sp::aa_match(a, b, 0.12, 0.1);
  EXPECT_EQ(tight.matches, flags("11011"));
  EXPECT_EQ(tight.n_matched, 4);
  EXPECT_FALSE(tight.peptide_match);
}

TEST(AaMatch, EmptyLists) {
  const auto none = sp::aa_match({}, {});
  EXPECT_TRUE(none.matches.empty());
  EXPECT_TRUE(none.peptide_match);  // numpy's all() of nothing
  const auto one = sp::aa_match({}, {57.021464, 71.037114});
  EXPECT_EQ(one.matches, flags("00"));
  EXPECT_EQ(one.n_matched, 0);
  EXPECT_FALSE(one.peptide_match);
}

TEST(AaMatch, IsoleucineAndLeucine) {
  // Merged (the default table): both read as L.
  EXPECT_EQ(table().parse("PEPTIDE"), table().parse("PEPTLDE"));
  EXPECT_TRUE(match("PEPTIDE", "PEPTLDE").peptide_match);
  // Not merged: different tokens, equal masses, still a match.
  const sp::ResidueTable separate(sp::ResidueTable::casanovo_modifications(), false);
  EXPECT_NE(separate.parse("PEPTIDE"), separate.parse("PEPTLDE"));
  const auto m = match("PEPTIDE", "PEPTLDE", separate);
  EXPECT_EQ(m.n_matched, 7);
  EXPECT_TRUE(m.peptide_match);
}

TEST(AaMatch, NTerminalModificationIsItsOwnEntry) {
  // [Acetyl]- (42.010565) is the first of 8 entries. The prefix walk stays 42 Da out of step
  // (no run of residues weighs 42 Da); the suffix walk matches the 7 residues, index 0 stays false.
  const auto m = match("[Acetyl]-PEPTIDE", "PEPTIDE");
  EXPECT_EQ(m.matches, flags("01111111"));
  EXPECT_EQ(m.n_matched, 7);
  EXPECT_FALSE(m.peptide_match);
  const auto both = match("[Acetyl]-PEPTIDE", "+42.011PEPTIDE");
  EXPECT_EQ(both.n_matched, 8);
  EXPECT_TRUE(both.peptide_match);
  // Acetyl against carbamyl (0.995 Da apart): out of step in the prefix walk, the residues match
  // in the suffix walk, and the modifications are not paired.
  const auto other = match("[Acetyl]-PEPTIDE", "[Carbamyl]-PEPTIDE");
  EXPECT_EQ(other.matches, flags("01111111"));
  EXPECT_FALSE(other.peptide_match);
}

// ---- evaluate_psms ----------------------------------------------------------------------------

namespace {

// Four annotated records and one unannotated one:
//   0 PEPTIDE / PEPTIDE  0.9   match, 7 of 7
//   1 PEPTIDE / PEPSIDE  0.8   6 of 7 matched
//   2 (none)  / AAA      0.99  skipped
//   3 GASK    / GASK     0.7   match, 4 of 4
//   4 LESLIEK / (none)         no prediction
std::vector<sp::PsmRecord> four() {
  return {{"PEPTIDE", "PEPTIDE", 0.9},
          {"PEPTIDE", "PEPSIDE", 0.8},
          {"", "AAA", 0.99},
          {"GASK", "GASK", 0.7},
          {"LESLIEK", "", 0.95}};
}

}  // namespace

TEST(EvaluatePsms, CountsAndRatios) {
  const auto r = sp::evaluate_psms(four(), table());
  EXPECT_EQ(r.n_records, 5);
  EXPECT_EQ(r.n_annotated, 4);
  EXPECT_EQ(r.n_predicted, 3);
  EXPECT_EQ(r.n_unparsed, 0);
  EXPECT_EQ(r.n_peptide_matches, 2);
  EXPECT_EQ(r.n_aa_true, 7 + 7 + 4 + 7);
  EXPECT_EQ(r.n_aa_predicted, 7 + 7 + 4);
  EXPECT_EQ(r.n_aa_matched, 7 + 6 + 4);
  EXPECT_DOUBLE_EQ(r.aa_precision, 17.0 / 18.0);
  EXPECT_DOUBLE_EQ(r.aa_recall, 17.0 / 25.0);
  EXPECT_DOUBLE_EQ(r.peptide_recall, 2.0 / 4.0);
  EXPECT_DOUBLE_EQ(r.peptide_precision, 2.0 / 3.0);
  ASSERT_EQ(r.outcomes.size(), 4u);
  EXPECT_EQ(r.outcomes[2].index, 3u);
  EXPECT_EQ(r.outcomes[1].n_matched, 6);
  EXPECT_FALSE(r.outcomes[3].has_prediction);
  EXPECT_EQ(r.outcomes[3].n_predicted, 0);
}

TEST(EvaluatePsms, PrecisionCoverageCurveAupcAndRecallAtFdr) {
  const auto r = sp::evaluate_psms(four(), table());
  // Rank order: 0 (0.9, right), 1 (0.8, wrong), 3 (0.7, right), 4 (missing, score -1, wrong;
  // last although its record says 0.95).
  ASSERT_EQ(r.curve.size(), 4u);
  const double coverage[] = {0.25, 0.5, 0.75, 1.0};
  const double precision[] = {1.0, 0.5, 2.0 / 3.0, 0.5};
  const double score[] = {0.9, 0.8, 0.7, -1.0};
  for (size_t k = 0; k < 4; ++k) {
    EXPECT_DOUBLE_EQ(r.curve[k].coverage, coverage[k]) << k;
    EXPECT_DOUBLE_EQ(r.curve[k].precision, precision[k]) << k;
    EXPECT_DOUBLE_EQ(r.curve[k].score, score[k]) << k;
  }
  // Trapezoids of width 1/4 over (0, 1), (.25, 1), (.5, .5), (.75, 2/3), (1, .5):
  // (2 + 1.5 + 7/6 + 7/6) / 8 = 35/48.
  EXPECT_NEAR(r.aupc, 35.0 / 48.0, 1e-12);
  // Precision >= 0.95 only at rank 1.
  EXPECT_EQ(r.fdr_rank, 1);
  EXPECT_DOUBLE_EQ(r.recall_at_fdr, 0.25);
  EXPECT_DOUBLE_EQ(r.fdr_score_threshold, 0.9);
  // At 50% FDR: ranks 3 (2/3) and 4 (1/2) qualify, but rank 4 holds no prediction.
  sp::EvaluateOptions half;
  half.fdr = 0.5;
  const auto h = sp::evaluate_psms(four(), table(), half);
  EXPECT_EQ(h.fdr_rank, 3);
  EXPECT_DOUBLE_EQ(h.recall_at_fdr, 0.5);
  EXPECT_DOUBLE_EQ(h.fdr_score_threshold, 0.7);
}

TEST(EvaluatePsms, NoRankReachesTheFdr) {
  const auto r = sp::evaluate_psms({{"PEPTIDE", "PEPSIDE", 0.5}, {"GASK", "GASK", 0.4}}, table());
  EXPECT_EQ(r.fdr_rank, 0);
  EXPECT_DOUBLE_EQ(r.recall_at_fdr, 0.0);
  EXPECT_TRUE(std::isnan(r.fdr_score_threshold));
  // (p0 = p1 = 0, 0, 1/2): (0 + 0 + 0.5) / 4.
  EXPECT_DOUBLE_EQ(r.aupc, 0.125);
}

TEST(EvaluatePsms, TiesKeepInputOrderAndMissingGoLast) {
  // Equal scores: the wrong record (input first) ranks first.
  const auto tie = sp::evaluate_psms({{"PEPTIDE", "PEPSIDE", 0.5}, {"GASK", "GASK", 0.5}}, table());
  ASSERT_EQ(tie.curve.size(), 2u);
  EXPECT_DOUBLE_EQ(tie.curve[0].precision, 0.0);
  EXPECT_DOUBLE_EQ(tie.curve[1].precision, 0.5);
  // A missing prediction ranks after a prediction scored below -1.
  const auto low = sp::evaluate_psms({{"GASK", "", 3.0}, {"GASK", "GASK", -5.0}}, table());
  ASSERT_EQ(low.curve.size(), 2u);
  EXPECT_DOUBLE_EQ(low.curve[0].score, -5.0);
  EXPECT_DOUBLE_EQ(low.curve[0].precision, 1.0);
  EXPECT_DOUBLE_EQ(low.curve[1].score, -1.0);
  EXPECT_DOUBLE_EQ(low.curve[1].precision, 0.5);
}

TEST(EvaluatePsms, MissingPredictionsOnly) {
  const auto r = sp::evaluate_psms({{"GASK", "", 0}, {"PEPTIDE", "", 0}}, table());
  EXPECT_EQ(r.n_annotated, 2);
  EXPECT_EQ(r.n_predicted, 0);
  EXPECT_EQ(r.n_aa_predicted, 0);
  EXPECT_EQ(r.n_aa_true, 11);
  EXPECT_DOUBLE_EQ(r.aa_precision, 0.0);  // 0 / 0 is reported as 0
  EXPECT_DOUBLE_EQ(r.peptide_precision, 0.0);
  EXPECT_DOUBLE_EQ(r.peptide_recall, 0.0);
  ASSERT_EQ(r.curve.size(), 2u);
  EXPECT_DOUBLE_EQ(r.curve[1].score, -1.0);
  EXPECT_EQ(r.fdr_rank, 0);
}

TEST(EvaluatePsms, UnparsedPredictionIsWrongWithItsResidueLetters) {
  const auto r = sp::evaluate_psms(
      {{"PEPTIDE", "PEPTXDE", 0.9}, {"PEPTIDE", "PEPM[Foo]K", 0.8}, {"GASK", "[Acetyl]-GASK", 0.7}}, table());
  EXPECT_EQ(r.n_predicted, 3);
  EXPECT_EQ(r.n_unparsed, 2);
  EXPECT_FALSE(r.outcomes[0].parsed);
  EXPECT_EQ(r.outcomes[0].n_predicted, 7);  // X is not in the table
  EXPECT_EQ(r.outcomes[1].n_predicted, 5);  // P E P M K; "Foo" is inside brackets
  EXPECT_EQ(r.outcomes[0].n_matched, 0);
  EXPECT_TRUE(r.outcomes[2].parsed);
  EXPECT_EQ(r.outcomes[2].n_predicted, 5);  // the N-terminal modification counts
  EXPECT_EQ(r.outcomes[2].n_matched, 4);
  EXPECT_EQ(r.n_aa_predicted, 7 + 5 + 5);
  EXPECT_EQ(r.n_aa_matched, 4);
  EXPECT_EQ(r.n_peptide_matches, 0);
  EXPECT_DOUBLE_EQ(r.curve[0].score, 0.9);  // an unparsed prediction keeps its score
}

TEST(EvaluatePsms, BadInput) {
  try {
    sp::evaluate_psms({{"GASK", "GASK", 1}, {"PEPXIDE", "PEPTIDE", 1}}, table());
    FAIL() << "expected an InputError";
  } catch (const strand::InputError& e) {
    EXPECT_TRUE(contains(e.what(), "record 2")) << e.what();
    EXPECT_TRUE(contains(e.what(), "unknown residue 'X'")) << e.what();
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(sp::evaluate_psms({{"GASK", "GASK", nan}}, table()), strand::InputError);
  EXPECT_NO_THROW(sp::evaluate_psms({{"GASK", "", nan}}, table()));  // no prediction, no score needed
  sp::EvaluateOptions bad;
  bad.fdr = 1.5;
  EXPECT_THROW(sp::evaluate_psms({}, table(), bad), strand::InputError);
  bad.fdr = 0.05;
  bad.residue_tolerance = -1;
  EXPECT_THROW(sp::evaluate_psms({}, table(), bad), strand::InputError);
}

TEST(EvaluatePsms, CurveCsv) {
  const auto r = sp::evaluate_psms(four(), table());
  const std::string expected =
      "coverage,precision,score\n"
      "0.25,1,0.9\n"
      "0.5,0.5,0.8\n"
      "0.75,0.6666666666666666,0.7\n"
      "1,0.5,-1\n";
  EXPECT_EQ(sp::curve_csv(r.curve), expected);
  TempDir dir;
  const std::string path = (dir.path / "curve.csv").string();
  sp::write_curve_csv(path, r.curve);
  EXPECT_EQ(sio::read_file(path), expected);
  EXPECT_EQ(sp::curve_csv({}), "coverage,precision,score\n");
  EXPECT_THROW(sp::write_curve_csv((dir.path / "missing" / "curve.csv").string(), r.curve), strand::IoError);
}

// ---- SVG line chart ---------------------------------------------------------------------------

namespace {

sio::Chart unit_chart() {
  sio::Chart c;
  c.x_min = 0;
  c.x_max = 1;
  c.y_min = 0;
  c.y_max = 1;
  return c;
}

}  // namespace

TEST(SvgChart, PolylineCoordinates) {
  // 640 x 480: plot area x 70 .. 620, y 40 .. 425 (y grows upwards).
  auto c = unit_chart();
  c.series.push_back({"model", {{0, 0}, {0.5, 0.5}, {1, 1}}, true, false, ""});
  const std::string svg = sio::svg_line_chart(c);
  EXPECT_TRUE(contains(svg, "points=\"70.00,425.00 345.00,232.50 620.00,40.00\"")) << svg;
  EXPECT_TRUE(contains(svg, "stroke=\"#1f77b4\""));
  EXPECT_EQ(count(svg, "<polyline"), 1u);
  EXPECT_EQ(count(svg, "<circle"), 0u);
  EXPECT_TRUE(contains(svg, ">model</text>"));  // legend
  EXPECT_TRUE(contains(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"480\""));
  EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
}

TEST(SvgChart, MarkersAndColours) {
  auto c = unit_chart();
  c.series.push_back({"a", {{0.5, 0.5}}, false, true, "red"});
  c.series.push_back({"b", {{1, 0}}, true, false, ""});
  const std::string svg = sio::svg_line_chart(c);
  EXPECT_TRUE(contains(svg, "<g fill=\"red\" clip-path=\"url(#plot-area)\"><circle cx=\"345.00\" cy=\"232.50\""));
  EXPECT_EQ(count(svg, "<polyline"), 1u);  // only b draws a line
  EXPECT_TRUE(contains(svg, "stroke=\"#ff7f0e\""));  // b: the second palette colour
}

TEST(SvgChart, EscapesText) {
  auto c = unit_chart();
  c.title = "AA <precision> & \"recall\"";
  c.x_label = "coverage & more";
  c.series.push_back({"x<y", {{0, 0}}, true, false, ""});
  const std::string svg = sio::svg_line_chart(c);
  EXPECT_TRUE(contains(svg, ">AA &lt;precision&gt; &amp; &quot;recall&quot;</text>")) << svg;
  EXPECT_TRUE(contains(svg, ">coverage &amp; more</text>"));
  EXPECT_TRUE(contains(svg, ">x&lt;y</text>"));
  EXPECT_FALSE(contains(svg, "<precision>"));
  EXPECT_FALSE(contains(svg, "x<y"));
  EXPECT_EQ(sio::xml_escape("a'b"), "a&apos;b");
}

TEST(SvgChart, SkipsNonFinitePoints) {
  auto c = unit_chart();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  c.series.push_back({"s", {{0, 0}, {nan, 0.5}, {0.5, inf}, {1, 1}}, true, true, ""});
  const std::string svg = sio::svg_line_chart(c);
  EXPECT_TRUE(contains(svg, "points=\"70.00,425.00 620.00,40.00\"")) << svg;
  EXPECT_EQ(count(svg, "<circle"), 2u);
  EXPECT_FALSE(contains(svg, "nan"));
  EXPECT_FALSE(contains(svg, "inf"));
  // Automatic ranges ignore them too: x 0 .. 1 at step 0.2.
  sio::Chart automatic;
  automatic.series.push_back({"s", {{0, 0}, {nan, 50}, {1, 1}}, true, false, ""});
  EXPECT_TRUE(contains(sio::svg_line_chart(automatic), "points=\"70.00,425.00 620.00,40.00\""));
}

TEST(SvgChart, EmptyChartDrawsAxesOnly) {
  sio::Chart c;
  c.title = "nothing yet";
  c.series.push_back({"empty", {}, true, true, ""});
  const std::string svg = sio::svg_line_chart(c);
  EXPECT_EQ(count(svg, "<polyline"), 0u);
  EXPECT_EQ(count(svg, "<circle"), 0u);
  EXPECT_TRUE(contains(svg, ">nothing yet</text>"));
  EXPECT_TRUE(contains(svg, ">empty</text>"));  // the empty series keeps its legend entry
  // No data: both axes 0 .. 1 with ticks at 0.2 (6 per axis, 2 axis lines, 1 legend sample).
  EXPECT_TRUE(contains(svg, ">0.0</text>"));
  EXPECT_TRUE(contains(svg, ">1.0</text>"));
  EXPECT_EQ(count(svg, "<line "), 2u + 12u + 1u);
  sio::Chart bare;
  bare.legend = true;
  EXPECT_FALSE(contains(sio::svg_line_chart(bare), "class=\"legend\""));
}

TEST(SvgChart, AutomaticRangesUseNiceTicks) {
  sio::Chart c;
  c.series.push_back({"", {{0.3, -7}, {2.7, 93}}, true, false, ""});
  const std::string svg = sio::svg_line_chart(c);
  // x: 0.3 .. 2.7 -> step 0.5, range 0 .. 3; y: -7 .. 93 -> step 20, range -20 .. 100.
  EXPECT_TRUE(contains(svg, ">2.5</text>"));
  EXPECT_TRUE(contains(svg, ">3.0</text>"));
  EXPECT_TRUE(contains(svg, ">-20</text>"));
  EXPECT_TRUE(contains(svg, ">100</text>"));
  // (0.3, -7) -> x 70 + 0.1 * 550, y 425 - (13 / 120) * 385; (2.7, 93) -> 70 + 0.9 * 550, 425 - (113 / 120) * 385.
  EXPECT_TRUE(contains(svg, "points=\"125.00,383.29 565.00,62.46\"")) << svg;
  EXPECT_FALSE(contains(svg, "class=\"legend\""));  // no named series
  EXPECT_EQ(sio::nice_ticks(0.3, 2.7), (std::vector<double>{0, 0.5, 1, 1.5, 2, 2.5, 3}));
  EXPECT_EQ(sio::nice_ticks(-7, 93), (std::vector<double>{-20, 0, 20, 40, 60, 80, 100}));
  const auto unit = sio::nice_ticks(0, 1);
  ASSERT_EQ(unit.size(), 6u);
  EXPECT_NEAR(unit[3], 0.6, 1e-12);
  EXPECT_THROW(sio::nice_ticks(1, 1), strand::InputError);
}

TEST(SvgChart, RejectsBadRangesAndWritesAtomically) {
  auto c = unit_chart();
  c.x_max = 0;
  EXPECT_THROW(sio::svg_line_chart(c), strand::InputError);
  c = unit_chart();
  c.y_min = std::numeric_limits<double>::quiet_NaN();
  EXPECT_THROW(sio::svg_line_chart(c), strand::InputError);
  c = unit_chart();
  c.width = 10;
  EXPECT_THROW(sio::svg_line_chart(c), strand::InputError);
  c = unit_chart();
  c.series.push_back({"s", {{0.25, 0.75}}, true, true, ""});
  TempDir dir;
  const std::string path = (dir.path / "chart.svg").string();
  sio::write_svg_line_chart(path, c);
  EXPECT_EQ(sio::read_file(path), sio::svg_line_chart(c));
  EXPECT_THROW(sio::write_svg_line_chart((dir.path / "no" / "chart.svg").string(), c), strand::IoError);
}
