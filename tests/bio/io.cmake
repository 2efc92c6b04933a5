# Sequence I/O (bio/io): FASTA/FASTQ, SAM/BAM/CRAM, indexed FASTA regions, windows, and the
# bad-input corpus in tests/data/io/bad. Some tests read files of the Debian packages htslib-test
# and any2fasta-examples (scripts/setup.sh installs them) and fail naming the package when missing.
strand_add_test(test_io_fastx SOURCES bio/test_io_fastx.cpp LIBS strand_bio)
strand_add_test(test_io_sam SOURCES bio/test_io_sam.cpp LIBS strand_bio)
strand_add_test(test_io_faidx SOURCES bio/test_io_faidx.cpp LIBS strand_bio)
strand_add_test(test_io_windows SOURCES bio/test_io_windows.cpp LIBS strand_bio)
strand_add_test(test_io_bad_input SOURCES bio/test_io_bad_input.cpp LIBS strand_bio)
