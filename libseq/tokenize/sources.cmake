# Tokenizer interface, registry and the byte kernels tokenizers share (paths relative to libseq/).
set(STRAND_SEQ_TOKENIZE_SOURCES
  tokenize/byte_kernels.cpp
  tokenize/registry.cpp
  tokenize/tokenizer.cpp
)
# Tokenizers never need LibTorch: keep the LibTorch precompiled header out of these files.
set_source_files_properties(${STRAND_SEQ_TOKENIZE_SOURCES} PROPERTIES SKIP_PRECOMPILE_HEADERS ON)
