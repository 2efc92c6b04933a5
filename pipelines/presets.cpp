#include "pipelines/presets.h"

#include <filesystem>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::pipelines {

namespace {

struct Preset {
  const char* name;
  const char* summary;
  int64_t d_model;
  const char* pattern;
  int64_t n_heads;
  int64_t mlp_hidden;
};

// tiny trains on two CPU cores in minutes (under 1M parameters even with the 4,107-token NTv2
// vocabulary); small and base follow the usual width/depth ratios.
const Preset kPresets[] = {
    {"tiny", "4 attention blocks, d_model 96, 4 heads, SwiGLU 256 (under 1M parameters)", 96, "AAAA", 4, 256},
    {"small", "6 attention blocks, d_model 256, 8 heads, SwiGLU 688", 256, "AAAAAA", 8, 688},
    {"base", "12 attention blocks, d_model 512, 8 heads, SwiGLU 1376", 512, "AAAAAAAAAAAA", 8, 1376},
};

}  // namespace

std::vector<std::pair<std::string, std::string>> model_presets() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& p : kPresets) out.emplace_back(p.name, p.summary);
  return out;
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
    c.backbone.d_model = preset->d_model;
    c.backbone.pattern = preset->pattern;
    c.backbone.mlp_hidden = preset->mlp_hidden;
    c.backbone.mixers = {{"A", {{"n_heads", preset->n_heads}}}};
    c.vocab_size = tokenizer.vocab_size();
  }
  c.pad_id = *pad;
  c.backbone.causal = objective == "clm";
  c.backbone.normalise(arch);
  c.head.kind = objective == "clm" ? models::HeadKind::CausalLM : models::HeadKind::MaskedLM;
  c.tokenizer = {{"spec", tokenizer.spec()}, {"vocab_size", tokenizer.vocab_size()}};
  return c;
}

int64_t count_parameters(const models::ModelConfig& config) {
  models::SequenceModel model(config);
  int64_t n = 0;
  for (const auto& p : model->parameters()) n += p.numel();
  return n;
}

}  // namespace strand::pipelines
