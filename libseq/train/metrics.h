// Evaluation metrics for supervised tasks, computed in double precision on host vectors.
//
// Classification (labels and predictions are class ids 0..num_classes-1):
//   accuracy  share of predictions equal to the label.
//   mcc       Matthews correlation coefficient; for more than two classes the multi-class
//             generalisation R_K of Gorodkin (2004), computed from the confusion matrix C:
//               (c*s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2))
//             with c = trace(C), s = total, p_k = predicted as k, t_k = truly k. Defined as 0
//             when a denominator factor is 0 (all predictions or all labels in one class), as
//             scikit-learn does.
//   f1        binary: F1 of class 1 (the positive class); more classes: macro average of the
//             per-class F1 (a class never predicted nor present counts 0, one absent from both
//             is skipped).
//   auroc     binary: area under the ROC curve of the class-1 score, ties counted half
//             (Mann-Whitney U / (n_pos n_neg)); more classes: macro average of one-vs-rest
//             AUROC over the classes present with both positives and negatives. Undefined (NaN)
//             when no class has both.
// Regression:
//   spearman  Spearman rank correlation (Pearson correlation of average ranks, ties averaged);
//             NaN when either side is constant.
//   rmse      root mean squared error.
//   pearson   Pearson correlation; NaN when either side is constant.
//
// All functions throw InputError for empty input or mismatched lengths, and for class ids out of
// range.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strand::train {

double accuracy(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted);
double mcc(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t num_classes);
double f1(const std::vector<int64_t>& labels, const std::vector<int64_t>& predicted, int64_t num_classes);
/// scores: row-major (n, num_classes) class probabilities or logits (any monotone score).
double auroc(const std::vector<int64_t>& labels, const std::vector<double>& scores, int64_t num_classes);

double spearman(const std::vector<double>& targets, const std::vector<double>& predicted);
double pearson(const std::vector<double>& targets, const std::vector<double>& predicted);
double rmse(const std::vector<double>& targets, const std::vector<double>& predicted);

/// Every classification metric by name: accuracy, mcc, f1, auroc. `scores` as for auroc;
/// predictions are the arg-max of each row (lowest class id on ties).
std::map<std::string, double> classification_metrics(const std::vector<int64_t>& labels,
                                                     const std::vector<double>& scores, int64_t num_classes);
/// Every regression metric by name: spearman, pearson, rmse.
std::map<std::string, double> regression_metrics(const std::vector<double>& targets,
                                                 const std::vector<double>& predicted);

/// True when a larger value of the metric is better (false for rmse). InputError for an unknown name.
bool metric_higher_is_better(const std::string& name);

}  // namespace strand::train
