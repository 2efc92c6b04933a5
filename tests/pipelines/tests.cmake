strand_add_test(test_pipelines
  SOURCES pipelines/test_tokenize.cpp pipelines/test_embed_writer.cpp pipelines/test_pretrain_embed.cpp
          pipelines/test_presets.cpp
  LIBS strand_pipelines HDF5::HDF5
  TORCH)

strand_add_test(test_cli
  SOURCES apps/test_cli.cpp
  LIBS strand_seq)
target_compile_definitions(test_cli_objects PRIVATE STRAND_BIN="$<TARGET_FILE:strand>")
add_dependencies(test_cli strand)
