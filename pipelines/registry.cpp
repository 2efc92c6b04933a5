#include "pipelines/registry.h"

#include "bio/tokenizers/register.h"
#include "chem/tokenizers.h"

namespace strand::pipelines {

const tokenize::TokenizerRegistry& tokenizer_registry() {
  static const tokenize::TokenizerRegistry registry = [] {
    tokenize::TokenizerRegistry r;
    bio::register_tokenizers(r);
    chem::register_tokenizers(r);
    return r;
  }();
  return registry;
}

}  // namespace strand::pipelines
