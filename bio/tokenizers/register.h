// Registration of the bio tokenizers with a tokenizer registry.
#pragma once

#include "libseq/tokenize/registry.h"

namespace strand::bio {

/// Adds the bio tokenizer types to `registry`:
///   char           nucleotides, one token per byte (options iupac=n|keep|unk, keep_u, soft_mask)
///   caduceus       the Caduceus character vocabulary
///   ntv2-6mer      the Nucleotide Transformer v2 6-mer tokenizer
///   kmer-overlap   overlapping k-mers, "kmer-overlap:6" or "kmer-overlap:k=6" (k in 3..8)
///   codon          codons with single-base fallback (options frame=0..2, table=NCBI id)
///   protein        the ESM-2 amino-acid alphabet (option stop=unk|skip|error)
/// Each type's header documents its vocabulary. Throws ConfigError when one of these types is
/// already registered.
void register_tokenizers(tokenize::TokenizerRegistry& registry);

}  // namespace strand::bio
