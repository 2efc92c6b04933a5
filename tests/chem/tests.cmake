strand_add_test(test_chem
  SOURCES chem/test_smiles.cpp
  LIBS strand_chem)
strand_add_test(test_scaffold SOURCES chem/test_scaffold.cpp LIBS strand_chem)
strand_add_test(test_selfies SOURCES chem/test_selfies.cpp chem/test_chem_tokenizers.cpp LIBS strand_chem ZLIB::ZLIB)
strand_add_test(test_molio SOURCES chem/test_molio.cpp LIBS strand_chem)
strand_add_test(test_metrics SOURCES chem/test_metrics.cpp chem/test_fcd.cpp LIBS strand_chem)
