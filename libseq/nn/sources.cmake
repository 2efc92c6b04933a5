set(STRAND_SEQ_NN_SOURCES
  nn/layers.cpp
)
