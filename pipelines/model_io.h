// Loading a model directory together with its tokenizer, for every job that applies a model.
#pragma once

#include <memory>
#include <string>

#include "libseq/models/model.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::pipelines {

struct LoadedModel {
  models::ModelDir dir;
  std::shared_ptr<const tokenize::Tokenizer> tokenizer;
};

/// models::load_model_dir plus the tokenizer: tokenizer.json through the tokenizer registry, or,
/// for an imported Hugging Face directory, the tokenizer its config names (ntv2-6mer for NTv2);
/// an imported directory without one (Hugging Face Mamba) is a ConfigError that says how to
/// attach a tokenizer (`strand convert --tokenizer`). The tokenizer's
/// vocabulary size must equal the model's, and an RCPS model needs a single-base tokenizer with
/// the model's complement map (check_model_tokenizer, presets.h). The model is put in eval mode.
/// Throws as load_model_dir, and ConfigError for a tokenizer that does not fit the model.
LoadedModel load_model(const std::string& dir);

}  // namespace strand::pipelines
