// Sequence records, read options and the one streaming reader interface shared by every sequence
// file format (FASTA, FASTQ, SAM, BAM, CRAM, indexed FASTA regions, windows).
//
//   ReadOptions options;
//   options.skip_invalid = true;
//   auto reader = open_sequences("reads.fq.gz", options);
//   SequenceRecord record;
//   while (reader->next(record)) use(record);
//   std::cerr << format_summary(reader->summary()) << '\n';
//
// Format detection (open_sequences with SequenceFormat::Auto) looks at the content, never at the
// file name: htslib's hts_detect_format reads the first bytes, decompressing gzip and BGZF, and
// recognises BAM and CRAM by their magic numbers, SAM by its header or tab-separated columns,
// FASTA by a leading '>' and FASTQ by a leading '@'. Text that htslib does not recognise (for
// example a FASTA file whose first line is not a header) is searched, within its first MiB, for
// a line starting with '>' (FASTA) or else '@' (FASTQ); the parser then reports, or with
// skip_invalid skips and counts, the lines before it. Anything else (other binary data, VCF, BED,
// ...) raises ParseError naming what was found.
//
// Bad input. Every problem is reported with the file, the 1-based line (text formats) and the
// record (1-based index and name when known), what was expected and what was found:
//   * A malformed record raises InvalidRecordError (a ParseError carrying an InvalidReason). With
//     ReadOptions::skip_invalid the reader instead skips it, counts it under its reason in
//     ReadSummary and keeps the first messages; nothing is dropped without being counted.
//   * Damage to the container is never skippable: a truncated or corrupt gzip/BGZF stream (a
//     decompression error, not end of file), a BGZF/BAM/CRAM file without its end-of-file marker
//     (truncated at a block boundary), and binary SAM/BAM/CRAM records htslib cannot decode raise
//     ParseError whatever the options.
//   * A file holding no records at all (empty, only blank lines, an empty gzip member, a header-
//     only BAM) raises ParseError "no records" unless ReadOptions::allow_empty is set. A file
//     whose records were all skipped or filtered out is not "empty": its summary says why.
//
// Thread-safety: a reader is a single stream; use one reader per thread. Distinct readers are
// independent.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "libseq/core/error.h"

namespace strand::bio::io {

/// Orientation of SequenceRecord::seq relative to SequenceRecord::source.
enum class Strand : char {
  Forward = '+',  ///< seq == source[begin, end)
  Reverse = '-',  ///< seq == reverse_complement(source[begin, end))
  Unknown = '.',
};

/// Where an alignment record (SAM/BAM/CRAM) lies on its reference. Absent (present == false) for
/// every other record.
struct AlignmentInfo {
  bool present = false;
  std::string reference;  ///< RNAME; empty when the record has none ('*')
  int64_t begin = -1;     ///< 0-based leftmost aligned reference position (POS - 1); -1 when none
  int64_t end = -1;       ///< one past the last aligned reference base (htslib bam_endpos); for an
                          ///< unmapped record end == begin
  uint16_t flag = 0;      ///< SAM FLAG
  uint8_t mapq = 255;     ///< MAPQ (255: unavailable)
};

/// One sequence. Readers reuse the strings' capacity: pass the same record to every next() call.
///
/// source/begin/end/strand locate seq inside a longer sequence, 0-based half-open:
///   * whole FASTA/FASTQ records: source = name, begin = 0, end = seq.size(), strand Forward;
///   * indexed FASTA regions: source = contig, [begin, end) the region, strand as requested;
///   * alignment records: source = the read name, begin = 0, end = seq.size(); strand Reverse when
///     seq holds the reverse complement of the sequenced read (a reverse-strand alignment read
///     without AlignmentOptions::original_orientation), Forward otherwise;
///   * windows: the window's span in its parent's source coordinates (see window.h).
struct SequenceRecord {
  std::string name;         ///< first whitespace-delimited word of the header (never empty)
  std::string description;  ///< rest of the header after the whitespace following the name
  std::string seq;          ///< residues as stored in the file (case preserved)
  std::string qual;         ///< Phred+33 qualities, one per residue; empty when the format has none
  std::string source;
  int64_t begin = 0;
  int64_t end = 0;
  Strand strand = Strand::Forward;
  AlignmentInfo alignment;  ///< SAM/BAM/CRAM only

  /// Empties every field, keeping the strings' capacity.
  void clear();
};

/// The formats open_sequences can read.
enum class SequenceFormat {
  Auto,  ///< detect from the content (see the top of this file)
  Fasta,
  Fastq,
  Sam,
  Bam,
  Cram,
};

/// "auto", "fasta", "fastq", "sam", "bam", "cram".
std::string_view to_string(SequenceFormat format);
/// Inverse of to_string (case-insensitive); throws InputError listing the accepted names.
SequenceFormat parse_sequence_format(std::string_view name);

/// Why a record was rejected.
enum class InvalidReason {
  MissingHeader,          ///< text where a '>' / '@' header line was expected
  EmptyName,              ///< header with no name after '>' / '@'
  InvalidHeader,          ///< control or NUL byte in a header line (binary data)
  InvalidSequence,        ///< a sequence byte that is not a letter, '*', '-' or '.'
  InvalidQuality,         ///< a quality byte outside '!'..'~' (Phred+33 0..93)
  MissingSeparator,       ///< FASTQ: the line after the sequence does not start with '+'
  SeparatorMismatch,      ///< FASTQ: the '+' line repeats a title other than the record's
  QualityLengthMismatch,  ///< FASTQ: number of qualities differs from number of bases
  TruncatedRecord,        ///< the file ends inside a record
  MissingSequence,        ///< SAM/BAM/CRAM record whose SEQ is '*' (not stored)
};
inline constexpr size_t kInvalidReasonCount = 10;

/// Short lower-case label, e.g. "quality length mismatch".
std::string_view to_string(InvalidReason reason);

/// A malformed record: a ParseError that also says which rule the record broke.
class InvalidRecordError : public ParseError {
 public:
  InvalidRecordError(InvalidReason reason, const Location& where, const std::string& message)
      : ParseError(where, message), reason_(reason) {}
  InvalidReason reason() const noexcept { return reason_; }

 private:
  InvalidReason reason_;
};

/// What a reader did with its input. Counts are totals since the reader was opened.
struct ReadSummary {
  /// Input records returned (for a WindowReader: records windowed, not windows).
  uint64_t records = 0;
  /// Alignment records removed by the flag and MAPQ filters (AlignmentOptions).
  uint64_t filtered = 0;
  /// Records skipped as invalid (skip_invalid), indexed by InvalidReason.
  std::array<uint64_t, kInvalidReasonCount> skipped{};
  /// WindowReader only: windows returned, and partial windows dropped (PartialWindowPolicy::Drop).
  uint64_t windows = 0;
  uint64_t partial_windows_dropped = 0;
  /// The full error messages of the first kMaxExamples skipped records.
  std::vector<std::string> examples;
  static constexpr size_t kMaxExamples = 10;

  uint64_t skipped_count(InvalidReason reason) const { return skipped[static_cast<size_t>(reason)]; }
  uint64_t total_skipped() const;
};

/// One line for a log, e.g. "1000 records; 3 skipped as invalid (2 quality length mismatch, 1
/// missing header); 12 filtered".
std::string format_summary(const ReadSummary& summary);

/// Filters and options for SAM/BAM/CRAM input (ignored for other formats).
struct AlignmentOptions {
  /// Keep only records with all of these FLAG bits set (samtools -f).
  uint16_t require_flags = 0;
  /// Drop records with any of these FLAG bits set (samtools -F). The default, 0x900 (secondary
  /// and supplementary), keeps one record per read, as samtools fastq does.
  uint16_t exclude_flags = 0x900;
  /// Drop records with MAPQ below this (samtools -q); unmapped records have MAPQ 0 or 255.
  int min_mapq = 0;
  /// Region queries through the index (.bai, .csi or .crai next to the file, as htslib finds it):
  /// "REF", "REF:BEGIN", "REF:BEGIN-END" (1-based inclusive, samtools convention; wrap names
  /// containing ':' in braces, "{HLA-A*01:01}:1-100") or "*" for unplaced unmapped reads.
  /// Records overlapping several regions are returned once (htslib sam_itr_regarray). Empty:
  /// stream the whole file. An unknown reference, or a region starting or ending past the end of
  /// its reference, raises InputError; a missing index raises InputError naming the file.
  std::vector<std::string> regions;
  /// Reference FASTA for CRAM (htslib hts_set_fai_filename; its .fai is built if missing).
  /// Empty: htslib looks the reference up through the header's UR/M5 tags (REF_PATH, REF_CACHE).
  std::string reference;
  /// BAM stores reverse-strand alignments reverse-complemented (SAM spec 1.4). false: seq/qual
  /// as stored, strand Reverse for such records. true: reverse-complement seq and reverse qual
  /// back to the orientation the read was sequenced in (as samtools fastq does), strand Forward.
  bool original_orientation = false;
};

/// Options shared by every reader.
struct ReadOptions {
  SequenceFormat format = SequenceFormat::Auto;
  /// Skip and count malformed records instead of raising InvalidRecordError.
  bool skip_invalid = false;
  /// Accept a file with no records (the reader then simply returns false).
  bool allow_empty = false;
  /// Extra htslib decompression threads for BGZF-compressed text, BAM and CRAM (0: none).
  int threads = 0;
  AlignmentOptions alignment;
};

/// A stream of sequence records.
class SequenceReader {
 public:
  virtual ~SequenceReader() = default;
  SequenceReader(const SequenceReader&) = delete;
  SequenceReader& operator=(const SequenceReader&) = delete;

  /// Reads the next record into `record`, reusing its buffers. Returns false at the end of the
  /// input (and on every later call). Throws ParseError/InvalidRecordError for bad input (see the
  /// policy at the top of this file) and IoError for operating-system failures; after an
  /// exception the reader must not be used again.
  [[nodiscard]] virtual bool next(SequenceRecord& record) = 0;

  /// Counts so far; complete once next() has returned false.
  const ReadSummary& summary() const { return summary_; }
  /// The path (or display name) the reader was opened with.
  const std::string& path() const { return path_; }
  /// The format being read.
  SequenceFormat format() const { return format_; }

 protected:
  SequenceReader(std::string path, SequenceFormat format) : path_(std::move(path)), format_(format) {}

  /// Counts a skipped record and keeps its message among the examples.
  void count_skipped(const InvalidRecordError& error);

  ReadSummary summary_;
  std::string path_;
  SequenceFormat format_;
};

/// Opens a sequence file ("-" reads standard input) of any supported format, detected from the
/// content unless options.format says otherwise. Plain, gzip and BGZF compression are read
/// transparently. Throws IoError when the file cannot be opened and ParseError when the content
/// is not a supported format (see the top of this file).
std::unique_ptr<SequenceReader> open_sequences(const std::string& path, const ReadOptions& options = {});

/// Like open_sequences, over bytes held in memory (copied); `display_name` stands in for the
/// path in messages. Region queries are not available (there is no index).
std::unique_ptr<SequenceReader> open_sequences_in_memory(std::string_view bytes, const std::string& display_name,
                                                         const ReadOptions& options = {});

}  // namespace strand::bio::io
