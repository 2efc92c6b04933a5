// `strand convert`: reads any model directory strand can load (ours, Hugging Face ESM /
// Nucleotide Transformer v2, Hugging Face Mamba / Mamba-2, mamba_ssm), checks it with a forward
// pass, and writes it as a strand model directory (config.json, model.safetensors and, when the
// tokenizer is known, tokenizer.json).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strand::pipelines {

struct ConvertOptions {
  std::string source;          ///< model directory (models::load_model_dir)
  std::string out;             ///< new model directory; must not exist yet
  std::string tokenizer;       ///< registry spec to attach (when the source has none, or equal to its own)
  std::string tokenizer_file;  ///< tokenizer.json to attach instead of `tokenizer`
  std::string command_line;    ///< recorded in the provenance
};

struct ConvertSummary {
  std::string format;        ///< what was read: "strand", "hf-esm", "hf-mamba", "hf-mamba2", "mamba_ssm"
  std::string description;   ///< the same in words, e.g. "Hugging Face Mamba (model_type \"mamba\")"
  std::string architecture;  ///< config architecture ("strand", "esm")
  std::string layout;        ///< blocks by mixer, e.g. "24 x M (mamba)"
  int64_t layers = 0;
  int64_t d_model = 0;
  int64_t hidden_size = 0;   ///< feature width (2 * d_model with RCPS)
  int64_t vocab_size = 0;
  int64_t parameters = 0;
  std::string head;          ///< head kind ("clm", "mlm", ...)
  bool tied_head = false;
  bool causal = true;
  bool rcps = false;
  std::string tokenizer;     ///< spec of the tokenizer written; empty when none is known
  std::vector<int64_t> check_shape;  ///< output shape of the forward check
  int64_t check_tokens = 0;  ///< tokens in the dummy sequence
  std::string out;
};

/// Runs the job: loads `source`, resolves the tokenizer (the source's own tokenizer.json, the one
/// a Hugging Face config names, or the one given; a given tokenizer must fit the model and may
/// not contradict the source's), runs the model on a short dummy sequence (finite outputs of the
/// expected shape), writes the directory under a temporary name next to `out`, reloads it and
/// checks that it reproduces the outputs exactly, then renames it to `out`. The provenance
/// records the source, its format and provenance, version, git hash and command line.
/// Throws IoError for a missing source or an unwritable output, ConfigError for an unsupported
/// source, an existing `out` or a tokenizer that does not fit, InputError for mismatched weights,
/// InternalError when the checks fail.
ConvertSummary run_convert(const ConvertOptions& options);

}  // namespace strand::pipelines
