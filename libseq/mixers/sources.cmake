set(STRAND_SEQ_MIXERS_SOURCES
  mixers/mixer.cpp
  mixers/attention.cpp
  mixers/mamba.cpp
  mixers/mamba2.cpp
)
