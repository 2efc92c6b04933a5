// `strand embed merge`: the n shard files written by `strand embed --shard i/n` (i = 0 .. n-1)
// -> one embedding file (layout in pipelines/embed_writer.h) whose rows are in the order an
// unsharded run writes them.
//
// Shard i holds input records i, i + n, i + 2n, ... (round-robin, pipelines/embed_writer.h
// shard_of) with every window of a record in one shard, and /record_index gives each row's record.
// The merge is a k-way merge on record_index: it takes the shard holding the lowest next record
// and copies all of that record's rows, so the output's rows, names, coordinates, embeddings and
// (with store_tokens) token embeddings come out in unsharded order, with token_offsets rebased onto
// the merged token rows. Datasets are copied block by block, never whole: memory stays near
// `buffer_bytes` plus one record's token rows, whatever the file sizes.
//
// Checks before anything is written (InputError naming the offending file): every path is a
// finished file (a `.partial` name, or a missing file with a `.partial` beside it, is an
// unfinished shard job); every file is a strand embedding file of this format version with a
// "shard" attribute i/n; all files agree on n; each i in 0..n-1 appears exactly once (a duplicate
// names both files, a gap names the missing shards); all files share dim, dtype, store_tokens and
// the attributes model, layer, pooling, tokenizer, window, stride, inputs, regions, read_filters,
// records (input records of the run), version and git_hash. While copying: each shard's
// record_index is non-decreasing, below "records" and congruent to its shard index modulo n, and
// its token_offsets are consistent (ParseError naming the file and row).
//
// Output: written as OUTPUT.partial and renamed when complete (EmbeddingWriter), removed on
// failure. Its datasets equal those of an unsharded run over the same input with the same
// settings, provided each row's forward pass is the same in both runs (see README: batches are
// padded to their longest row, and other batch shapes can change float rounding). Attributes are
// shard 0's with "shard" = "0/1", "command_line" = the merge's, and "merged_from" = the shard files
// (absolute paths, one per line, in shard order). The chunking is shard 0's; the deflate level is
// shard 0's unless `gzip_level` says otherwise. OUTPUT may not be one of the shards nor an existing
// shard file (ConfigError), so a missing --out cannot overwrite a shard.
//
// Thread-safety: HDF5 is used from the calling thread only; do not run two merges (or a merge and
// an embed) in parallel threads of one process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace strand::pipelines {

struct EmbedMergeOptions {
  std::vector<std::string> shards;  ///< the n shard files, in any order
  std::string output;               ///< merged .h5 (written as OUTPUT.partial, renamed when complete)
  int gzip_level = -1;              ///< deflate level of the output: 0..9, or -1 = shard 0's
  /// Memory for row buffers: a quarter for the output block's rows, a quarter for its token rows,
  /// the rest split among the shards' read buffers (at least one row each).
  int64_t buffer_bytes = int64_t{256} << 20;
  std::string command_line;  ///< recorded in the output's attributes
};

struct EmbedMergeSummary {
  int num_shards = 0;
  int64_t records = 0;  ///< input records of the sharded run (the shards' "records")
  int64_t rows = 0;     ///< rows written
  int64_t tokens = 0;   ///< token rows written (store_tokens)
  double seconds = 0;
};

/// Runs the merge. ConfigError for bad options, InputError / ParseError for shard sets that do
/// not form one complete run (see above), IoError for file-system or HDF5 failures.
EmbedMergeSummary run_embed_merge(const EmbedMergeOptions& options);

/// Parses a "shard" attribute "i/n" (0 <= i < n). InputError naming `file` when it is not one.
void parse_shard(const std::string& text, const std::string& file, int& shard, int& num_shards);

}  // namespace strand::pipelines
