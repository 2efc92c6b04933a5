set(STRAND_SEQ_IO_SOURCES
  io/atomic_file.cpp
)
