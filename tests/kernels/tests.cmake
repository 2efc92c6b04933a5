strand_add_test(test_kernels
  SOURCES kernels/test_rc_ids.cpp
  LIBS strand_kernels
  TORCH)
