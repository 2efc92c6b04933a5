#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/finetune.h"
#include "pipelines/presets.h"

namespace strand::apps {
namespace {

void print_metrics(const char* what, const std::map<std::string, double>& m) {
  std::fprintf(stderr, "%s:", what);
  for (const auto& [name, v] : m) std::fprintf(stderr, " %s %.4f", name.c_str(), v);
  std::fprintf(stderr, "\n");
}

}  // namespace

int cmd_finetune(int argc, char** argv) {
  CommonOptions common;
  pipelines::FinetuneOptions o;
  std::string pooling = "mean";
  std::string presets;
  for (const auto& [name, summary] : pipelines::model_presets()) presets += "\n  " + name + ": " + summary;
  po::options_description opts("finetune options");
  opts.add_options()
    ("model,m", po::value<std::string>(&o.model), "model directory to start from (pretrained or imported)")
    ("arch", po::value<std::string>(&o.arch), ("train from scratch: preset or config.json:" + presets).c_str())
    ("tokenizer,k", po::value<std::string>(&o.tokenizer),
     "with --arch: tokenizer spec (default by the task's alphabet: char for DNA/RNA, protein for proteins)")
    ("task,t", po::value<std::string>(&o.task)->required(),
     "task directory (strand tasks build), Genomic Benchmarks or Nucleotide Transformer layout")
    ("out,o", po::value<std::string>(&o.out)->required(), "output directory (model/, metrics.json, predictions.tsv)")
    ("mode", po::value<std::string>(&o.mode)->default_value(o.mode),
     "full (train everything) or probe (frozen backbone, linear head)")
    ("epochs", po::value<int64_t>(&o.epochs)->default_value(o.epochs), "passes over the training split")
    ("max-steps", po::value<int64_t>(&o.max_steps)->default_value(o.max_steps), "stop after N steps (0 = off)")
    ("batch", po::value<int64_t>(&o.batch)->default_value(o.batch), "sequences per step")
    ("lr", po::value<double>(&o.lr)->default_value(o.lr),
     "peak learning rate; -1 = 1e-4 for full fine-tuning of a model, 1e-3 for probes and --arch")
    ("weight-decay", po::value<double>(&o.weight_decay)->default_value(o.weight_decay), "decoupled weight decay")
    ("warmup", po::value<double>(&o.warmup_fraction)->default_value(o.warmup_fraction),
     "warm-up share of the steps, then cosine decay")
    ("clip", po::value<double>(&o.clip)->default_value(o.clip), "gradient-norm clipping (0 = off)")
    ("max-len", po::value<int64_t>(&o.max_len)->default_value(o.max_len),
     "tokens per sequence, special tokens included; longer sequences lose their end")
    ("eval-every", po::value<int64_t>(&o.eval_every)->default_value(o.eval_every),
     "steps between validations (0 = once per epoch)")
    ("patience", po::value<int64_t>(&o.patience)->default_value(o.patience),
     "stop after N validations without improvement (0 = never)")
    ("metric", po::value<std::string>(&o.metric),
     "early-stopping metric: mcc, f1, accuracy, auroc (classification), spearman, pearson, rmse (regression); "
     "default: the task's")
    ("folds", po::value<int>(&o.folds)->default_value(o.folds),
     "k-fold cross-validation runs (k >= 2) over train+valid, each scored on test; 0 = one run")
    ("val-fraction", po::value<double>(&o.val_fraction)->default_value(o.val_fraction),
     "share of train held out (by group) when the task has no valid split")
    ("pooling", po::value<std::string>(&pooling)->default_value(pooling), "mean, max, cls or last")
    ("rc-augment", po::bool_switch(&o.rc_augment), "reverse-complement half of the training rows (DNA)")
    ("resume", po::bool_switch(&o.resume), "continue from OUT/train_state")
    ("dist-timeout", po::value<double>(&o.dist_timeout_s)->default_value(o.dist_timeout_s),
     "data-parallel runs: seconds to wait for every rank and for each collective");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand finetune (-m MODEL | --arch PRESET) --task DIR --out DIR [options]",
                     "Fine-tunes a model with a new sequence head on a supervised task (classification or "
                     "regression), with early stopping on the validation split, and scores the best model on the "
                     "test split (MCC, F1, accuracy, AUROC; Spearman, Pearson, RMSE). Writes OUT/model, "
                     "OUT/metrics.json and OUT/predictions.tsv.",
                     opts, common, vm))
    return 0;
  o.pooling = models::parse_pooling(pooling, "--pooling");
  o.seed = common.seed;
  o.command_line = command_line(argc, argv);
  const auto s = pipelines::run_finetune(o);
  std::fprintf(stderr, "model: %lld parameters (%lld trained); early-stopping metric %s\n",
               static_cast<long long>(s.parameters), static_cast<long long>(s.trainable_parameters), s.metric.c_str());
  for (size_t i = 0; i < s.runs.size(); ++i) {
    std::fprintf(stderr, "run %zu: %lld steps, best at step %lld\n", i, static_cast<long long>(s.runs[i].steps),
                 static_cast<long long>(s.runs[i].best_step));
    print_metrics("  valid", s.runs[i].valid);
    if (!s.runs[i].test.empty()) print_metrics("  test", s.runs[i].test);
  }
  if (s.runs.size() > 1) {
    print_metrics("test mean", s.test_mean);
    print_metrics("test half-range", s.test_spread);
  }
  std::cerr << "results: " << o.out << "/metrics.json\n";
  return 0;
}

int cmd_predict(int argc, char** argv) {
  CommonOptions common;
  pipelines::PredictOptions o;
  po::options_description opts("predict options");
  opts.add_options()
    ("model,m", po::value<std::string>(&o.model)->required(), "model directory written by strand finetune (OUT/model)")
    ("input,i", po::value<std::vector<std::string>>(&o.inputs)->multitoken()->composing()->required(),
     "FASTA/FASTQ files (SMILES files for a SMILES task); repeatable")
    ("output,o", po::value<std::string>(&o.output)->required(), "predictions TSV")
    ("batch", po::value<int64_t>(&o.batch)->default_value(o.batch), "sequences per forward pass")
    ("max-len", po::value<int64_t>(&o.max_len)->default_value(o.max_len),
     "tokens per sequence (0 = the fine-tuning setting)");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand predict -m MODEL -i FILE... -o OUT.tsv [options]",
                     "Applies a fine-tuned model to new sequences: one line per sequence with the predicted class "
                     "and the class probabilities, or the predicted value.",
                     opts, common, vm))
    return 0;
  const auto s = pipelines::run_predict(o);
  std::fprintf(stderr, "predicted %lld sequences in %.1f s: %s\n", static_cast<long long>(s.rows), s.seconds,
               o.output.c_str());
  return 0;
}

}  // namespace strand::apps
