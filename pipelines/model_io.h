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
/// for an imported Hugging Face NTv2 directory, our ntv2-6mer tokenizer. The tokenizer's
/// vocabulary size must equal the model's. The model is put in eval mode.
/// Throws as load_model_dir, and ConfigError for a tokenizer that does not fit the model.
LoadedModel load_model(const std::string& dir);

}  // namespace strand::pipelines
