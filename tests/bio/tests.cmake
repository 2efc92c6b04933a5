# bio core: alphabets, genetic codes, central dogma, codon usage
strand_add_test(test_alphabet SOURCES bio/test_alphabet.cpp LIBS strand_bio)
strand_add_test(test_genetic_code SOURCES bio/test_genetic_code.cpp LIBS strand_bio)
strand_add_test(test_central_dogma SOURCES bio/test_central_dogma.cpp LIBS strand_bio)
strand_add_test(test_codon_usage SOURCES bio/test_codon_usage.cpp LIBS strand_bio)
# annotation parsers (GFF3, GenBank, Stockholm, NCBI taxonomy) and near-identity groups
strand_add_test(test_annotation SOURCES bio/test_annotation.cpp LIBS strand_bio)
