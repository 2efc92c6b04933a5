strand_add_test(test_core
  SOURCES libseq/test_error.cpp libseq/test_config.cpp libseq/test_progress.cpp libseq/test_parallel.cpp
          libseq/test_random.cpp libseq/test_atomic_file.cpp
  LIBS strand_seq)
strand_add_test(test_models
  SOURCES libseq/test_models.cpp
  LIBS strand_seq
  TORCH)
strand_add_test(test_mamba
  SOURCES libseq/test_mamba.cpp
  LIBS strand_seq
  TORCH)
strand_add_test(test_sampling
  SOURCES libseq/test_sampling.cpp
  LIBS strand_seq
  TORCH)
