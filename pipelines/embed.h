// `strand embed`: sequences (or windows of them) -> pooled embeddings from a chosen layer of a
// model, written to HDF5 (pipelines/embed_writer.h describes the file).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/models/model.h"
#include "pipelines/embed_writer.h"

namespace strand::pipelines {

struct EmbedOptions {
  std::string model;                  ///< model directory
  std::vector<std::string> inputs;    ///< FASTA/FASTQ/SAM/BAM/CRAM files
  std::vector<std::string> regions;   ///< "chr:beg-end" regions of an indexed input
  bio::io::ReadOptions read;          ///< skip_invalid, CRAM reference, SAM/BAM filters
  std::string output;                 ///< .h5 path (written as PATH.partial, renamed when done)
  int64_t layer = -1;                 ///< tap layer: 0 embeddings .. n final; negative from the end
  models::Pooling pooling = models::Pooling::Mean;
  EmbeddingDtype dtype = EmbeddingDtype::Float32;
  bool store_tokens = false;          ///< also write per-token embeddings (flat, with offsets)
  int64_t window = 0;                 ///< bases per window; 0 = whole sequences
  int64_t stride = 0;                 ///< window step; 0 = window
  int64_t max_tokens = 8192;          ///< a row with more tokens is an error (suggesting --window)
  int64_t batch_size = 16;            ///< rows per forward pass
  bool resume = false;                ///< continue OUTPUT.partial left by an interrupted run
  int shard = 0;                      ///< this job's shard of `num_shards` (by record, round-robin)
  int num_shards = 1;
  int gzip_level = 4;
  std::string command_line;           ///< recorded in the file's attributes
};

struct EmbedSummary {
  int64_t records = 0;          ///< records read (all shards, after filters)
  int64_t shard_records = 0;    ///< records of this shard
  int64_t rows = 0;             ///< rows written by this run
  int64_t resumed_rows = 0;     ///< rows already in OUTPUT.partial and skipped
  int64_t tokens = 0;           ///< tokens run through the model (padding excluded)
  int64_t bases = 0;
  std::map<std::string, int64_t> skipped;  ///< malformed records skipped (with skip_invalid)
  int64_t layer = 0;            ///< the resolved layer
  int64_t dim = 0;
  double seconds = 0;
};

/// Runs the job. Throws InputError/ParseError for bad input (OUTPUT.partial then holds the rows
/// committed so far and OUTPUT is not created), ConfigError for bad options, IoError for output
/// failures. Resuming checks that the committed rows (names, coordinates, record indices) are the
/// first rows this input produces. Besides the writer's attributes the file records "inputs"
/// (absolute paths, one per line), "regions" (one per line), "read_filters", "shard" ("i/n") and,
/// once finished, "records" (input records read, all shards): what `strand embed merge`
/// (pipelines/embed_merge.h) compares across shards.
EmbedSummary run_embed(const EmbedOptions& options);

}  // namespace strand::pipelines
