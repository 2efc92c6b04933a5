// The k-mer-frequency baseline for supervised tasks (bench/RESULTS.md, fine-tuning evidence):
// each sequence becomes the relative frequencies of its overlapping k-mers, and a linear model is
// fitted on them — multinomial logistic regression (classification) or ridge regression
// (regression) — with the L2 strength chosen on the validation split. Scored on the test split
// with the same metrics as `strand finetune`.
//
//   build/bench/bench_kmer_baseline --task tasks/ecoli-cds [--k 4] [--seed 1]
//
// Features by alphabet: dna/rna: k-mers over ACGT (U read as T; k-mers with other letters are
// skipped), 4^k columns; protein: k-mers over the 20 standard amino acids, 20^k columns (default
// k 2); smiles: character k-grams hashed into 4,096 columns (k 1..3 together). Columns are
// standardised with the training mean and standard deviation. Logistic regression: full-batch
// L-BFGS (200 iterations) on the mean cross-entropy + lambda * ||W||^2; ridge: the normal
// equations in double precision. Lambdas tried: 1e-5 to 1 in decades.
//
// Prints one JSON line: task, k, features, lambda, the validation metric and the test metrics.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/optim/lbfgs.h>
#include <torch/types.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <stdexcept>
#include <limits>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "libseq/core/parallel.h"
#include "libseq/train/metrics.h"
#include "pipelines/task.h"

namespace {

using strand::pipelines::TaskExample;

int64_t code_of(char c, const std::string& alphabet) {
  if (alphabet == "dna" || alphabet == "rna") {
    switch (c) {
      case 'A': return 0;
      case 'C': return 1;
      case 'G': return 2;
      case 'T':
      case 'U': return 3;
      default: return -1;
    }
  }
  static const std::string kAmino = "ACDEFGHIKLMNPQRSTVWY";
  const auto p = kAmino.find(c);
  return p == std::string::npos ? -1 : static_cast<int64_t>(p);
}

/// (n, columns) float64 k-mer frequencies.
at::Tensor features(const std::vector<TaskExample>& xs, const std::string& alphabet, int k, int64_t& columns) {
  const bool smiles = alphabet == "smiles";
  const int64_t base = (alphabet == "dna" || alphabet == "rna") ? 4 : 20;
  columns = smiles ? 4096 : static_cast<int64_t>(std::llround(std::pow(base, k)));
  at::Tensor f = at::zeros({static_cast<int64_t>(xs.size()), columns}, at::kDouble);
  double* out = f.data_ptr<double>();
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::string& s = xs[i].sequence;
    double* row = out + static_cast<int64_t>(i) * columns;
    double total = 0;
    if (smiles) {
      for (int g = 1; g <= 3; ++g)
        for (size_t p = 0; p + static_cast<size_t>(g) <= s.size(); ++p) {
          const size_t h = std::hash<std::string>{}(s.substr(p, static_cast<size_t>(g)) + char('0' + g));
          row[h % static_cast<size_t>(columns)] += 1;
          total += 1;
        }
    } else {
      for (size_t p = 0; p + static_cast<size_t>(k) <= s.size(); ++p) {
        int64_t index = 0;
        bool ok = true;
        for (int j = 0; j < k && ok; ++j) {
          const int64_t c = code_of(s[p + static_cast<size_t>(j)], alphabet);
          ok = c >= 0;
          index = index * base + c;
        }
        if (!ok) continue;
        row[index] += 1;
        total += 1;
      }
    }
    if (total > 0)
      for (int64_t c = 0; c < columns; ++c) row[c] /= total;
  }
  return f;
}

/// Logistic regression weights (columns + 1, classes) for one lambda.
at::Tensor fit_logistic(const at::Tensor& x, const at::Tensor& y, int64_t classes, double lambda) {
  const at::Tensor xf = at::cat({x, at::ones({x.size(0), 1}, x.options())}, 1).to(at::kFloat);
  at::Tensor w = at::zeros({xf.size(1), classes}, at::kFloat).set_requires_grad(true);
  torch::optim::LBFGS opt({w}, torch::optim::LBFGSOptions(1.0).max_iter(200).line_search_fn("strong_wolfe"));
  auto closure = [&] {
    opt.zero_grad();
    const at::Tensor loss = at::cross_entropy_loss(at::matmul(xf, w), y) +
                            lambda * w.narrow(0, 0, xf.size(1) - 1).pow(2).sum();
    loss.backward();
    return loss;
  };
  opt.step(closure);
  return w.detach();
}

std::vector<double> logistic_scores(const at::Tensor& x, const at::Tensor& w) {
  const at::Tensor xf = at::cat({x, at::ones({x.size(0), 1}, x.options())}, 1).to(at::kFloat);
  const at::Tensor p = at::softmax(at::matmul(xf, w), 1).to(at::kDouble).contiguous();
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

/// Ridge: (X'X + n lambda I) b = X'y on centred data; returns predictions for `eval`.
std::vector<double> ridge(const at::Tensor& x, const at::Tensor& y, const at::Tensor& eval, double lambda) {
  const double y_mean = y.mean().item<double>();
  const at::Tensor xtx = at::matmul(x.t(), x) + at::eye(x.size(1), at::kDouble) * lambda * static_cast<double>(x.size(0));
  const at::Tensor b = at::linalg_solve(xtx, at::matmul(x.t(), (y - y_mean).unsqueeze(1)));
  const at::Tensor p = (at::matmul(eval, b).squeeze(1) + y_mean).contiguous();
  return std::vector<double>(p.data_ptr<double>(), p.data_ptr<double>() + p.numel());
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string task_dir;
    int k = 0;
    std::string metric;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      if (i + 1 >= argc) throw std::runtime_error("option " + a + " needs a value");
      if (a == "--task") task_dir = argv[++i];
      else if (a == "--k") k = std::stoi(argv[++i]);
      else if (a == "--metric") metric = argv[++i];
      else throw std::runtime_error("unknown option " + a);
    }
    if (task_dir.empty())
      throw std::runtime_error("usage: bench_kmer_baseline --task DIR [--k K] [--metric NAME]");
    strand::set_num_threads(0);
    at::NoGradGuard no_grad_outside;
    strand::pipelines::Task task = strand::pipelines::load_task(task_dir);
    if (task.valid.empty()) task.valid = strand::pipelines::split_off_validation(task.train, 0.1, 1);
    const std::string& alphabet = task.spec.alphabet;
    if (k <= 0) k = (alphabet == "protein") ? 2 : 4;
    const bool classification = task.spec.kind == strand::pipelines::TaskKind::Classification;
    if (metric.empty()) metric = !task.spec.metric.empty() ? task.spec.metric : classification ? "mcc" : "spearman";

    int64_t columns = 0;
    at::Tensor xtr = features(task.train, alphabet, k, columns);
    at::Tensor xva = features(task.valid, alphabet, k, columns);
    at::Tensor xte = features(task.test, alphabet, k, columns);
    const at::Tensor mean = xtr.mean(0), sd = xtr.std(0).clamp_min(1e-9);
    xtr = (xtr - mean) / sd;
    xva = (xva - mean) / sd;
    xte = (xte - mean) / sd;

    const int64_t classes = static_cast<int64_t>(task.spec.classes.size());
    std::vector<int64_t> ytr, yva, yte;
    std::vector<double> vtr, vva, vte;
    for (const auto& x : task.train) ytr.push_back(x.label), vtr.push_back(x.value);
    for (const auto& x : task.valid) yva.push_back(x.label), vva.push_back(x.value);
    for (const auto& x : task.test) yte.push_back(x.label), vte.push_back(x.value);

    const bool higher = strand::train::metric_higher_is_better(metric);
    double best = std::numeric_limits<double>::quiet_NaN(), best_lambda = 0;
    std::map<std::string, double> test;
    for (const double lambda : {1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0}) {
      std::map<std::string, double> v, t;
      if (classification) {
        at::Tensor w;
        {
          at::AutoGradMode grad(true);
          w = fit_logistic(xtr, at::tensor(ytr, at::kLong), classes, lambda);
        }
        v = strand::train::classification_metrics(yva, logistic_scores(xva, w), classes);
        t = strand::train::classification_metrics(yte, logistic_scores(xte, w), classes);
      } else {
        const at::Tensor y = at::tensor(vtr, at::kDouble);
        v = strand::train::regression_metrics(vva, ridge(xtr, y, xva, lambda));
        t = strand::train::regression_metrics(vte, ridge(xtr, y, xte, lambda));
      }
      const double value = v.at(metric);
      std::fprintf(stderr, "lambda %g: valid %s %.4f\n", lambda, metric.c_str(), value);
      if (std::isnan(best) || (higher ? value > best : value < best)) {
        best = value;
        best_lambda = lambda;
        test = t;
      }
    }
    nlohmann::json out = {{"task", task.spec.name}, {"k", k},           {"features", columns},
                          {"lambda", best_lambda},   {"metric", metric}, {"valid", best},
                          {"test", test}};
    std::printf("%s\n", out.dump().c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_kmer_baseline: %s\n", e.what());
    return 1;
  }
}
