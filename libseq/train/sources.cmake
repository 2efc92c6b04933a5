set(STRAND_SEQ_TRAIN_SOURCES
  train/objectives.cpp
  train/metrics.cpp
  train/optim.cpp
  train/rng_state.cpp
  train/schedule.cpp
  train/trainer.cpp
)
