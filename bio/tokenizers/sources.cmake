# Nucleotide, k-mer, codon and protein tokenizers (paths relative to bio/).
set(STRAND_BIO_TOKENIZER_SOURCES
  tokenizers/codon.cpp
  tokenizers/kmer.cpp
  tokenizers/nucleotide.cpp
  tokenizers/ntv2.cpp
  tokenizers/protein.cpp
  tokenizers/register.cpp
)
