strand_add_test(test_pipelines
  SOURCES pipelines/test_tokenize.cpp pipelines/test_embed_writer.cpp pipelines/test_pretrain_embed.cpp
          pipelines/test_presets.cpp
          pipelines/test_embed_merge.cpp
  LIBS strand_pipelines HDF5::HDF5
  TORCH)

strand_add_test(test_task
  SOURCES pipelines/test_task.cpp
  LIBS strand_pipelines)

strand_add_test(test_task_builders
  SOURCES pipelines/test_task_builders.cpp
  LIBS strand_pipelines)

strand_add_test(test_cli
  SOURCES apps/test_cli.cpp
  LIBS strand_seq)
target_compile_definitions(test_cli_objects PRIVATE STRAND_BIN="$<TARGET_FILE:strand>")
add_dependencies(test_cli strand)

strand_add_test(test_finetune
  SOURCES pipelines/test_finetune.cpp
  LIBS strand_pipelines
  TORCH)
strand_add_test(test_molecules SOURCES pipelines/test_molecules.cpp LIBS strand_pipelines)

# De novo peptide sequencing: the model and its beam search.
strand_add_test(test_denovo
  SOURCES pipelines/test_denovo.cpp
  LIBS strand_pipelines
  TORCH)
