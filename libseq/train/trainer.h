// A generic training loop for any torch::nn::Module: gradient accumulation, gradient clipping,
// AdamW (libseq/train/optim.h) under a warm-up + cosine schedule (libseq/train/schedule.h),
// periodic validation, JSONL metrics, a progress line, and checkpoints that resume bit-exactly.
//
// The caller owns the model and the data. Each optimizer step runs accum_steps micro-steps; for
// each the trainer calls callbacks.micro_step(i), which fetches the next micro-batch, runs the
// forward pass and returns the loss; the trainer back-propagates loss / accum_steps, so the step's
// gradient is that of the mean of the micro-batch losses. Then it measures the global L2 norm of
// all gradients (reported before clipping), clips it to max_grad_norm, sets the learning rate of
// update s (1-based) to schedule.lr_at(s) and steps the optimizer.
//
// Output directory OUT (options.out_dir, created when missing):
//   OUT/metrics.jsonl   one JSON object per logged step, appended and flushed line by line:
//                       {"step", "loss", "lr", "grad_norm", "tokens" (seen so far), "tokens_per_s"
//                       (since the previous line), "elapsed_s" (training time over all resumed
//                       sessions)} and, at validation steps, "val_loss", "val_perplexity",
//                       "val_bits_per_token" and, when the validation reports bases,
//                       "val_bits_per_base". On resume, lines after the checkpoint's step are
//                       removed (the file is rewritten atomically), so no step appears twice.
//   OUT/train_state/step-NNNNNNNNN/   one complete checkpoint (step number zero-padded to 9):
//       model.safetensors      every parameter and buffer, by named_parameters()/named_buffers() name
//       optimizer.safetensors  AdamW state per parameter: "<name>.step" (int64, 0-d),
//                              "<name>.exp_avg", "<name>.exp_avg_sq" (and "<name>.max_exp_avg_sq"
//                              with amsgrad), for parameters that have state
//       rng.safetensors        LibTorch generator states (libseq/train/rng_state.h)
//       state.json             step, tokens seen, elapsed time, schedule, optimizer groups and
//                              hyper-parameters, and the caller's data_state()
//       complete               written last
//     A checkpoint is assembled in OUT/train_state/.tmp-step-NNNNNNNNN.<pid>, every file written
//     atomically and synced, the "complete" marker last, and the directory is then renamed into
//     place; only then are checkpoints beyond the newest keep_checkpoints deleted (and leftovers
//     of interrupted writes removed). A killed job therefore always leaves its last complete
//     checkpoint intact.
//
// Exact resume: a run interrupted after any step and resumed from its latest checkpoint computes
// the same losses, bit for bit, as an uninterrupted run, provided the caller's micro_step is a
// deterministic function of (data_state, LibTorch random state) and the process uses the same
// thread count and device. The checkpoint holds everything else: parameters, buffers, optimizer
// state, step, and the LibTorch default generators (CPU and CUDA). strand::Rng objects belong to
// the caller and go into data_state() (rng_to_json in libseq/train/rng_state.h).
//
// Validation runs in eval mode without gradients, before the step's metrics line and checkpoint;
// LibTorch's random state is saved before and restored after it, so validation never changes
// the training stream.
//
// Divergence: a non-finite loss or gradient norm stops training with DivergenceError before the
// optimizer step, so parameters, optimizer state and checkpoints stay as they were after the last
// good step; nothing is written for the bad step.
//
// Data-parallel training (options.distributed, libseq/train/distributed.h): every rank constructs
// the same model and Trainer and calls the same methods. The constructor makes every rank's
// parameters and buffers equal to rank 0's. Each rank's micro_step computes its share of the
// global micro-batch (e.g. its rows, shard_rows()) and must return a loss whose mean over ranks is
// the loss of the whole micro-batch: for a loss averaged over the T tokens of the global batch,
// this rank's summed token loss * world_size / T. After the micro-steps, gradients are averaged
// over ranks (bucketed all-reduce), the reported loss is the mean of the ranks' losses and the
// tokens their sum, so clipping, the optimizer step, divergence checks and metrics are identical
// on every rank and the run follows the same trajectory as one process on the global batch (up to
// float summation order). validate() runs on every rank; the trainer sums loss_sum, tokens and
// bases over ranks, so a rank may score only its share of the validation set (scoring all of it on
// every rank gives the same figures, world_size times slower). Only rank 0 writes metrics.jsonl,
// checkpoints and progress; every rank resumes from the same checkpoint (OUT must be on a file
// system all ranks see; resume() checks that they agree on it). An exception on one rank is
// reported to the others (Distributed::report_failure) before it propagates; they then fail in
// their next collective with a DistributedError that names that rank, within the timeout.
//
// Thread-safety: a Trainer is used from one thread. Failures: strand::InputError for invalid
// options or callback results, strand::IoError for file system failures, strand::ParseError /
// ConfigError for a checkpoint that does not match the model, DivergenceError as above.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>
#include <torch/optim/adamw.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/train/optim.h"
#include "libseq/train/schedule.h"

namespace strand::train {

class Distributed;

/// What one micro-step returns.
struct StepResult {
  at::Tensor loss;     ///< 0-d (or one-element) floating tensor that requires grad: the micro-batch loss
  int64_t tokens = 0;  ///< tokens in the micro-batch, >= 0 (throughput and the "tokens" counter only)
};

/// What a validation pass returns (sums over the whole validation set).
struct ValidationResult {
  double loss_sum = 0.0;               ///< sum of per-token losses, in nats
  int64_t tokens = 0;                  ///< number of scored tokens, > 0
  std::optional<int64_t> bases;        ///< bases the tokens cover (> 0), for bits per base
};

/// One step's figures, as written to metrics.jsonl and passed to on_step.
struct StepRecord {
  int64_t step = 0;            ///< optimizer updates done, 1-based
  double loss = 0.0;           ///< mean of the step's micro-batch losses
  double lr = 0.0;             ///< learning rate of this update
  double grad_norm = 0.0;      ///< global L2 gradient norm before clipping
  int64_t tokens = 0;          ///< tokens of this step
  int64_t tokens_seen = 0;     ///< tokens of all steps so far, over resumed sessions
  double tokens_per_s = 0.0;   ///< tokens per wall second since the previous metrics line
  double elapsed_s = 0.0;      ///< training seconds so far, over resumed sessions
  std::optional<double> val_loss;            ///< loss_sum / tokens (nats per token)
  std::optional<double> val_perplexity;      ///< exp(val_loss)
  std::optional<double> val_bits_per_token;  ///< val_loss / ln 2
  std::optional<double> val_bits_per_base;   ///< loss_sum / ln 2 / bases
  /// The metrics.jsonl object of this record.
  nlohmann::json to_json() const;
};

struct TrainerOptions {
  std::string out_dir;             ///< OUT (required); created when missing
  AdamWOptions optimizer;          ///< see optim.h (its lr is replaced by the schedule's)
  ScheduleOptions schedule;        ///< schedule.total_steps is the length of training
  int64_t accum_steps = 1;         ///< micro-steps per optimizer step, >= 1
  double max_grad_norm = 1.0;      ///< clip threshold; <= 0 disables clipping (the norm is still reported)
  int64_t checkpoint_every = 1000; ///< steps between checkpoints, also one at the last step; 0 = never
  int64_t keep_checkpoints = 1;    ///< complete checkpoints kept, >= 1
  int64_t log_every = 1;           ///< steps between metrics lines (validation and last steps always log)
  int64_t val_every = 0;           ///< steps between validations, also at the last step; 0 = never
  uint64_t seed = 42;              ///< passed to strand::manual_seed by the constructor
  std::string progress_label = "train";
  /// The process group for data-parallel training (see the top of this header); null, or a group
  /// of one rank, trains in this process alone.
  std::shared_ptr<Distributed> distributed;
  /// Seconds between progress lines when stderr is not a terminal (a terminal line is redrawn at
  /// most 10 times a second). Progress::set_quiet(true) silences it.
  double progress_interval_s = 10.0;
};

struct TrainerCallbacks {
  /// Required. Fetches the next micro-batch, runs the forward pass, returns its loss and token
  /// count. micro_step is the global 0-based micro-step index, step * accum_steps + i.
  std::function<StepResult(int64_t micro_step)> micro_step;
  /// Required when checkpoint_every > 0: the data stream's position (any JSON), read after the
  /// step's micro-batches, and its inverse, called by resume() before training continues.
  std::function<nlohmann::json()> data_state;
  std::function<void(const nlohmann::json&)> restore_data_state;
  /// Required when val_every > 0. Called in eval mode under torch::NoGradGuard.
  std::function<ValidationResult()> validate;
  /// Optional: called after every step (and its validation) with its record.
  std::function<void(const StepRecord&)> on_step;
};

/// Training stopped on a non-finite loss or gradient norm.
class DivergenceError : public Error {
 public:
  DivergenceError(const std::string& message, int64_t step, std::string last_checkpoint)
      : Error(message), step_(step), last_checkpoint_(std::move(last_checkpoint)) {}
  /// The 1-based step whose loss or gradient was not finite.
  int64_t step() const noexcept { return step_; }
  /// Directory of the newest complete checkpoint ("" when none was written).
  const std::string& last_checkpoint() const noexcept { return last_checkpoint_; }

 private:
  int64_t step_;
  std::string last_checkpoint_;
};

/// Name of the checkpoint folder inside OUT.
inline constexpr const char* kTrainStateDir = "train_state";
/// Name of the metrics file inside OUT.
inline constexpr const char* kMetricsFile = "metrics.jsonl";

/// Complete checkpoints under OUT/train_state (directories step-N holding "complete"), oldest
/// first, as full paths. Empty when there are none or the folder does not exist.
std::vector<std::string> list_checkpoints(const std::string& out_dir);

class Trainer {
 public:
  /// Builds AdamW over `model` (make_adamw) and the schedule, and calls
  /// strand::manual_seed(options.seed), so randomness during training does not depend on what
  /// model construction consumed; seed the model's initialisation yourself beforehand. `model`
  /// must not be null and stays owned by the caller too; it may live on any device.
  /// Throws strand::InputError for invalid options or missing callbacks.
  Trainer(std::shared_ptr<torch::nn::Module> model, TrainerOptions options, TrainerCallbacks callbacks);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  /// Loads the newest complete checkpoint under OUT/train_state: parameters and buffers (copied
  /// in place), optimizer state, step, counters, LibTorch random state, and the data state
  /// (through callbacks.restore_data_state); then drops metrics.jsonl lines after that step.
  /// Returns false (changing nothing) when there is no checkpoint. Call before run().
  /// Hyper-parameters come from this Trainer's options; a warning names any that differ from
  /// the checkpoint's (the run is then no longer an exact continuation).
  /// Throws strand::ParseError / ConfigError when the checkpoint does not fit the model
  /// (missing, extra or differently shaped tensors, different parameter groups), IoError when
  /// unreadable, InputError when called after run().
  bool resume();

  /// Trains until step() == until_step (default: schedule.total_steps) and returns step().
  /// May be called again with a later until_step. Checkpoints are written at multiples of
  /// checkpoint_every and at schedule.total_steps, not at until_step (save_checkpoint() does
  /// that). A run that was not resumed refuses to start in an OUT that already holds
  /// checkpoints (InputError: resume it or use another directory); it starts metrics.jsonl
  /// afresh. Throws DivergenceError (see the top of this header), after
  /// which this Trainer must not be used again: construct a new one and resume().
  int64_t run(int64_t until_step = -1);

  /// Writes a checkpoint of the current step now (run() does so on its own schedule).
  /// Returns its directory. Under data-parallel training only rank 0 writes; the other ranks
  /// return the directory rank 0 writes.
  std::string save_checkpoint();

  /// Optimizer updates done so far.
  int64_t step() const noexcept { return step_; }
  /// Tokens of all steps so far.
  int64_t tokens_seen() const noexcept { return tokens_seen_; }
  const TrainerOptions& options() const noexcept { return options_; }
  torch::nn::Module& model() noexcept { return *model_; }
  torch::optim::AdamW& optimizer() noexcept { return *optimizer_; }
  const WarmupCosineSchedule& schedule() const noexcept { return schedule_; }
  /// OUT/train_state.
  std::string checkpoint_root() const;
  /// Newest complete checkpoint directory, "" when none.
  std::string latest_checkpoint() const;

 private:
  StepRecord train_step();
  void validate_into(StepRecord& record);
  void write_metrics(const StepRecord& record);
  void rewrite_metrics_up_to(int64_t step);
  void load_checkpoint(const std::string& dir);
  void show_progress(const StepRecord& record, bool final_line);

  bool is_main() const noexcept;

  std::shared_ptr<torch::nn::Module> model_;
  TrainerOptions options_;
  Distributed* dist_ = nullptr;  // options_.distributed when it has more than one rank
  TrainerCallbacks callbacks_;
  std::unique_ptr<torch::optim::AdamW> optimizer_;
  WarmupCosineSchedule schedule_;

  int64_t step_ = 0;
  int64_t tokens_seen_ = 0;
  double elapsed_before_ = 0.0;  // training seconds of earlier sessions (from the checkpoint)
  bool resumed_ = false;
  bool saved_checkpoint_ = false;  // this Trainer wrote a checkpoint (so OUT's checkpoints are its own)
  bool started_ = false;
  bool failed_ = false;

  std::chrono::steady_clock::time_point session_start_;
  int64_t session_start_step_ = 0;
  // Throughput since the last metrics line and since the last progress line.
  std::chrono::steady_clock::time_point metrics_mark_;
  int64_t metrics_tokens_ = 0;
  std::chrono::steady_clock::time_point progress_mark_;
  int64_t progress_tokens_ = 0;
  std::chrono::steady_clock::time_point last_progress_print_;
  bool progress_tty_ = false;
  bool progress_open_ = false;  // a terminal line is drawn and not yet ended
  std::FILE* metrics_ = nullptr;
};

}  // namespace strand::train
