// HDF5 output of `strand embed`: pooled embeddings per row (a record or a window of one), their
// names and coordinates, optional per-token embeddings, provenance attributes; written under a
// temporary name, crash-safe, resumable.
//
// File layout (HDF5 1.10 file format: readable by HDF5 1.10 and later, h5py, h5dump):
//   /embeddings        (N, dim)  float32 or float16, chunked (chunk_rows, dim), shuffle + gzip
//   /names             (N)       variable-length UTF-8 strings: the row's record name
//   /source            (N)       variable-length UTF-8 strings: the sequence the coordinates refer
//                                to (the contig of a region, the reference of an aligned read); equal
//                                to the name when the row is (a window of) the record itself
//   /start, /end       (N)       int64, 0-based half-open coordinates of the row in `source`
//   /token_embeddings  (T, dim)  only with store_tokens: every row's token embeddings, concatenated
//   /token_offsets     (N + 1)   int64, only with store_tokens: row i's tokens are
//                                token_embeddings[token_offsets[i] : token_offsets[i + 1]]
// Every dataset is chunked and extendable along its first axis; the two (·, dim) datasets are
// compressed (shuffle + gzip when gzip_level > 0), the 1-D ones are not (see below). Root attributes: "format" = "strand.embeddings", "format_version" = 1, "dim",
// "dtype" ("float32" | "float16"), "store_tokens" (0 | 1), "committed_rows" and
// "committed_tokens" (int64, see below), and every EmbeddingWriterOptions::attributes entry as a
// string attribute (model, layer, pooling, version, git_hash, command_line, ...).
//
// float16. HDF5 1.10 has no predefined half type; the datasets use an IEEE 754 binary16 type built
// from H5T_IEEE_F32LE (sign bit 15, exponent bits 10-14 with bias 15, mantissa bits 0-9, 2 bytes),
// the layout numpy and h5py write as '<f2'. Values are rounded to nearest-even by LibTorch's
// conversion to Half, straight from the input dtype; a finite value beyond the half range (|x| > 65504) is an InputError
// rather than a silent infinity. HDF5 converts the type back to float on read.
//
// Crash safety. Everything is written to PATH.partial; finish() flushes, closes, fsyncs and only
// then renames it to PATH, so a killed run never leaves a file at PATH that looks complete. Each
// append() writes its rows past the committed end, flushes (H5Fflush), then sets the root
// attributes committed_rows/committed_tokens and flushes again: rows past committed_rows are an
// interrupted append, and open_resume() truncates every dataset to the committed counts.
// HDF5 keeps no journal, so the flushed state must survive until the next flush:
//  * file space is never reused (H5F_FSPACE_STRATEGY_NONE), so nothing overwrites space that the
//    flushed chunk index still points to, and the metadata cache does not evict, so index updates
//    reach the file only at a flush;
//  * each chunk of "embeddings" is written once, whole: the committed rows of the unfinished last
//    chunk live in a fixed, uncompressed staging dataset (".staging/embeddings", overwritten in
//    place at positions no earlier commit of that chunk used; finish() moves them and removes it).
//    Rewriting a partial compressed chunk instead would move it to the end of the file on every
//    append (measured: a 4.6x larger file for appends of 8 rows at dim 256) and recompress it;
//  * the 1-D datasets are uncompressed, so their growing chunk is rewritten in place;
//  * "token_embeddings" rewrites its partly filled last chunk at each commit (bounded waste: one
//    chunk per append, small next to the many token rows an append carries).
// The flush itself is not atomic: a kill inside it can still leave PATH.partial unreadable, and
// open_resume then throws ParseError (remove the file and start again). Measured with SIGKILL at
// random moments of a writing process: KILLS_PLACEHOLDER. Power loss is not covered (only finish()
// fsyncs).
//
// Thread-safety: one writer per file, used from one thread. Errors: IoError for file-system and
// HDF5 failures (the message carries HDF5's own error description), ShapeError for rows that do not
// match the declared dim, ConfigError for bad options or a resume against a file written with other
// settings, ParseError for a PATH.partial that is not a valid embedding file.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strand::pipelines {

enum class EmbeddingDtype { Float32, Float16 };
const char* dtype_name(EmbeddingDtype dtype);

struct EmbeddingWriterOptions {
  int64_t dim = 0;  ///< embedding width (> 0)
  EmbeddingDtype dtype = EmbeddingDtype::Float32;
  bool store_tokens = false;  ///< also write per-token embeddings
  /// Rows per chunk of the (N, dim) and (T, dim) datasets; 0 = about 64 KiB per chunk. A resumed
  /// file keeps its own chunking. Measured at dim 256, gzip 4, one core: 3.5 ms per append of 8
  /// rows, 17 ms per append of 256 rows (each append flushes twice or, crossing a chunk boundary,
  /// four times).
  int64_t chunk_rows = 0;
  int gzip_level = 4;  ///< 0 = no compression (and no shuffle), 1..9 = deflate level
  /// String attributes written on the root group. open_resume() requires "model", "layer" and
  /// "pooling" to equal the file's (a missing key counts as ""); the others keep the values of
  /// the run that created the file.
  std::map<std::string, std::string> attributes;
};

/// A batch of N rows to append.
struct EmbeddingBatch {
  std::vector<std::string> names;    ///< N record names
  std::vector<std::string> sources;  ///< N entries, or empty: each empty entry means "= name"
  std::vector<int64_t> start;        ///< N window starts (0-based)
  std::vector<int64_t> end;          ///< N window ends (exclusive)
  /// (N, dim), any floating dtype, any device; converted to the file's dtype on the CPU.
  at::Tensor embeddings;
  /// store_tokens only: (T, dim) token embeddings of the N rows, concatenated in row order ...
  at::Tensor token_embeddings;
  /// ... with token_counts[i] tokens for row i (N entries, sum T).
  std::vector<int64_t> token_counts;
};

/// What open_resume() found in PATH.partial: the committed rows, to be skipped by the caller.
struct ResumeInfo {
  int64_t rows = 0;    ///< committed rows (later rows were rolled back)
  int64_t tokens = 0;  ///< committed token rows
  int64_t rolled_back_rows = 0;  ///< rows past the committed count that were removed
  std::vector<std::string> names;  ///< the committed rows' names, in row order
  std::vector<int64_t> start;      ///< their window starts
  std::vector<int64_t> end;        ///< their window ends
};

/// The temporary name the writer uses for `path`: path + ".partial".
std::string partial_path(const std::string& path);

class EmbeddingWriter {
 public:
  EmbeddingWriter();
  /// Closes PATH.partial without renaming it (as a killed run would leave it, but with the last
  /// append committed), so a later open_resume() can continue.
  ~EmbeddingWriter();
  EmbeddingWriter(const EmbeddingWriter&) = delete;
  EmbeddingWriter& operator=(const EmbeddingWriter&) = delete;

  /// Creates PATH.partial (replacing one left by an earlier run) with empty datasets.
  /// Throws ConfigError for bad options, IoError when the file cannot be created.
  void open(const std::string& path, const EmbeddingWriterOptions& options);

  /// Reopens PATH.partial left by an interrupted run: checks it is an embedding file (ParseError)
  /// with the same dim, dtype and store_tokens and the same "model", "layer" and "pooling"
  /// attributes (ConfigError naming the first difference), truncates every dataset to the
  /// committed rows and returns what they hold. IoError when PATH.partial does not exist.
  ResumeInfo open_resume(const std::string& path, const EmbeddingWriterOptions& options);

  /// Appends the rows of `batch` and commits them (see the top of this file). ShapeError for
  /// mismatched sizes or width, InputError for a float16 overflow or a start > end, IoError for
  /// write failures; after an IoError the writer refuses further writes (InputError) and
  /// open_resume() continues from the last commit. An empty batch does nothing.
  void append(const EmbeddingBatch& batch);

  /// Flushes and closes the file, fsyncs it and renames PATH.partial to PATH (replacing PATH).
  /// The writer is closed afterwards. IoError on failure (PATH.partial then stays).
  void finish();

  bool is_open() const noexcept;
  int64_t rows() const noexcept;    ///< committed rows
  int64_t tokens() const noexcept;  ///< committed token rows
  const std::string& path() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Deterministic sharding for `--shard i/n`: record number `record_index` (0-based, in input
/// order) belongs to shard `shard` of `num_shards` when record_index % num_shards == shard
/// (round-robin, so shards get equal record counts and contiguous input spreads evenly; a record
/// and all its windows land in one shard). `name` only serves error messages. Throws InputError
/// for num_shards < 1, shard outside [0, num_shards) or a negative record_index.
bool shard_of(int64_t record_index, std::string_view name, int shard, int num_shards);

}  // namespace strand::pipelines
