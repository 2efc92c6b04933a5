strand_add_test(test_chem
  SOURCES chem/test_smiles.cpp
  LIBS strand_chem)
