// The tokenizer registry every job uses: all domains' tokenizers, registered explicitly.
#pragma once

#include "libseq/tokenize/registry.h"

namespace strand::pipelines {

/// The registry with every tokenizer strand ships (bio: char, ntv2-6mer, caduceus, kmer-overlap,
/// codon, protein; chem: smiles, selfies). Built once on first use; read-only and thread-safe afterwards.
const tokenize::TokenizerRegistry& tokenizer_registry();

}  // namespace strand::pipelines
