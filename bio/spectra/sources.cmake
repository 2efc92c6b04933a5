# Tandem mass spectra (paths relative to bio/): MGF, DTA and mzML readers, residue and fragment
# masses, preprocessing and encodings, evaluation, mzTab output, the spectrum simulator.
set(STRAND_BIO_SPECTRA_SOURCES
  spectra/spectrum.cpp
  spectra/peak_lists.cpp
  spectra/mzml.cpp
  spectra/masses.cpp
  spectra/preprocess.cpp
  spectra/evaluate.cpp
  spectra/mztab.cpp
  spectra/simulate.cpp
)
