# libseq/train: optimizer groups, schedule, objectives, trainer with exact resume
strand_add_test(test_train
  SOURCES libseq/test_train_objectives.cpp libseq/test_train_optim.cpp libseq/test_train_trainer.cpp
          libseq/test_train_metrics.cpp
  LIBS strand_seq
  TORCH)
