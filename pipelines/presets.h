// Model presets for `strand pretrain --arch`: named sizes, or a config.json of our format.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "libseq/models/model.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::pipelines {

/// A preset name or the path of a config.json (our model format, whose vocab_size must match the
/// tokenizer's). The head is an LM head for the objective: "clm" makes a causal backbone with a
/// causal-LM head, "mlm" a bidirectional one with a masked-LM head. vocab_size and pad_id come
/// from the tokenizer (which must have a pad token).
///
/// Presets (model_presets() lists them with their parameter counts):
///   tiny, small, base          attention blocks with SwiGLU; clm or mlm.
///   mamba-0.5m/-2m/-8m         the Hugging Face / mamba_ssm Mamba layout: 'M' blocks, RMSNorm,
///                              no MLP, final norm, tied LM head; clm only (a causal LM).
///   mamba2-2m                  the same with Mamba-2 ('2') blocks; clm only.
///   caduceus-2m, caduceus-8m   Caduceus-PS: BiMamba ('M' in a bidirectional backbone, tied
///                              in/out projections) with reverse-complement parameter sharing;
///                              mlm only, and a single-base tokenizer with a complement map
///                              (char or caduceus). caduceus-8m is the released 131k model's
///                              shape (d_model 256 x 16 layers).
/// A config.json with rcps enabled gets the same tokenizer check.
/// Throws ConfigError for an unknown preset (listing the known ones), an objective or tokenizer
/// the preset cannot use, or a bad config file; IoError for a missing file.
models::ModelConfig model_config_for(const std::string& arch, const tokenize::Tokenizer& tokenizer,
                                     const std::string& objective);

/// Preset names with one-line descriptions (including the parameter count with the char
/// tokenizer), for --help.
std::vector<std::pair<std::string, std::string>> model_presets();

/// Number of parameters of a model built from `config`.
int64_t count_parameters(const models::ModelConfig& config);

/// The complement map RCPS uses with `tokenizer` (rcps.complement): its complement_ids() as
/// int64. ConfigError naming `where` unless the tokenizer has a complement map and every
/// non-special token is a single base (a k-mer or codon vocabulary is refused: reversing the
/// order of multi-base tokens is not the reverse complement of the sequence).
std::vector<int64_t> rcps_complement_for(const tokenize::Tokenizer& tokenizer, const std::string& where);

/// Checks that a model and a tokenizer fit: equal vocabulary sizes, and for an RCPS model a
/// tokenizer rcps_complement_for accepts whose map equals config.rcps.complement. ConfigError
/// naming `where` otherwise.
void check_model_tokenizer(const models::ModelConfig& config, const tokenize::Tokenizer& tokenizer,
                           const std::string& where);

}  // namespace strand::pipelines
