#include "pipelines/presets.h"

#include <filesystem>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::pipelines {

namespace {

enum class Objectives { Any, CausalOnly, MaskedOnly };

struct Preset {
  const char* name;
  /// Layout and the parameter count with the char tokenizer (a test keeps the count true).
  const char* summary;
  int64_t d_model;
  char letter;       ///< every block's mixer
  int64_t layers;
  nn::MlpKind mlp;
  int64_t mlp_hidden;
  const char* mixer_options;  ///< JSON of the letter's options (defaults filled by normalise)
  Objectives objectives;
  bool rcps;
};

// tiny trains on two CPU cores in minutes (under 1M parameters even with the 4,107-token NTv2
// vocabulary); small and base follow the usual width/depth ratios.
// The Mamba sizes put most parameters in the blocks (about 6 d_model^2 each, reference/mamba.md
// §1.1; 2x the conv/x_proj/dt_proj/A/D for a tied BiMamba); caduceus-8m is the shape of the
// released Caduceus 131k models (d_model 256, 16 layers, §6.1).
const Preset kPresets[] = {
    {"tiny", "4 attention blocks, d_model 96, 4 heads, SwiGLU 256 (0.44M parameters)", 96, 'A', 4,
     nn::MlpKind::SwiGLU, 256, R"({"n_heads": 4})", Objectives::Any, false},
    {"small", "6 attention blocks, d_model 256, 8 heads, SwiGLU 688 (4.75M parameters)", 256, 'A', 6,
     nn::MlpKind::SwiGLU, 688, R"({"n_heads": 8})", Objectives::Any, false},
    {"base", "12 attention blocks, d_model 512, 8 heads, SwiGLU 1376 (38.0M parameters)", 512, 'A', 12,
     nn::MlpKind::SwiGLU, 1376, R"({"n_heads": 8})", Objectives::Any, false},
    {"mamba-0.5m", "Mamba: 4 blocks, d_model 128, d_state 16, RMSNorm, no MLP, tied head; clm (0.47M parameters)",
     128, 'M', 4, nn::MlpKind::None, 0, "{}", Objectives::CausalOnly, false},
    {"mamba-2m", "Mamba: 8 blocks, d_model 192, d_state 16, RMSNorm, no MLP, tied head; clm (2.02M parameters)", 192,
     'M', 8, nn::MlpKind::None, 0, "{}", Objectives::CausalOnly, false},
    {"mamba-8m", "Mamba: 12 blocks, d_model 320, d_state 16, RMSNorm, no MLP, tied head; clm (8.11M parameters)",
     320, 'M', 12, nn::MlpKind::None, 0, "{}", Objectives::CausalOnly, false},
    {"mamba2-2m",
     "Mamba-2: 8 blocks, d_model 192, headdim 32 (12 heads), d_state 64, RMSNorm, no MLP, tied head; clm "
     "(2.01M parameters)",
     192, '2', 8, nn::MlpKind::None, 0, R"({"headdim": 32, "d_state": 64})", Objectives::CausalOnly, false},
    {"caduceus-2m",
     "Caduceus-PS: 16 BiMamba blocks, d_model 128, RCPS (256-channel features); mlm, char or caduceus "
     "tokenizer (2.16M parameters)",
     128, 'M', 16, nn::MlpKind::None, 0, "{}", Objectives::MaskedOnly, true},
    {"caduceus-8m",
     "Caduceus-PS: 16 BiMamba blocks, d_model 256, RCPS (512-channel features), the 131k model's shape; mlm, "
     "char or caduceus tokenizer (7.72M parameters)",
     256, 'M', 16, nn::MlpKind::None, 0, "{}", Objectives::MaskedOnly, true},
};

}  // namespace

std::vector<std::pair<std::string, std::string>> model_presets() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : kPresets) out.emplace_back(p.name, p.summary);
  return out;
}

std::vector<int64_t> rcps_complement_for(const tokenize::Tokenizer& tokenizer, const std::string& where) {
  const auto map = tokenizer.complement_ids();
  if (!map)
    throw ConfigError(where + ": reverse-complement parameter sharing needs a nucleotide tokenizer with a "
                              "complement map; tokenizer '" + tokenizer.spec() + "' has none (use char or caduceus)");
  for (int32_t id = 0; id < tokenizer.vocab_size(); ++id) {
    if (tokenizer.is_special(id)) continue;
    const std::string& token = tokenizer.token(id);
    if (token.size() != 1)
      throw ConfigError(where + ": reverse-complement parameter sharing needs single-base tokens; tokenizer '" +
                        tokenizer.spec() + "' has the token '" + token +
                        "' (reversing multi-base tokens is not the reverse complement; use char or caduceus)");
  }
  return std::vector<int64_t>(map->begin(), map->end());
}

void check_model_tokenizer(const models::ModelConfig& config, const tokenize::Tokenizer& tokenizer,
                           const std::string& where) {
  if (tokenizer.vocab_size() != config.vocab_size)
    throw ConfigError(where + ": tokenizer '" + tokenizer.spec() + "' has " + std::to_string(tokenizer.vocab_size()) +
                      " tokens, the model's vocab_size is " + std::to_string(config.vocab_size));
  if (!config.rcps.enabled) return;
  if (rcps_complement_for(tokenizer, where) != config.rcps.complement)
    throw ConfigError(where + ": the model's rcps.complement differs from the complement map of tokenizer '" +
                      tokenizer.spec() + "'");
}

models::ModelConfig model_config_for(const std::string& arch, const tokenize::Tokenizer& tokenizer,
                                     const std::string& objective) {
  if (objective != "clm" && objective != "mlm")
    throw ConfigError("--objective must be 'clm' or 'mlm', got '" + objective + "'");
  const auto pad = tokenizer.special_tokens().pad;
  if (!pad) throw ConfigError("tokenizer '" + tokenizer.spec() + "' has no pad token; models need one");
  models::ModelConfig c;
  const bool from_file = arch.find('/') != std::string::npos || (arch.size() > 5 && arch.substr(arch.size() - 5) == ".json");
  if (from_file) {
    if (!std::filesystem::exists(arch)) throw IoError(arch + ": no such model config file");
    c = models::ModelConfig::from_json(load_json(arch), arch);
    if (c.vocab_size != tokenizer.vocab_size())
      throw ConfigError(arch + ": vocab_size " + std::to_string(c.vocab_size) + " does not match tokenizer '" +
                        tokenizer.spec() + "' (" + std::to_string(tokenizer.vocab_size()) + " tokens)");
  } else {
    const Preset* preset = nullptr;
    for (const auto& p : kPresets)
      if (arch == p.name) preset = &p;
    if (preset == nullptr) {
      std::string known;
      for (const auto& p : kPresets) known += (known.empty() ? "" : ", ") + std::string(p.name);
      throw ConfigError("unknown --arch '" + arch + "' (presets: " + known + "; or the path of a config.json)");
    }
    if (preset->objectives == Objectives::CausalOnly && objective != "clm")
      throw ConfigError("--arch " + arch + " is a causal language model (the Hugging Face Mamba layout) and trains "
                        "with --objective clm; for a bidirectional masked-LM Mamba use caduceus-2m or caduceus-8m");
    if (preset->objectives == Objectives::MaskedOnly && objective != "mlm")
      throw ConfigError("--arch " + arch + " is bidirectional with reverse-complement parameter sharing and trains "
                        "with --objective mlm (got '" + objective + "')");
    c.backbone.d_model = preset->d_model;
    c.backbone.pattern = std::string(static_cast<size_t>(preset->layers), preset->letter);
    c.backbone.mlp = preset->mlp;
    c.backbone.mlp_hidden = preset->mlp_hidden;
    c.backbone.mixers = {{std::string(1, preset->letter), nlohmann::json::parse(preset->mixer_options)}};
    c.vocab_size = tokenizer.vocab_size();
    if (preset->rcps) {
      c.rcps.enabled = true;
      c.rcps.complement = rcps_complement_for(tokenizer, "--arch " + arch);
    }
  }
  c.pad_id = *pad;
  c.backbone.causal = objective == "clm";
  c.backbone.normalise(arch);
  c.head.kind = objective == "clm" ? models::HeadKind::CausalLM : models::HeadKind::MaskedLM;
  c.tokenizer = {{"spec", tokenizer.spec()}, {"vocab_size", tokenizer.vocab_size()}};
  c.validate(arch);
  if (c.rcps.enabled) check_model_tokenizer(c, tokenizer, arch);
  return c;
}

int64_t count_parameters(const models::ModelConfig& config) {
  models::SequenceModel model(config);
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

}  // namespace strand::pipelines
