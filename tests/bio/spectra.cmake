# Tandem mass spectra (bio/spectra): MGF and mzML readers on the sample files in tests/data/spectra
# (provenance in its README), residue, peptide and fragment masses, preprocessing, evaluation,
# mzTab output and the spectrum simulator.
strand_add_test(test_spectra_io SOURCES bio/test_mgf.cpp bio/test_mzml.cpp LIBS strand_bio)
strand_add_test(test_masses SOURCES bio/test_masses.cpp bio/test_preprocess.cpp LIBS strand_bio)
strand_add_test(test_denovo_evaluate SOURCES bio/test_evaluate.cpp LIBS strand_bio)
strand_add_test(test_mztab SOURCES bio/test_mztab.cpp LIBS strand_bio)
strand_add_test(test_simulate SOURCES bio/test_simulate.cpp LIBS strand_bio)
