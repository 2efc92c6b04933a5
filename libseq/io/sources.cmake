set(STRAND_SEQ_IO_SOURCES
  io/atomic_file.cpp
  io/mmap_file.cpp
  io/text_lines.cpp
  io/safetensors.cpp
  io/svg_plot.cpp
)
