# tests for libseq
