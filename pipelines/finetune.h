// `strand finetune` and `strand predict`: supervised training of a sequence model on a task
// directory (pipelines/task.h), its evaluation, and its application to new sequences.
//
// Starting point: a model directory (-m: a pretrained model of ours or an imported one; its
// embedding and backbone weights are kept and a new sequence head is put on top), or a preset
// (--arch, trained from scratch; bidirectional where the preset allows it, with the tokenizer
// the task's alphabet calls for unless --tokenizer says otherwise).
//
// Modes:
//   full   every parameter trains (AdamW, warm-up + cosine schedule, gradient clipping).
//   probe  the embedding and backbone are frozen; the pooled features the head sees are computed
//          once for every example and only the linear head trains (a linear probe).
// The head is a linear layer on the pooled final features (mean pooling by default):
// cross-entropy over the classes for classification; mean squared error on standardised targets
// for regression (the training targets' mean and standard deviation are kept in the model's
// config, so predictions come back in the task's units).
//
// Validation and early stopping: every `eval_every` steps (default: once per epoch) the model is
// scored on the validation split with the task's primary metric (or `metric`); the best model so
// far is written to OUT/model, and training stops after `patience` validations without
// improvement. Without a valid split, `val_fraction` of the training examples (whole groups)
// is held out. The test split is scored once, with the best model.
//
// k-fold (`folds` = k > 1): the training and validation examples are pooled and split into k
// group-respecting folds (or the task's own folds); run i validates on fold i and trains on the
// rest, each in OUT/fold-i; every run is scored on the test split and OUT/metrics.json reports
// the mean and half the range (max - min) / 2 of each metric over the folds.
//
// Outputs (OUT):
//   model/            the best model directory (config.json, whose provenance.task holds the
//                     task's name, kind, classes, alphabet, max_len and target scaling;
//                     model.safetensors; tokenizer.json)
//   metrics.json      task, mode, starting point, best step, validation and test metrics
//   predictions.tsv   test predictions: id, label, predicted, then one probability column per
//                     class (classification) or the predicted value (regression)
//   metrics.jsonl, train_state/   the trainer's log and checkpoints (resume with `resume`)
// Every file is written atomically; metrics.json last.
//
// Data-parallel (libseq/train/distributed.h: torchrun, Slurm or mpirun variables describing
// more than one rank): every rank builds the same model and batches and scores its share of each
// batch (`batch` is the global batch); gradients are averaged, so the run follows one process's
// trajectory; every rank validates on the whole split; only rank 0 writes files.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "libseq/models/model.h"

namespace strand::pipelines {

struct FinetuneOptions {
  std::string model;                 ///< model directory to start from (or empty with `arch`)
  std::string arch;                  ///< preset or config.json, trained from scratch
  std::string tokenizer;             ///< with arch: tokenizer spec; empty = by the task's alphabet
  std::string task;                  ///< task directory or downloaded benchmark layout
  std::string out;
  std::string mode = "full";         ///< full or probe
  int64_t epochs = 10;
  int64_t max_steps = 0;             ///< > 0: stop after this many steps even before `epochs`
  int64_t batch = 32;
  double lr = -1;                    ///< peak learning rate; < 0: 1e-4 full from a model, 1e-3 otherwise
  double weight_decay = 0.01;
  double warmup_fraction = 0.05;
  double clip = 1.0;
  int64_t max_len = 1024;            ///< tokens per sequence (specials included); longer ones are cut
  int64_t eval_every = 0;            ///< steps between validations; 0 = once per epoch
  int64_t patience = 3;              ///< validations without improvement before stopping; 0 = never
  std::string metric;                ///< early-stopping metric; empty = the task's primary metric
  int folds = 0;                     ///< k-fold runs (> 1); 0 = one run
  double val_fraction = 0.1;         ///< held out of train when the task has no valid split
  bool rc_augment = false;           ///< full mode, DNA: reverse-complement half of the batches
  models::Pooling pooling = models::Pooling::Mean;
  bool resume = false;               ///< continue OUT's train_state (single runs)
  double dist_timeout_s = 1800;      ///< data-parallel: rendezvous and collective time limit
  uint64_t seed = 1;
  std::string command_line;
};

struct FinetuneRun {
  int64_t steps = 0;
  int64_t best_step = 0;
  std::map<std::string, double> valid;  ///< metrics of the best model on the validation split
  std::map<std::string, double> test;   ///< metrics of the best model on the test split
};

struct FinetuneSummary {
  std::string metric;                   ///< the early-stopping metric
  std::vector<FinetuneRun> runs;        ///< one, or one per fold
  std::map<std::string, double> test_mean;    ///< over runs
  std::map<std::string, double> test_spread;  ///< (max - min) / 2 over runs
  int64_t parameters = 0;
  int64_t trainable_parameters = 0;
  double seconds = 0;
};

/// Runs fine-tuning. Throws ConfigError for bad options (both or neither of model/arch, unknown
/// mode or metric, a metric that does not fit the task's kind), InputError/ParseError for a bad
/// task or model, IoError for output failures.
FinetuneSummary run_finetune(const FinetuneOptions& options);

struct PredictOptions {
  std::string model;                 ///< a model directory written by finetune
  std::vector<std::string> inputs;   ///< FASTA/FASTQ files, or SMILES files for a smiles task
  std::string output;                ///< TSV path (written atomically)
  int64_t batch = 64;
  int64_t max_len = 0;               ///< 0 = the max_len the model was fine-tuned with
};

struct PredictSummary {
  int64_t rows = 0;
  double seconds = 0;
};

/// Applies a fine-tuned model: one TSV line per input sequence (id, predicted, then per-class
/// probabilities or nothing more for regression), in input order. ConfigError when the model
/// has no sequence head or no task description (not written by finetune).
PredictSummary run_predict(const PredictOptions& options);

}  // namespace strand::pipelines
