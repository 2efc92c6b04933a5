# Tandem mass spectra (paths relative to bio/): MGF and mzML readers, residue and fragment masses.
set(STRAND_BIO_SPECTRA_SOURCES
  spectra/spectrum.cpp
  spectra/peak_lists.cpp
  spectra/mzml.cpp
  spectra/masses.cpp
  spectra/preprocess.cpp
)
