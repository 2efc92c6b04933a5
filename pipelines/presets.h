// Model presets for `strand pretrain --arch`: named sizes, or a config.json of our format.
#pragma once

#include <string>
#include <vector>

#include "libseq/models/model.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::pipelines {

/// A preset name ("tiny", "small", "base") or the path of a config.json (our model format, whose
/// vocab_size must match the tokenizer's). The head is an LM head for the objective: "clm" makes
/// a causal backbone with a causal-LM head, "mlm" a bidirectional one with a masked-LM head.
/// vocab_size and pad_id come from the tokenizer (which must have a pad token).
/// Throws ConfigError for an unknown preset (listing the known ones) or a bad config file.
models::ModelConfig model_config_for(const std::string& arch, const tokenize::Tokenizer& tokenizer,
                                     const std::string& objective);

/// Preset names with one-line descriptions, for --help.
std::vector<std::pair<std::string, std::string>> model_presets();

/// Number of parameters of a model built from `config`.
int64_t count_parameters(const models::ModelConfig& config);

}  // namespace strand::pipelines
