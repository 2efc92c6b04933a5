# libseq/train: optimizer groups, schedule, objectives, trainer with exact resume
strand_add_test(test_train
  SOURCES libseq/test_train_objectives.cpp libseq/test_train_optim.cpp libseq/test_train_trainer.cpp
          libseq/test_train_metrics.cpp
  LIBS strand_seq
  TORCH)
# libseq/train/distributed: rendezvous variables; two ranks on loopback (the test starts itself twice)
strand_add_test(test_distributed
  SOURCES libseq/test_distributed.cpp
  LIBS strand_seq
  LABELS distributed
  TORCH)
