# Sequence I/O over HTSlib (paths relative to bio/).
set(STRAND_BIO_IO_SOURCES
  io/fasta_regions.cpp
  io/fastx.cpp
  io/lines.cpp
  io/reader.cpp
  io/sam.cpp
  io/windows.cpp
)
