#include "libseq/train/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "libseq/core/error.h"

namespace strand::train {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

void check_classes(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t num_classes,
                   const char* what) {
  STRAND_CHECK(!labels.empty(), what, ": no examples");
  STRAND_CHECK(labels.size() == predicted.size(), what, ": ", labels.size(), " labels but ", predicted.size(),
               " predictions");
  STRAND_CHECK(num_classes >= 2, what, ": need at least 2 classes, got ", num_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    STRAND_CHECK(labels[i] >= 0 && labels[i] < num_classes, what, ": label ", labels[i], " of example ", i,
                 " is outside 0..", num_classes - 1);
    STRAND_CHECK(predicted[i] >= 0 && predicted[i] < num_classes, what, ": prediction ", predicted[i],
                 " of example ", i, " is outside 0..", num_classes - 1);
  }
}

void check_pairs(const std::vector<double>& a, const std::vector<double>& b, const char* what) {
  STRAND_CHECK(!a.empty(), what, ": no examples");
  STRAND_CHECK(a.size() == b.size(), what, ": ", a.size(), " targets but ", b.size(), " predictions");
}

/// confusion[t * k + p]: examples of true class t predicted as p.
std::vector<double> confusion(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t k) {
  std::vector<double> c(static_cast<size_t>(k * k), 0.0);
  for (size_t i = 0; i < labels.size(); ++i) c[static_cast<size_t>(labels[i] * k + predicted[i])] += 1.0;
  return c;
}

/// Average ranks (1-based), ties sharing the mean of their positions.
std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<size_t> order(v.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double rank = 0.5 * static_cast<double>(i + j) + 1.0;
    for (size_t t = i; t <= j; ++t) r[order[t]] = rank;
    i = j + 1;
  }
  return r;
}

/// AUROC of `score` for the examples where `positive` is true against the rest; NaN when one side
/// is empty.
double binary_auroc(const std::vector<bool>& positive, const std::vector<double>& score) {
  const std::vector<double> r = ranks(score);
  double n_pos = 0, rank_sum = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (positive[i]) {
      n_pos += 1;
      rank_sum += r[i];
    }
  }
  const double n_neg = static_cast<double>(r.size()) - n_pos;
  if (n_pos == 0 || n_neg == 0) return kNaN;
  return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg);
}

}  // namespace

double accuracy(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted) {
  STRAND_CHECK(!labels.empty(), "accuracy: no examples");
  STRAND_CHECK(labels.size() == predicted.size(), "accuracy: ", labels.size(), " labels but ", predicted.size(),
               " predictions");
  size_t right = 0;
  for (size_t i = 0; i < labels.size(); ++i) right += labels[i] == predicted[i] ? 1 : 0;
  return static_cast<double>(right) / static_cast<double>(labels.size());
}

double mcc(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t num_classes) {
  check_classes(labels, predicted, num_classes, "mcc");
  const int64_t k = num_classes;
  const std::vector<double> c = confusion(labels, predicted, k);
  double s = 0, correct = 0, pt = 0, pp = 0, tt = 0;
  for (int64_t a = 0; a < k; ++a) {
    double p = 0, t = 0;
    for (int64_t b = 0; b < k; ++b) {
      p += c[static_cast<size_t>(b * k + a)];
      t += c[static_cast<size_t>(a * k + b)];
    }
    correct += c[static_cast<size_t>(a * k + a)];
    s += t;
    pt += p * t;
    pp += p * p;
    tt += t * t;
  }
  const double denominator = (s * s - pp) * (s * s - tt);
  if (denominator <= 0) return 0.0;
  return (correct * s - pt) / std::sqrt(denominator);
}

double f1(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t num_classes) {
  check_classes(labels, predicted, num_classes, "f1");
  const int64_t k = num_classes;
  const std::vector<double> c = confusion(labels, predicted, k);
  auto class_f1 = [&](int64_t cls, bool* present) {
    double tp = c[static_cast<size_t>(cls * k + cls)], fp = 0, fn = 0;
    for (int64_t o = 0; o < k; ++o) {
      if (o == cls) continue;
      fp += c[static_cast<size_t>(o * k + cls)];
      fn += c[static_cast<size_t>(cls * k + o)];
    }
    *present = tp + fp + fn > 0;
    return *present ? 2 * tp / (2 * tp + fp + fn) : 0.0;
  };
  bool present = false;
  if (k == 2) return class_f1(1, &present);
  double sum = 0;
  int64_t counted = 0;
  for (int64_t cls = 0; cls < k; ++cls) {
    const double v = class_f1(cls, &present);
    if (!present) continue;
    sum += v;
    ++counted;
  }
  return counted > 0 ? sum / static_cast<double>(counted) : 0.0;
}

double auroc(const std::vector<int64_t>& labels, const std::vector<double>& scores, int64_t num_classes) {
  STRAND_CHECK(!labels.empty(), "auroc: no examples");
  STRAND_CHECK(num_classes >= 2, "auroc: need at least 2 classes, got ", num_classes);
  STRAND_CHECK(scores.size() == labels.size() * static_cast<size_t>(num_classes), "auroc: expected ", labels.size(),
               " x ", num_classes, " scores, got ", scores.size());
  for (size_t i = 0; i < labels.size(); ++i)
    STRAND_CHECK(labels[i] >= 0 && labels[i] < num_classes, "auroc: label ", labels[i], " of example ", i,
                 " is outside 0..", num_classes - 1);
  const size_t n = labels.size(), k = static_cast<size_t>(num_classes);
  std::vector<bool> positive(n);
  std::vector<double> score(n);
  auto one_vs_rest = [&](size_t cls) {
    for (size_t i = 0; i < n; ++i) {
      positive[i] = static_cast<size_t>(labels[i]) == cls;
      score[i] = scores[i * k + cls];
    }
    return binary_auroc(positive, score);
  };
  if (k == 2) return one_vs_rest(1);
  double sum = 0;
  int counted = 0;
  for (size_t cls = 0; cls < k; ++cls) {
    const double v = one_vs_rest(cls);
    if (std::isnan(v)) continue;
    sum += v;
    ++counted;
  }
  return counted > 0 ? sum / counted : kNaN;
}

double pearson(const std::vector<double>& targets, const std::vector<double>& predicted) {
  check_pairs(targets, predicted, "pearson");
  const double n = static_cast<double>(targets.size());
  const double mt = std::accumulate(targets.begin(), targets.end(), 0.0) / n;
  const double mp = std::accumulate(predicted.begin(), predicted.end(), 0.0) / n;
  double stp = 0, stt = 0, spp = 0;
  for (size_t i = 0; i < targets.size(); ++i) {
    const double a = targets[i] - mt, b = predicted[i] - mp;
    stp += a * b;
    stt += a * a;
    spp += b * b;
  }
  if (stt <= 0 || spp <= 0) return kNaN;
  return stp / std::sqrt(stt * spp);
}

double spearman(const std::vector<double>& targets, const std::vector<double>& predicted) {
  check_pairs(targets, predicted, "spearman");
  return pearson(ranks(targets), ranks(predicted));
}

double rmse(const std::vector<double>& targets, const std::vector<double>& predicted) {
  check_pairs(targets, predicted, "rmse");
  double sum = 0;
  for (size_t i = 0; i < targets.size(); ++i) sum += (targets[i] - predicted[i]) * (targets[i] - predicted[i]);
  return std::sqrt(sum / static_cast<double>(targets.size()));
}

std::map<std::string, double> classification_metrics(const std::vector<int64_t>& labels,
                                                     const std::vector<double>& scores, int64_t num_classes) {
  STRAND_CHECK(num_classes >= 2, "classification metrics: need at least 2 classes, got ", num_classes);
  STRAND_CHECK(scores.size() == labels.size() * static_cast<size_t>(num_classes),
               "classification metrics: expected ", labels.size(), " x ", num_classes, " scores, got ",
               scores.size());
  std::vector<int64_t> predicted(labels.size());
  const size_t k = static_cast<size_t>(num_classes);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto row = scores.begin() + static_cast<std::ptrdiff_t>(i * k);
    predicted[i] = std::max_element(row, row + static_cast<std::ptrdiff_t>(k)) - row;
  }
  return {{"accuracy", accuracy(labels, predicted)},
          {"mcc", mcc(labels, predicted, num_classes)},
          {"f1", f1(labels, predicted, num_classes)},
          {"auroc", auroc(labels, scores, num_classes)}};
}

std::map<std::string, double> regression_metrics(const std::vector<double>& targets,
                                                 const std::vector<double>& predicted) {
  return {{"spearman", spearman(targets, predicted)},
          {"pearson", pearson(targets, predicted)},
          {"rmse", rmse(targets, predicted)}};
}

bool metric_higher_is_better(const std::string& name) {
  if (name == "rmse") return false;
  if (name == "accuracy" || name == "mcc" || name == "f1" || name == "auroc" || name == "spearman" ||
      name == "pearson")
    return true;
  throw InputError("unknown metric '" + name + "' (known: accuracy, mcc, f1, auroc, spearman, pearson, rmse)");
}

}  // namespace strand::train
