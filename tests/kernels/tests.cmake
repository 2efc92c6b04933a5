strand_add_test(test_kernels
  SOURCES kernels/test_rc_ids.cpp
          kernels/test_attention.cpp
  LIBS strand_kernels
  TORCH)
