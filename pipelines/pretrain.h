// `strand pretrain`: trains a model (tokenizer + backbone + LM head) on sequence files with a
// causal or masked language-modelling objective, and writes a model directory.
//
// OUT holds, at the end, the model directory (config.json, model.safetensors, tokenizer.json),
// plus metrics.jsonl and train_state/ (checkpoints; see libseq/train/trainer.h). Validation
// reports val_bits_per_base (bits per base of the held-out windows) next to
// PretrainSummary::baseline_bits_per_base, the order-0 entropy of the same targets: the bits per
// base a model that knows only the validation data's token frequencies would need (for
// character tokenizers, the base-composition entropy).
//
// Data-parallel training: when the environment describes several ranks (torchrun, srun, mpirun;
// libseq/train/distributed.h), each of the processes reads the same stream of global batches of
// `batch` windows and trains on its share of the rows, with gradients averaged over the ranks, so
// the run follows the one-process run with the same options (up to float summation order);
// validation batches are divided among the ranks. Only rank 0 writes metrics, checkpoints, the
// model and progress; a failing rank makes every rank stop with an error that names it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bio/io/reader.h"

namespace strand::pipelines {

struct PretrainOptions {
  std::vector<std::string> data;      ///< FASTA/FASTQ/SAM/BAM/CRAM files
  bio::io::ReadOptions read;
  std::string tokenizer = "char";     ///< registry spec
  std::string tokenizer_file;         ///< tokenizer.json instead of `tokenizer`
  std::string arch = "tiny";          ///< preset name or config.json path (pipelines/presets.h)
  std::string objective = "clm";      ///< clm or mlm
  int64_t steps = 1000;               ///< optimizer steps
  int64_t batch = 16;                 ///< windows per micro-batch
  int64_t accum = 1;                  ///< micro-batches per step
  int64_t seq_len = 512;              ///< bases per training window
  double lr = 1e-3;                   ///< peak learning rate
  int64_t warmup = -1;                ///< warm-up steps; -1 = 5% of steps
  double min_lr_ratio = 0.1;
  double weight_decay = 0.01;
  double clip = 1.0;                  ///< gradient-norm clip (<= 0: off)
  double val_fraction = 0.05;         ///< held-out share (records, or the end of each record)
  std::string split = "auto";         ///< record, region, or auto (region when one record)
  int64_t val_every = 100;            ///< steps between validations (also at the end)
  int64_t val_windows = 64;           ///< windows per validation pass
  int64_t checkpoint_every = 200;
  int64_t log_every = 10;
  bool rc_augment = false;            ///< reverse-complement half of the rows (DNA tokenizers)
  double mask_prob = 0.15;            ///< mlm: selected share
  double mean_span = 1.0;             ///< mlm: mean span length (1 = single tokens)
  std::string out;                    ///< output directory
  bool resume = false;                ///< continue from OUT/train_state
  int64_t stop_after = 0;             ///< stop this run after this many steps (0 = run to --steps)
  uint64_t seed = 42;
  double dist_timeout_s = 1800;       ///< data-parallel: rendezvous and collective timeout, seconds
  std::string command_line;
};

struct PretrainSummary {
  int64_t steps = 0;                  ///< steps done (over resumed runs)
  int64_t parameters = 0;
  double last_loss = 0;
  std::optional<double> val_bits_per_base;      ///< of the last validation
  std::optional<double> first_val_bits_per_base;  ///< of the first validation of this run
  double baseline_bits_per_base = 0;  ///< order-0 entropy of the validation targets (see above)
  double tokens_per_s = 0;            ///< training throughput of this run
  double seconds = 0;
  bool finished = false;              ///< reached --steps (the model directory was written)
  std::string out;
  int rank = 0;                       ///< this process's rank in a data-parallel job
  int world_size = 1;                 ///< ranks of the job (1: a single process)
};

/// Runs the job. Throws ConfigError for bad options or rendezvous variables, InputError/ParseError
/// for bad data, train::DivergenceError when the loss diverges (the last checkpoint stays intact),
/// IoError for output failures, train::DistributedError when another rank failed or could not be
/// reached.
PretrainSummary run_pretrain(const PretrainOptions& options);

}  // namespace strand::pipelines
