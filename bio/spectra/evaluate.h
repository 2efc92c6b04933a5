// Evaluation of de novo peptide predictions against annotated spectra, as Casanovo does it
// (shared reference: denovo.md §4.1 matching rules, §4.2 metric formulas).
//
// Matching (aa_match, Casanovo's aa_match_prefix_suffix): two peptides are compared as lists of
// token masses. The prefix walk keeps running masses c1, c2; while both lists have tokens left,
//   |(c1 + m1) - (c2 + m2)| <  cumulative tolerance (0.5 Da): flag[max(i1, i2)] = |m1 - m2| <
//                                                         residue tolerance (0.1 Da); advance both
//   else advance the list whose running mass plus its next token is smaller (peptide 2 on a tie).
// Flags cover max(len1, len2) positions and start false. When not every flag is true, the same
// walk runs from the C-terminal ends (running masses restarted at 0) while both indices are >=
// the first false flag, and overwrites the flags it visits. The peptide matches when every flag
// is true, so the token counts must agree. Comparisons are strict (<), as in Casanovo; 0.1 Da
// counts K/Q (0.036 Da), F/M[Oxidation] (0.033 Da) and N[Deamidated]/D (equal) as matches.
//
// Choices, documented here because the reference leaves them open:
//   - N-terminal modification tokens ([Acetyl]-, ...; amino_acid 0 in the ResidueTable) are
//     entries of the mass list like residues, as Casanovo's token lists hold them: they walk,
//     match and count as one "amino acid" in the true, predicted and matched totals. So
//     "[Acetyl]-PEPTIDE" against "PEPTIDE" matches the 7 residues (in the suffix walk) out of 8
//     true tokens, and is not a peptide match.
//   - I and L: both peptides are parsed with the given table; ResidueTable::casanovo() reads I as
//     L. Without merging the masses are equal anyway, so I/L still match by mass.
//   - An empty predicted peptide is "no prediction": a wrong peptide with 0 predicted tokens.
//   - A prediction the table cannot parse (unknown residue or modification) is a wrong peptide
//     with 0 matched tokens and, as predicted tokens, the count of upper-case letters outside
//     [...] brackets (its residue letters; modifications are not counted). It keeps its score.
//   - An empty true peptide is an unannotated spectrum: skipped entirely. A true peptide that
//     does not parse is an InputError naming the record.
//   - A ratio whose denominator is 0 is reported as 0.
//
// Precision-coverage curve over the N annotated spectra: the records are ranked by score,
// descending; records without a prediction go last (their score column is -1, whatever the
// other scores are); ties keep input order. At rank k = 1..N: precision = (matches in ranks
// 1..k) / k, coverage = k / N, score = the k-th record's score.
// AUPC (area under the curve) is the trapezoid rule over coverage on the points
// (0, p_1), (1/N, p_1), (2/N, p_2), ..., (1, p_N), i.e. sum over k of (p_{k-1} + p_k) / (2N) with
// p_0 = p_1: a perfect ranking scores exactly 1 (precision extended flat to coverage 0).
// Recall at FDR f (InstaNovo's find_recall_at_fdr, f = 0.05): the largest rank k holding a
// prediction with precision@k >= 1 - f; reported as recall = matches@k / N, the k-th score as
// the threshold, and k. None: k = 0, recall 0, threshold NaN. Ranks are not merged across tied
// scores, so a k inside a tie is reported as is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bio/spectra/masses.h"

namespace strand::bio::spectra {

constexpr double kCumulativeMassTolerance = 0.5;  ///< Da, running prefix/suffix masses
constexpr double kResidueMassTolerance = 0.1;     ///< Da, one residue against the other

/// Result of matching two token-mass lists.
struct AaMatch {
  std::vector<bool> matches;  ///< one flag per position, max(len1, len2) of them
  int64_t n_matched = 0;      ///< flags that are true
  bool peptide_match = false; ///< every flag true (two empty lists: true, as numpy's all())
};

/// Casanovo's aa_match_prefix_suffix on two lists of token masses (N-terminal first).
AaMatch aa_match(const std::vector<double>& masses1, const std::vector<double>& masses2,
                 double cumulative_tolerance = kCumulativeMassTolerance,
                 double residue_tolerance = kResidueMassTolerance);

/// The token masses of a parsed peptide (an N-terminal modification is its own entry).
std::vector<double> token_masses(const ResidueTable& table, const std::vector<int>& tokens);

/// One peptide-spectrum match to evaluate.
struct PsmRecord {
  std::string true_peptide;       ///< empty: unannotated, skipped
  std::string predicted_peptide;  ///< empty: no prediction
  double score = 0;               ///< peptide score; higher is more confident; not NaN
};

struct EvaluateOptions {
  double cumulative_tolerance = kCumulativeMassTolerance;
  double residue_tolerance = kResidueMassTolerance;
  double fdr = 0.05;  ///< for recall at FDR; in [0, 1]
};

/// One point of the precision-coverage curve.
struct CurvePoint {
  double coverage = 0;   ///< k / N
  double precision = 0;  ///< matches in the first k / k
  double score = 0;      ///< score of the k-th record (-1 for a missing prediction)
};

/// What happened to one annotated record.
struct PsmOutcome {
  size_t index = 0;          ///< position in the input
  bool has_prediction = false;
  bool parsed = false;       ///< the prediction parsed (false when there is none)
  int64_t n_true = 0;        ///< true tokens
  int64_t n_predicted = 0;   ///< predicted tokens (see the header comment for unparsed ones)
  int64_t n_matched = 0;
  bool peptide_match = false;
};

struct EvaluationResult {
  int64_t n_records = 0;            ///< input records
  int64_t n_annotated = 0;          ///< N: records with a true peptide
  int64_t n_predicted = 0;          ///< annotated records with a prediction (parsed or not)
  int64_t n_unparsed = 0;           ///< predictions the table could not parse
  int64_t n_peptide_matches = 0;
  int64_t n_aa_true = 0;
  int64_t n_aa_predicted = 0;
  int64_t n_aa_matched = 0;

  double aa_precision = 0;       ///< n_aa_matched / n_aa_predicted
  double aa_recall = 0;          ///< n_aa_matched / n_aa_true
  double peptide_recall = 0;     ///< n_peptide_matches / n_annotated
  double peptide_precision = 0;  ///< n_peptide_matches / n_predicted

  std::vector<CurvePoint> curve;  ///< N points, in rank order
  double aupc = 0;

  int64_t fdr_rank = 0;            ///< k of recall at FDR (0: none)
  double recall_at_fdr = 0;        ///< matches@k / N
  double fdr_score_threshold = 0;  ///< score of rank k; NaN when k = 0

  std::vector<PsmOutcome> outcomes;  ///< one per annotated record, in input order
};

/// Evaluates `records` with peptides parsed by `table`. InputError for a true peptide that does
/// not parse, a NaN score or options out of range.
EvaluationResult evaluate_psms(const std::vector<PsmRecord>& records, const ResidueTable& table,
                               const EvaluateOptions& options = {});

/// Writes the curve as CSV with the header "coverage,precision,score", one row per point, each
/// value in the shortest form that reads back as the same double ("0.5", "0.6666666666666666");
/// atomically (IoError on failure).
void write_curve_csv(const std::string& path, const std::vector<CurvePoint>& curve);

/// The CSV text write_curve_csv writes.
std::string curve_csv(const std::vector<CurvePoint>& curve);

}  // namespace strand::bio::spectra
