#include "pipelines/model_io.h"

#include <filesystem>

#include "libseq/core/error.h"
#include "pipelines/registry.h"

namespace strand::pipelines {

LoadedModel load_model(const std::string& dir) {
  LoadedModel out;
  out.dir = models::load_model_dir(dir);
  const std::string source = (std::filesystem::path(dir) / "tokenizer.json").string();
  if (out.dir.tokenizer.is_null()) {
    out.tokenizer = tokenizer_registry().create("ntv2-6mer");
  } else {
    out.tokenizer = tokenizer_registry().from_json(out.dir.tokenizer, source);
  }
  if (out.tokenizer->vocab_size() != out.dir.config.vocab_size)
    throw ConfigError(source + ": tokenizer '" + out.tokenizer->spec() + "' has " +
                      std::to_string(out.tokenizer->vocab_size()) + " tokens, the model's vocab_size is " +
                      std::to_string(out.dir.config.vocab_size));
  out.dir.model->eval();
  return out;
}

}  // namespace strand::pipelines
