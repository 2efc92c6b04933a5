#include "bio/tokenizers/register.h"

#include <memory>

#include "bio/tokenizers/codon.h"
#include "bio/tokenizers/kmer.h"
#include "bio/tokenizers/ntv2.h"
#include "bio/tokenizers/nucleotide.h"
#include "bio/tokenizers/protein.h"

namespace strand::bio {

using tokenize::Tokenizer;
using tokenize::TokenizerSpec;

void register_tokenizers(tokenize::TokenizerRegistry& registry) {
  registry.add("char", "nucleotides, one token per byte (iupac=n|keep|unk, keep_u=bool, soft_mask=bool)",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 CharTokenizerOptions o;
                 const std::string iupac = spec.get_choice("iupac", "n", {"n", "keep", "unk"});
                 o.iupac = iupac == "keep"  ? AmbiguityPolicy::Keep
                           : iupac == "unk" ? AmbiguityPolicy::Unknown
                                            : AmbiguityPolicy::ToN;
                 o.keep_u = spec.get_bool("keep_u", false);
                 o.soft_mask = spec.get_bool("soft_mask", false);
                 spec.finish({"iupac", "keep_u", "soft_mask"});
                 return std::make_unique<CharTokenizer>(o);
               });
  registry.add("caduceus", "Caduceus character vocabulary (16 ids, [SEP] appended)",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 spec.finish({});
                 return std::make_unique<CaduceusTokenizer>();
               });
  registry.add("ntv2-6mer", "Nucleotide Transformer v2 6-mers (4107 ids, <cls> prepended)",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 spec.finish({});
                 return std::make_unique<Ntv2KmerTokenizer>();
               });
  registry.add("kmer-overlap", "overlapping k-mers, stride 1 (kmer-overlap:K or k=K, K in 3..8)",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 spec.bind_positional({"k"});
                 const auto k = static_cast<int>(
                     spec.require_int("k", OverlappingKmerTokenizer::kMinK, OverlappingKmerTokenizer::kMaxK));
                 spec.finish({"k"});
                 return std::make_unique<OverlappingKmerTokenizer>(k);
               });
  registry.add("codon", "codons with single-base fallback (frame=0..2, table=NCBI genetic code id)",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 CodonTokenizerOptions o;
                 o.frame = static_cast<int>(spec.get_int("frame", 0, 0, 2));
                 o.table = static_cast<int>(spec.get_int("table", 1, 1, 1000));
                 spec.finish({"frame", "table"});
                 return std::make_unique<CodonTokenizer>(o);
               });
  registry.add("protein", "ESM-2 amino-acid alphabet (33 ids; stop=unk|skip|error for '*')",
               [](TokenizerSpec& spec) -> std::unique_ptr<Tokenizer> {
                 ProteinTokenizerOptions o;
                 const std::string stop = spec.get_choice("stop", "unk", {"unk", "skip", "error"});
                 o.stop = stop == "skip" ? StopPolicy::Skip : stop == "error" ? StopPolicy::Error : StopPolicy::Unknown;
                 spec.finish({"stop"});
                 return std::make_unique<ProteinTokenizer>(o);
               });
}

}  // namespace strand::bio
