set(STRAND_SEQ_MODELS_SOURCES
  models/backbone.cpp
  models/model.cpp
  models/rcps.cpp
)
