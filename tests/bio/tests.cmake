# bio core: alphabets, genetic codes, central dogma, codon usage
strand_add_test(test_alphabet SOURCES bio/test_alphabet.cpp LIBS strand_bio)
strand_add_test(test_genetic_code SOURCES bio/test_genetic_code.cpp LIBS strand_bio)
strand_add_test(test_central_dogma SOURCES bio/test_central_dogma.cpp LIBS strand_bio)
strand_add_test(test_codon_usage SOURCES bio/test_codon_usage.cpp LIBS strand_bio)
