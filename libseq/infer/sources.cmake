set(STRAND_SEQ_INFER_SOURCES
  infer/sampling.cpp
)
