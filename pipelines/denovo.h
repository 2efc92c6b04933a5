// `strand denovo`: training, sequencing and evaluation of de novo peptide sequencing models
// (pipelines/denovo_model.h for the model, denovo_decode.h for the beam search).
//
// Model directory: config.json ({"kind": "denovo", "model": ModelConfig, "preprocess": ...,
// "provenance": version, git hash, command line, training data}) and model.safetensors; written
// atomically, model.safetensors first and config.json last.
//
// Training data: annotated spectra (MGF SEQ= lines, in ProForma or mass-delta notation), each
// preprocessed as the model will see it at sequencing time (bio/spectra/preprocess.h); spectra
// the preprocessing rejects, or whose peptide the residue table cannot read or that is longer than
// the model's limit, are left out and counted. Training and validation spectra are held in memory.
// Steps: stage 1 (joint AR + CTC loss, the AR weight rising linearly from 0 to 1 over the stage;
// AR loss only without the NAR decoder), then `stage2_steps` of stage 2 (cross-decoder attention;
// the encoder and NAR decoder frozen). Batches are drawn from a seeded shuffle of the training
// set, epoch after epoch; the trainer (libseq/train/trainer.h) gives AdamW, warm-up + cosine
// schedule, gradient clipping, metrics.jsonl, checkpoints every `checkpoint_every` steps and
// bit-exact resume.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bio/spectra/evaluate.h"
#include "bio/spectra/preprocess.h"
#include "bio/spectra/simulate.h"
#include "pipelines/denovo_decode.h"
#include "pipelines/denovo_model.h"

namespace strand::pipelines::denovo {

/// Model sizes by name: "tiny" (d 64, 2+2 layers, NAR 1), "small" (d 256, 4+4, NAR 2),
/// "casanovo" (d 512, 9+9, 8 heads, FFN 1024, no NAR: Casanovo's published size, §2.1). Anything
/// else is read as a config.json path. ConfigError for an unknown name.
ModelConfig denovo_preset(const std::string& name_or_path);

/// Writes the model directory (see above). IoError on failure.
void save_denovo_model(const std::string& dir, DenovoModelImpl& model, const bio::spectra::PreprocessOptions& preprocess,
                       const nlohmann::json& provenance);

struct LoadedDenovoModel {
  DenovoModel model{nullptr};
  bio::spectra::PreprocessOptions preprocess;
  nlohmann::json config;  ///< the whole config.json
};
/// Reads a model directory written by save_denovo_model; the model comes back in eval mode.
/// InputError/ConfigError naming the file for a directory that is not a de novo model or does not
/// fit its config.
LoadedDenovoModel load_denovo_model(const std::string& dir);

/// Reads and preprocesses annotated spectra from `files`, keeping those with a readable peptide
/// of at most `max_length` residues. Counts of what was left out go to `dropped` (reason -> count).
std::vector<bio::spectra::Spectrum> load_annotated(const std::vector<std::string>& files, const DenovoModelImpl& model,
                                                   const bio::spectra::PreprocessOptions& preprocess,
                                                   std::map<std::string, int64_t>& dropped);

struct TrainOptions {
  std::vector<std::string> train;   ///< annotated spectrum files
  std::vector<std::string> valid;   ///< annotated spectrum files (optional)
  std::string arch = "tiny";        ///< preset or config.json
  std::string out;
  int64_t steps = 2000;             ///< stage-1 steps
  int64_t stage2_steps = 0;         ///< stage-2 steps (needs the NAR decoder)
  int64_t batch = 32;
  double lr = 5e-4;
  double weight_decay = 1e-5;
  int64_t warmup = 100;
  int64_t val_every = 200;
  int64_t checkpoint_every = 500;
  bool resume = false;
  int64_t until_step = 0;           ///< > 0: stop after this step with a checkpoint (resume later)
  bio::spectra::PreprocessOptions preprocess;
  uint64_t seed = 42;
  std::string command_line;
};

struct TrainSummary {
  int64_t train_spectra = 0;
  int64_t valid_spectra = 0;
  std::map<std::string, int64_t> dropped;
  int64_t parameters = 0;
  int64_t steps = 0;                ///< steps done (the model is written once all are done)
  double final_loss = 0;
  double valid_loss = -1;  ///< nats per token of the final validation (-1 without validation)
};

TrainSummary run_denovo_train(const TrainOptions& options);

struct SimulateOptions {
  std::vector<std::string> fasta;   ///< protein FASTA files to digest
  std::string out;                  ///< prefix: OUT.train.mgf and (test_fraction > 0) OUT.test.mgf
  int64_t train_spectra = 10000;
  int64_t test_spectra = 1000;
  double test_fraction = 0.1;       ///< share of the distinct peptides held out for the test file
  bio::spectra::DigestOptions digest;
  bio::spectra::SimulationOptions simulation;
  uint64_t seed = 42;
};

struct SimulateSummary {
  int64_t peptides = 0;       ///< distinct peptides of the digest
  int64_t train_peptides = 0;
  int64_t test_peptides = 0;
};

/// Digests the proteins, splits the distinct peptides at random (seeded) into train and test so
/// that no peptide is in both, and writes annotated MGF files of simulated spectra for each.
SimulateSummary run_denovo_simulate(const SimulateOptions& options);

struct SequenceOptions {
  std::string model;                ///< model directory (OUT/model of train)
  std::vector<std::string> inputs;  ///< spectrum files: ms_run[1..n] of the mzTab, in this order
  std::string output;               ///< mzTab path (written atomically)
  BeamOptions beam;                 ///< beam.max_length <= 0: the model's max_peptide_length
  int64_t batch = 64;               ///< spectra per decoder batch
  std::string command_line;
};

struct SequenceSummary {
  int64_t spectra = 0;    ///< read from the inputs
  int64_t sequenced = 0;  ///< with a peptide in the mzTab
  int64_t no_peptide = 0; ///< decoded without a peptide (every beam ran out)
  std::map<std::string, int64_t> skipped;  ///< reason -> spectra not decoded (preprocessing, unreadable)
  double seconds = 0;
};

/// Sequences every MS2 spectrum of the inputs (preprocessed with the model's settings) and writes
/// one mzTab PSM row per spectrum that gets a peptide. Non-MS2 spectra are passed over silently.
SequenceSummary run_denovo_sequence(const SequenceOptions& options);

struct EvaluateOptions {
  std::string predictions;          ///< mzTab written by sequence
  std::vector<std::string> spectra; ///< the annotated files, in the order of the mzTab's ms_run[k]
  std::string out;                  ///< prefix: OUT.json, OUT.curve.csv, OUT.curve.svg
  std::string model;                ///< optional: read peptides with this model's residue table
                                    ///< (default: Casanovo's modifications)
  bio::spectra::EvaluateOptions match;
};

/// Joins predictions to annotations by run and spectrum (MGF: index=N, mzML: native id), scores
/// them (bio/spectra/evaluate.h; annotated spectra without a prediction count as wrong), and
/// writes the metrics JSON, the precision-coverage curve as CSV and as an SVG plot. ConfigError
/// when an ms_run location's file name differs from the corresponding spectrum file's.
bio::spectra::EvaluationResult run_denovo_evaluate(const EvaluateOptions& options);

}  // namespace strand::pipelines::denovo
