strand_add_test(test_kernels
  SOURCES kernels/test_rc_ids.cpp
          kernels/test_attention.cpp
          kernels/test_selective_scan.cpp
          kernels/test_causal_conv1d.cpp
          kernels/test_ssd.cpp
          kernels/test_mlstm.cpp
          kernels/test_slstm.cpp
  LIBS strand_kernels
  TORCH)

# The CUDA conformance cases of every op (TEST(<Op>, Cuda...)) as their own ctest entry with the
# label gpu: `ctest -L gpu` on a GPU machine. Without a CUDA device they report GTEST_SKIP.
add_test(NAME test_kernels_gpu COMMAND test_kernels --gtest_brief=1 --gtest_filter=*.Cuda*)
set_tests_properties(test_kernels_gpu PROPERTIES LABELS "gpu" TIMEOUT 600)
