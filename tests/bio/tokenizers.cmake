# Tokenizers: the interface, registry and byte kernels (libseq/tokenize) and the bio tokenizers.
strand_add_test(test_tokenize
  SOURCES libseq/test_tokenize.cpp libseq/test_tokenize_kernels.cpp
  LIBS strand_seq)
strand_add_test(test_tokenizers
  SOURCES bio/test_tokenizers_conformance.cpp bio/test_tokenizers_golden.cpp
  LIBS strand_bio strand_chem)
