// Streaming training data over sequence files: random fixed-length windows, tokenized and batched,
// with a train/validation split that never overlaps, exact resume and a background prefetch thread.
//
// Input. One or more FASTA/FASTQ/SAM/BAM/CRAM files (plain, gzip or bgzip; bio/io/reader.h). The
// corpus is never loaded whole; two ways of reading windows exist (Access):
//
//   Regions  Every input is a FASTA, plain or bgzip, with a .fai index that exists or can be built
//            next to it (htslib builds .fai, and .gzi for bgzip). The index gives, per record, the
//            file, the record's position, name and length: memory O(records), not O(bases). Each
//            window start is drawn by a seeded RNG and the window is fetched through the index
//            (io::open_regions, one reader per file per batch). With verify_index (default) every
//            file is read once, sequentially, at construction with the validating reader, which
//            catches malformed records and an index that does not match its FASTA.
//   Stream   Any readable input (FASTQ, SAM/BAM/CRAM, gzip FASTA, read-only directories without an
//            index). Each epoch reads the files sequentially (file order shuffled per epoch) and cuts
//            every record into windows that tile it from a random phase; windows pass through a
//            shuffle buffer of `shuffle_buffer` windows, which emits a uniformly chosen window each
//            time it is full and is drained in random order at the end of the epoch. No index.
//   Auto     Regions when every input qualifies, otherwise Stream (logged at debug level).
//
// Memory, bounded and independent of corpus size except as stated:
//   Regions  index O(records) (name + three integers each) + the windows of the batches in flight.
//   Stream   shuffle_buffer windows (at most `window` bases each) + the record being read (the
//            reader holds one whole record: for a genome, the longest chromosome).
//   both     up to `prefetch` finished batches in the queue + the batch being built; with length
//            bucketing, bucket_batches batches of windows.
//
// Sampling (Regions). Training segments (see the split) shorter than min_length are ignored. A
// segment is drawn with probability proportional to max(length, window), then a start uniformly
// among the positions where a whole window fits; a segment shorter than the window is one window.
// In expectation an epoch of the default size (the number of windows that tile the training
// segments, ceil(length / window) each) covers every base about once, short reads included.
//
// Split. Validation never overlaps training, in either access mode:
//   SplitBy::Record  a record is validation when a 64-bit hash of (split seed, record name) falls
//                    in the first `validation_fraction` of the hash range (reads and multi-record
//                    corpora); deterministic across runs, machines and file order.
//   SplitBy::Region  for single-record genomes. block == 0: the last floor(fraction * length) bases
//                    of every record are validation. block > 0: each record is cut into blocks of
//                    `block` bases, each block assigned by a hash of (split seed, name, block
//                    number); adjacent blocks of one kind merge into one segment.
// Windows are sampled or tiled inside one segment, so no window crosses a train/validation
// boundary.
//
// Batches. Each window is encoded with the tokenizer (add_special_tokens as set) and the rows are
// padded to the longest row (Padding::Longest) or to max_tokens (Padding::MaxLength, rows cut to
// max_tokens keeping the prefix/suffix tokens). With bucket_batches = P > 1, the windows of P
// consecutive batches are sorted by length, cut into batches and the batches shuffled, so reads
// of similar length share a batch (less padding). Batch::real_bases counts the bases covered by
// tokens that are neither padding nor special, the denominator of bits per base.
//
// Order and resume. The batch sequence is a pure function of (seed, epoch, batch number): in
// Regions mode batch k of epoch e (or the bucketing pool holding it) draws its windows from its
// own RNG stream Rng(seed, hash(e, k)); in Stream mode epoch e draws everything from
// Rng(seed, hash(e)). state() therefore holds the seed, the epoch and the number of batches the
// consumer has received in it (the RNG state is derived from them); restore(state()) followed by
// next() yields exactly the batches an uninterrupted run would have. Restoring in Stream mode
// re-reads the current epoch up to the saved batch without tokenizing (I/O proportional to the
// progress within the epoch). The result never depends on prefetch or thread counts.
//
// Speed (measured on one core, 1 Mb C. elegans chromosome, window 1024, batch 32, "char"):
// Regions 1.0 ms per batch (34 Mbases/s; fetching through the index is half of it), Stream 0.5 ms
// per batch; with prefetch the consumer only waits when the model step is faster than that.
//
// Thread-safety. next(), state(), restore() and validation() are called from one consumer thread.
// With prefetch > 0 a background thread builds batches ahead into a queue of `prefetch` batches;
// state() reflects only the batches next() has returned. An exception in that thread (bad input,
// a failed read) is re-thrown by next() after the batches produced before it, and again on every
// later call; restore() clears it. The destructor stops and joins the thread.
//
// Failures. A missing or unreadable file is an IoError at construction; a malformed record a
// ParseError (bio/io's messages: file, line, record) from the constructor (Regions with
// verify_index) or from next(); inconsistent options a ConfigError; an empty training set an
// InputError; Access::Regions on input that cannot be indexed an InputError.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio::data {

/// How windows are read (see the top of this file).
enum class Access { Auto, Regions, Stream };
const char* access_name(Access access);

enum class SplitBy { Record, Region };

struct SplitOptions {
  /// Share of records (SplitBy::Record) or bases (SplitBy::Region) held out, in [0, 1).
  double validation_fraction = 0.0;
  SplitBy by = SplitBy::Record;
  /// SplitBy::Region: 0 = the last fraction of every record; > 0 = blocks of this many bases
  /// assigned by hash.
  int64_t block = 0;
  /// Seed of the split hash, separate from the sampling seed so that changing one does not move
  /// the other.
  uint64_t seed = 0;
};

struct WindowDatasetOptions {
  std::vector<std::string> paths;  ///< input files (at least one)
  io::ReadOptions read;            ///< passed to the readers (filters, CRAM reference, skip_invalid)
  int64_t window = 1024;           ///< bases per window (> 0)
  int64_t min_length = 1;          ///< segments and validation windows shorter than this are skipped
  int64_t batch_size = 8;          ///< windows per batch (> 0)
  bool drop_last = false;          ///< drop the last, smaller batch of each epoch
  tokenize::Padding padding = tokenize::Padding::Longest;
  int64_t max_tokens = 0;          ///< tokens per row for Padding::MaxLength (rows cut to it); 0 = none
  bool add_special_tokens = true;  ///< the tokenizer's prefix/suffix tokens (e.g. <cls>, <eos>)
  int64_t bucket_batches = 0;      ///< length bucketing over pools of this many batches; 0 or 1 = off
  Access access = Access::Auto;
  bool verify_index = true;       ///< Regions: read every file once at construction (see above)
  int64_t windows_per_epoch = 0;  ///< Regions: windows per epoch; 0 = tile count of training segments
  int64_t shuffle_buffer = 4096;  ///< Stream: windows held by the shuffle buffer (> 0)
  int64_t epochs = 0;             ///< next() returns false after this many epochs; 0 = endless
  int prefetch = 4;               ///< batches built ahead by the background thread; 0 = no thread
  int threads = 1;                ///< tokenizer threads per batch (0 = strand::num_threads())
  uint64_t seed = 42;             ///< sampling seed
  SplitOptions split;
};

/// Where a window came from: [begin, end) of record `name` (0-based, in the record's sequence as
/// read: for alignments, the stored read sequence).
struct WindowInfo {
  int32_t file = 0;    ///< index into WindowDatasetOptions::paths
  int64_t record = 0;  ///< 0-based position of the record in its file (names need not be unique:
                       ///< the two reads of a pair share one)
  std::string name;
  int64_t begin = 0;
  int64_t end = 0;
  bool operator==(const WindowInfo& o) const {
    return file == o.file && record == o.record && name == o.name && begin == o.begin && end == o.end;
  }
  bool operator!=(const WindowInfo& o) const { return !(*this == o); }
};

/// One batch of B windows, L tokens per row (after padding).
struct Batch {
  at::Tensor ids;                   ///< (B, L) int64; padding holds the tokenizer's pad id
  at::Tensor attention_mask;        ///< (B, L) bool; true for tokens (special ones included)
  std::vector<WindowInfo> windows;  ///< B entries
  std::vector<int64_t> tokens;      ///< per row: tokens that are neither padding nor special
  std::vector<int64_t> bases;       ///< per row: bases covered by those tokens
  int64_t real_tokens = 0;          ///< sum of `tokens`: the prediction targets
  int64_t real_bases = 0;           ///< sum of `bases`: the bits-per-base denominator
  int64_t epoch = 0;                ///< epoch of the batch (-1 for validation batches)
  int64_t index = 0;                ///< 0-based number of the batch in its epoch (or validation pass)
  int64_t size() const { return static_cast<int64_t>(windows.size()); }
};

/// A record of the Regions index.
struct RecordInfo {
  int32_t file = 0;   ///< index into WindowDatasetOptions::paths
  int64_t index = 0;  ///< 0-based position of the record in its file (its .fai line)
  std::string name;
  int64_t length = 0;
};

/// A [begin, end) part of a record assigned to training or validation.
struct Segment {
  int64_t record = 0;  ///< index into WindowDataset::records() (Regions) or the record's 0-based
                       ///< position in its file (Stream)
  int64_t begin = 0;
  int64_t end = 0;
};

/// The training and validation segments of a record of `length` bases named `name` under
/// `split`, in increasing order, covering [0, length) without overlap (`record` is set to
/// `record`). Throws ConfigError for a fraction outside [0, 1) or a negative block.
void split_record(const SplitOptions& split, const std::string& name, int64_t length, int64_t record,
                  std::vector<Segment>& train, std::vector<Segment>& validation);

struct Corpus;  // the immutable, shared part: options, tokenizer, files, index, segments
class Producer;

/// A deterministic, non-random pass over the validation windows: validation segments in file and
/// record order, each tiled by non-overlapping windows of `window` bases from its start (the last
/// one shorter; windows shorter than min_length skipped), in batches of batch_size without
/// bucketing. Identical in both access modes. Independent of the dataset's training position and
/// thread; not thread-safe itself. Holds the shared corpus, so it may outlive the dataset.
class ValidationPass {
 public:
  ~ValidationPass();
  ValidationPass(ValidationPass&&) noexcept;
  ValidationPass& operator=(ValidationPass&&) noexcept;
  /// The next batch; false after the last window (or after max_windows windows).
  /// Throws like WindowDataset::next().
  bool next(Batch& batch);
  /// Windows returned so far.
  int64_t windows() const noexcept;

 private:
  friend class WindowDataset;
  struct Impl;
  explicit ValidationPass(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class WindowDataset {
 public:
  /// Opens the inputs and, in Regions mode, builds the index (and verifies it). Throws as listed
  /// at the top of this file. The tokenizer must have a pad token (ConfigError otherwise).
  WindowDataset(WindowDatasetOptions options, std::shared_ptr<const tokenize::Tokenizer> tokenizer);
  /// Stops and joins the prefetch thread.
  ~WindowDataset();
  WindowDataset(const WindowDataset&) = delete;
  WindowDataset& operator=(const WindowDataset&) = delete;

  /// The next training batch; false once `epochs` epochs are done (never when epochs == 0).
  /// Re-throws an error of the prefetch thread.
  bool next(Batch& batch);

  /// The position after the last batch next() returned:
  ///   {"format": "strand.window_dataset", "version": 1, "epoch", "batch" (batches received in
  ///    that epoch), "step" (batches received in all), "config" (seed, access, window, batch and
  ///    split settings, files and index size: what the batch sequence depends on)}.
  nlohmann::json state() const;
  /// Continues from a state() of a dataset built with the same inputs and settings. Throws
  /// ConfigError when the state is malformed or its "config" differs from this dataset's (the
  /// message names the first differing key).
  void restore(const nlohmann::json& state);

  /// A fresh pass over at most max_windows validation windows (0 = all).
  ValidationPass validation(int64_t max_windows = 0) const;

  /// The access mode in use (Auto resolved).
  Access access() const noexcept;
  /// The Regions index (empty in Stream mode).
  const std::vector<RecordInfo>& records() const noexcept;
  /// Regions: the training and validation segments (empty in Stream mode, where they are
  /// computed per record while reading).
  const std::vector<Segment>& train_segments() const noexcept;
  const std::vector<Segment>& validation_segments() const noexcept;
  /// Regions: batches per epoch; Stream: -1 (known only at the end of an epoch).
  int64_t batches_per_epoch() const noexcept;
  /// Finished batches waiting in the prefetch queue (0 without a thread).
  int64_t prefetched() const;

 private:
  struct Prefetcher;
  void start_thread();
  void stop_thread();

  std::shared_ptr<const Corpus> corpus_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<Prefetcher> prefetcher_;
  int64_t epoch_ = 0;  // position after the last batch returned by next()
  int64_t batch_ = 0;
  int64_t step_ = 0;
  bool finished_ = false;
  std::exception_ptr error_;  // the first error next() saw; re-thrown until restore()
};

}  // namespace strand::bio::data
