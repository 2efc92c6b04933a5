# Training data (bio/data): random windows over real sequence files, the train/validation split,
# exact resume and the prefetch thread. Reads tests/data/io and files of the Debian package
# htslib-test (fails naming the package when missing).
strand_add_test(test_data SOURCES bio/test_data.cpp LIBS strand_bio TORCH)
