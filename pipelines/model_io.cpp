#include "pipelines/model_io.h"

#include <filesystem>

#include "libseq/core/error.h"
#include "pipelines/presets.h"
#include "pipelines/registry.h"

namespace strand::pipelines {

LoadedModel load_model(const std::string& dir) {
  LoadedModel out;
  out.dir = models::load_model_dir(dir);
  const std::string source = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (out.dir.tokenizer.is_null()) {
    // An imported Hugging Face directory names our tokenizer in its config when we have one (NTv2).
    const auto& info = out.dir.config.tokenizer;
    const bool named = out.dir.format != "strand" && info.is_object() && info.contains("spec") &&
                       info.at("spec").is_string();
    if (!named)
      throw ConfigError(dir + ": the model has no tokenizer strand can use (" +
                        (out.dir.format == "strand" ? std::string("no tokenizer.json")
                                                    : std::string("Hugging Face tokenizer files are not read")) +
                        "); attach one with `strand convert " + dir + " --out NEW_DIR --tokenizer SPEC`");
    out.tokenizer = tokenizer_registry().create(info.at("spec").get<std::string>());
  } else {
    out.tokenizer = tokenizer_registry().from_json(out.dir.tokenizer, source);
  }
  check_model_tokenizer(out.dir.config, *out.tokenizer, source);
  out.dir.model->eval();
  return out;
}

}  // namespace strand::pipelines
