#include "bio/spectra/evaluate.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace strand::bio::spectra {
namespace {

/// One walk of aa_match_prefix (step +1 from the N-terminus) or of the suffix pass (step -1 from
/// the C-terminus, stopping below `stop`). Sets flags[max(i1, i2)] for every paired position.
void walk(const std::vector<double>& m1, const std::vector<double>& m2, bool forward, int64_t stop,
          double cumulative_tolerance, double residue_tolerance, std::vector<bool>& flags) {
  const int64_t n1 = static_cast<int64_t>(m1.size());
  const int64_t n2 = static_cast<int64_t>(m2.size());
  const int64_t step = forward ? 1 : -1;
  int64_t i1 = forward ? 0 : n1 - 1;
  int64_t i2 = forward ? 0 : n2 - 1;
  const auto inside = [&](int64_t i, int64_t n) { return forward ? i < n : i >= stop; };
  double c1 = 0;
  double c2 = 0;
  while (inside(i1, n1) && inside(i2, n2)) {
    const double a = m1[static_cast<size_t>(i1)];
    const double b = m2[static_cast<size_t>(i2)];
    if (std::abs((c1 + a) - (c2 + b)) < cumulative_tolerance) {
      flags[static_cast<size_t>(std::max(i1, i2))] = std::abs(a - b) < residue_tolerance;
      i1 += step;
      i2 += step;
      c1 += a;
      c2 += b;
    } else if (c2 + b > c1 + a) {
      i1 += step;
      c1 += a;
    } else {
      i2 += step;
      c2 += b;
    }
  }
}

/// Upper-case letters outside [...]: the residue letters of a peptide the table cannot parse.
int64_t residue_letters(const std::string& peptide) {
  int64_t n = 0;
  int depth = 0;
  for (const char c : peptide) {
    if (c == '[') {
      ++depth;
    } else if (c == ']') {
      if (depth > 0) --depth;
    } else if (depth == 0 && c >= 'A' && c <= 'Z') {
      ++n;
    }
  }
  return n;
}

double ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0 : static_cast<double>(numerator) / static_cast<double>(denominator);
}

void append_number(std::string& out, double value) {
  char buffer[64];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  if (ec != std::errc()) throw InternalError("curve_csv: cannot format a number");
  out.append(buffer, end);
}

}  // namespace

AaMatch aa_match(const std::vector<double>& masses1, const std::vector<double>& masses2, double cumulative_tolerance,
                 double residue_tolerance) {
  AaMatch out;
  out.matches.assign(std::max(masses1.size(), masses2.size()), false);
  walk(masses1, masses2, true, 0, cumulative_tolerance, residue_tolerance, out.matches);
  const auto first_false = std::find(out.matches.begin(), out.matches.end(), false);
  if (first_false != out.matches.end()) {
    const int64_t stop = first_false - out.matches.begin();
    walk(masses1, masses2, false, stop, cumulative_tolerance, residue_tolerance, out.matches);
  }
  out.n_matched = std::count(out.matches.begin(), out.matches.end(), true);
  out.peptide_match = out.n_matched == static_cast<int64_t>(out.matches.size());
  return out;
}

std::vector<double> token_masses(const ResidueTable& table, const std::vector<int>& tokens) {
  std::vector<double> out;
  out.reserve(tokens.size());
  for (const int t : tokens) out.push_back(table.residues().at(static_cast<size_t>(t)).mass);
  return out;
}

EvaluationResult evaluate_psms(const std::vector<PsmRecord>& records, const ResidueTable& table,
                               const EvaluateOptions& options) {
  STRAND_CHECK(std::isfinite(options.cumulative_tolerance) && options.cumulative_tolerance > 0,
               "evaluate: the cumulative mass tolerance must be a positive number of daltons, got ",
               options.cumulative_tolerance);
  STRAND_CHECK(std::isfinite(options.residue_tolerance) && options.residue_tolerance > 0,
               "evaluate: the residue mass tolerance must be a positive number of daltons, got ",
               options.residue_tolerance);
  STRAND_CHECK(options.fdr >= 0 && options.fdr <= 1, "evaluate: the FDR must be in [0, 1], got ", options.fdr);

  EvaluationResult r;
  r.n_records = static_cast<int64_t>(records.size());
  std::vector<double> scores;  // per outcome; only meaningful with a prediction
  for (size_t i = 0; i < records.size(); ++i) {
    const PsmRecord& rec = records[i];
    if (rec.true_peptide.empty()) continue;
    std::vector<int> truth;
    try {
      truth = table.parse(rec.true_peptide);
    } catch (const InputError& e) {
      throw InputError("evaluate: record " + std::to_string(i + 1) + ": true peptide: " + e.what());
    }
    PsmOutcome o;
    o.index = i;
    o.n_true = static_cast<int64_t>(truth.size());
    o.has_prediction = !rec.predicted_peptide.empty();
    if (o.has_prediction) {
      STRAND_CHECK(!std::isnan(rec.score), "evaluate: record ", i + 1, " (predicted '", rec.predicted_peptide,
                   "'): the score is not a number");
      std::vector<int> predicted;
      try {
        predicted = table.parse(rec.predicted_peptide);
        o.parsed = true;
      } catch (const InputError&) {
        o.parsed = false;
      }
      if (o.parsed) {
        const AaMatch m = aa_match(token_masses(table, truth), token_masses(table, predicted),
                                   options.cumulative_tolerance, options.residue_tolerance);
        o.n_predicted = static_cast<int64_t>(predicted.size());
        o.n_matched = m.n_matched;
        o.peptide_match = m.peptide_match;
      } else {
        o.n_predicted = residue_letters(rec.predicted_peptide);
        ++r.n_unparsed;
      }
      ++r.n_predicted;
    }
    r.n_aa_true += o.n_true;
    r.n_aa_predicted += o.n_predicted;
    r.n_aa_matched += o.n_matched;
    r.n_peptide_matches += o.peptide_match ? 1 : 0;
    scores.push_back(o.has_prediction ? rec.score : -1.0);
    r.outcomes.push_back(o);
  }
  r.n_annotated = static_cast<int64_t>(r.outcomes.size());
  r.aa_precision = ratio(r.n_aa_matched, r.n_aa_predicted);
  r.aa_recall = ratio(r.n_aa_matched, r.n_aa_true);
  r.peptide_recall = ratio(r.n_peptide_matches, r.n_annotated);
  r.peptide_precision = ratio(r.n_peptide_matches, r.n_predicted);

  // Rank: predictions first, by score descending; ties (and the missing predictions) in input order.
  std::vector<size_t> order(r.outcomes.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const bool pa = r.outcomes[a].has_prediction;
    const bool pb = r.outcomes[b].has_prediction;
    if (pa != pb) return pa;
    return pa && scores[a] > scores[b];
  });

  const double n = static_cast<double>(r.n_annotated);
  const double target = 1.0 - options.fdr;
  int64_t matches = 0;
  r.curve.reserve(order.size());
  r.fdr_score_threshold = std::numeric_limits<double>::quiet_NaN();
  for (size_t k = 0; k < order.size(); ++k) {
    const PsmOutcome& o = r.outcomes[order[k]];
    matches += o.peptide_match ? 1 : 0;
    const double rank = static_cast<double>(k + 1);
    const double precision = static_cast<double>(matches) / rank;
    r.curve.push_back({rank / n, precision, scores[order[k]]});
    const double previous = k == 0 ? precision : r.curve[k - 1].precision;
    r.aupc += (previous + precision) / (2.0 * n);
    if (o.has_prediction && precision >= target) {
      r.fdr_rank = static_cast<int64_t>(k + 1);
      r.recall_at_fdr = static_cast<double>(matches) / n;
      r.fdr_score_threshold = scores[order[k]];
    }
  }
  return r;
}

std::string curve_csv(const std::vector<CurvePoint>& curve) {
  std::string out = "coverage,precision,score\n";
  for (const CurvePoint& p : curve) {
    append_number(out, p.coverage);
    out += ',';
    append_number(out, p.precision);
    out += ',';
    append_number(out, p.score);
    out += '\n';
  }
  return out;
}

void write_curve_csv(const std::string& path, const std::vector<CurvePoint>& curve) {
  io::write_file_atomic(path, curve_csv(curve));
}

}  // namespace strand::bio::spectra
