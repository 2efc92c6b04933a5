# safetensors reader, writer and sharded checkpoints
strand_add_test(test_safetensors
  SOURCES libseq/test_safetensors.cpp
  LIBS strand_seq
  TORCH)
