# Alphabets, genetic codes, central-dogma conversions and codon-usage tables (paths relative to bio/).
set(STRAND_BIO_SOURCES
  alphabet.cpp
  genetic_code.cpp
  central_dogma.cpp
  codon_usage.cpp
  data/dataset.cpp
  annotation/gff.cpp
  annotation/genbank.cpp
  annotation/stockholm.cpp
  annotation/taxonomy.cpp
  annotation/near_identity.cpp
)
