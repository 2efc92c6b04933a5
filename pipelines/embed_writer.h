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
//   /record_index      (N)       int64, 0-based index of the row's input record among all records
//                                the run read (all shards; every window of a record has the same
//                                index); non-decreasing down the file
//   /token_embeddings  (T, dim)  only with store_tokens: every row's token embeddings, concatenated
//   /token_offsets     (N + 1)   int64, only with store_tokens: row i's tokens are
//                                token_embeddings[token_offsets[i] : token_offsets[i + 1]]
// Every dataset is chunked and extendable along its first axis; the two (·, dim) datasets are
// compressed (shuffle + gzip when gzip_level > 0), the 1-D ones are not (see below). Root
// attributes: "format" = "strand.embeddings", "format_version" = 2, "dim", "dtype" ("float32" |
// "float16"), "store_tokens" (0 | 1), "commit", "committed_rows" and "committed_tokens" (int64, see
// below), and every EmbeddingWriterOptions::attributes entry as a string attribute (model, layer,
// pooling, version, git_hash, command_line, ...). Format version 2 added /record_index; version 1
// files are refused by open_resume() and EmbeddingReader.
//
// float16. HDF5 1.10 has no predefined half type; the datasets use an IEEE 754 binary16 type built
// from H5T_IEEE_F32LE (sign bit 15, exponent bits 10-14 with bias 15, mantissa bits 0-9, 2 bytes),
// the layout numpy and h5py write as '<f2'. Values are rounded to nearest-even by LibTorch's
// conversion to Half, straight from the input dtype; a finite value beyond the half range
// (|x| > 65504) is an InputError rather than a silent infinity. HDF5 converts the type back to
// float on read.
//
// Crash safety. Everything is written to PATH.partial (built as PATH.partial.new and renamed once
// its empty state is committed); finish() flushes, closes, fsyncs and only then renames it to PATH,
// so a killed run never leaves a file at PATH that looks complete. A finished file's "commit" is
// (rows, token rows, 0, 0) whatever the appends were, so equal rows give equal attributes. Each
// append() writes its rows past the committed end, flushes (H5Fflush), then updates the root
// attribute "commit" (int64[4]: committed rows, committed token rows, and the staging slots below,
// in one attribute so that it changes as a whole; "committed_rows" and "committed_tokens" repeat
// the counts for readers) and flushes again. Rows past the committed count are an interrupted
// append: open_resume() drops them. HDF5 keeps no journal, so the flushed state has to survive
// until the next flush:
//  * file space is never reused (H5F_FSPACE_STRATEGY_NONE) and the metadata cache does not evict,
//    so index updates reach the file only at a flush and never point at overwritten space;
//  * each chunk of the two (·, dim) datasets is written once, whole and compressed. The committed
//    rows of an unfinished last chunk live in one of two fixed, uncompressed staging datasets
//    (".staging/<name>_0|1", overwritten in place): an append that stays inside the chunk writes
//    past the committed positions of the current slot, one that completes the chunk puts the
//    remainder in the other slot, and "commit" names the slot. finish() moves the staged rows into
//    the datasets and removes ".staging", whose space (2 chunks per dataset) stays in the file.
//    Rewriting partial compressed chunks instead moved them to the end of the file at every
//    append: a 4.6x larger file for appends of 8 rows at dim 256;
//  * the 1-D datasets are uncompressed, so their growing chunk is rewritten in place; on resume
//    the growing chunk of the two string datasets is written afresh, since it may hold identifiers
//    of strings a killed append wrote past the committed end.
// The flush itself is not atomic: a kill inside it can still leave PATH.partial unreadable, and
// open_resume then throws ParseError (remove the file and start again). Measured with SIGKILL at
// random moments of a writing process (appends of 16 or 200 rows with 5 or 7 token rows each, gzip
// on and off): 2 of 2077 files could not be resumed, both after appends spanning many chunks;
// without these measures, 26 of 60. Power loss is not covered (only finish() fsyncs).
//
// Thread-safety: one writer or reader per file, used from one thread; HDF5 is not thread-safe, so
// no two threads may use writers or readers at the same time. Errors: IoError for file-system and
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
  /// file keeps its own chunking. Measured at dim 256, gzip 4, one core: 0.5-1.4 ms per append of
  /// 8 rows, 13 ms per append of 256 rows (mostly compression); the file is as large as when
  /// written in one append, plus the staging space.
  int64_t chunk_rows = 0;
  int gzip_level = 4;  ///< 0 = no compression (and no shuffle), 1..9 = deflate level
  /// String attributes written on the root group. open_resume() requires "model", "layer" and
  /// "pooling" to equal the file's (a missing key counts as ""); the others keep the values of
  /// the run that created the file (a warning names any that differ; missing ones are added).
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
  /// N input-record indices (>= 0, never below the previous row's), or empty: then each row is its
  /// own record, numbered by its row in the file.
  std::vector<int64_t> record_index;
};

/// What open_resume() found in PATH.partial: the committed rows, to be skipped by the caller.
struct ResumeInfo {
  int64_t rows = 0;                ///< committed rows (later rows were rolled back)
  int64_t tokens = 0;              ///< committed token rows
  int64_t rolled_back_rows = 0;    ///< rows past the committed count that were removed
  std::vector<std::string> names;  ///< the committed rows' names, in row order
  std::vector<int64_t> start;      ///< their window starts
  std::vector<int64_t> end;        ///< their window ends
  std::vector<int64_t> record_index;  ///< their input-record indices
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

  /// Creates PATH.partial (replacing one left by an earlier run) with empty datasets. Throws
  /// ConfigError for bad options, IoError when the file cannot be created.
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

  /// Sets (or replaces) a string attribute on the root group, e.g. a count known only at the end.
  /// ConfigError for a name the writer keeps itself, IoError for write failures.
  void set_attribute(const std::string& name, const std::string& value);

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

/// A complete embedding file as EmbeddingReader::open() found it.
struct EmbeddingFileInfo {
  int64_t dim = 0;
  EmbeddingDtype dtype = EmbeddingDtype::Float32;
  bool store_tokens = false;
  int64_t rows = 0;        ///< N
  int64_t tokens = 0;      ///< T (0 without store_tokens)
  int64_t chunk_rows = 0;  ///< rows per chunk of /embeddings
  int gzip_level = 0;      ///< deflate level of /embeddings (0 = uncompressed)
  /// Every string attribute of the root group (model, layer, pooling, shard, command_line, ...);
  /// "dtype" and "format" are in the fields above.
  std::map<std::string, std::string> attributes;
};

/// Rows [begin, begin + count) of an embedding file, as stored.
struct EmbeddingRows {
  std::vector<std::string> names;
  std::vector<std::string> sources;  ///< as stored: equal to the name for a row of the record itself
  std::vector<int64_t> start;
  std::vector<int64_t> end;
  std::vector<int64_t> record_index;
  /// store_tokens only: count + 1 entries of /token_offsets (absolute token rows of the file).
  std::vector<int64_t> token_offsets;
  /// (count, dim) CPU tensor, float32 or float16 as the file stores it (the exact stored bits).
  at::Tensor embeddings;
};

/// Reads a complete embedding file (format version 2) in blocks of rows, so that a file larger
/// than memory can be streamed. Thread-safety as for the writer (see the top of this file).
class EmbeddingReader {
 public:
  EmbeddingReader();
  ~EmbeddingReader();
  EmbeddingReader(const EmbeddingReader&) = delete;
  EmbeddingReader& operator=(const EmbeddingReader&) = delete;

  /// Opens PATH read-only and checks it: IoError when it cannot be opened; ParseError when it is
  /// not a strand embedding file, has another format_version, lacks a dataset, or is unfinished
  /// (writer staging rows left, or dataset lengths that disagree with the committed counts, as in
  /// a PATH.partial renamed by hand).
  void open(const std::string& path);
  bool is_open() const noexcept;
  const std::string& path() const noexcept;
  const EmbeddingFileInfo& info() const;  ///< of the open file

  /// Rows [begin, begin + count): InputError when they are not inside [0, rows), IoError for read
  /// failures.
  EmbeddingRows read_rows(int64_t begin, int64_t count);
  /// Token rows [begin, begin + count) as a (count, dim) tensor in the file's dtype (store_tokens
  /// files only, InputError otherwise or outside [0, tokens)).
  at::Tensor read_tokens(int64_t begin, int64_t count);
  void close();

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
