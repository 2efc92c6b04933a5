// Sequence input over HTSlib: FASTA/FASTQ (plain, gzip, bgzip), SAM/BAM/CRAM, and indexed regions,
// all behind one streaming reader interface.
//
// Format detection reads the first bytes after decompression (hts_detect_format): FASTA ('>'),
// FASTQ ('@'), SAM, BAM, CRAM. Files are streamed, never loaded whole.
//
// Bad input. Every malformed record raises strand::ParseError naming the file, the line (text
// formats) and the record (name, or 1-based index when the name is unknown), what was expected
// and what was found. With ReadOptions::skip_invalid the record is skipped instead and counted in
// ReadSummary::skipped under a reason, so nothing is ever dropped silently. Damage that makes the
// rest of the file unreadable (truncated or corrupt compressed data, a truncated BAM) always
// throws. A file without records is an error unless ReadOptions::allow_empty.
//
// Text formats (fastx.cpp):
//   FASTA  multi-line; '>' header: name = first word, comment = rest; blank lines ignored; CRLF
//          line ends accepted (the '\r' is removed); sequence bytes must be letters or '*' '-' '.'.
//          A record with an empty sequence is valid (samtools accepts it too).
//   FASTQ  four lines per record ('@' header, sequence, '+' [optionally the same name], quality),
//          the layout every current instrument writes. Multi-line FASTQ is rejected: '@' and '+'
//          are valid quality characters, so wrapped records cannot be split reliably. Quality
//          length must equal sequence length; quality bytes must lie in '!'..'~'.
// Alignments (sam.cpp): unmapped and mapped reads alike; flag and MAPQ filters; records without a
// stored sequence (SEQ '*', typical of secondary alignments) are counted as skipped
// ("no sequence stored"). BAM stores reverse-strand reads reverse-complemented: the sequence is
// returned as stored unless ReadOptions::original_orientation.
//
// Readers are not thread-safe; use one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace strand::bio::io {

/// One sequence with where it came from.
struct SequenceRecord {
  std::string name;     ///< FASTA/FASTQ first header word, read name, or the region string
  std::string comment;  ///< rest of the header line (FASTA/FASTQ)
  std::string seq;
  std::string qual;     ///< phred+33 qualities (FASTQ, BAM); empty for FASTA or when absent
  std::string source;   ///< sequence the coordinates refer to: the record itself, the contig of a
                        ///< region, or the reference of an aligned read ("*" when unmapped)
  int64_t begin = 0;    ///< 0-based start of seq in source
  int64_t end = 0;      ///< 0-based exclusive end (alignment end for aligned reads)
  char strand = '+';    ///< '-' for reverse-strand alignments
  int64_t index = 0;    ///< 1-based number of the record in its file (before filters)
};

struct ReadOptions {
  bool skip_invalid = false;          ///< skip and count malformed records instead of throwing
  bool allow_empty = false;           ///< accept a file without records
  std::string reference;              ///< reference FASTA for CRAM (else the header's M5/UR lookup)
  int required_flags = 0;             ///< SAM/BAM/CRAM: keep records with all these flag bits
  int excluded_flags = 0;             ///< SAM/BAM/CRAM: drop records with any of these flag bits
  int min_mapq = 0;                   ///< SAM/BAM/CRAM: drop records with a lower MAPQ
  bool original_orientation = false;  ///< SAM/BAM/CRAM: undo the reverse complement of '-' reads
};

struct ReadSummary {
  int64_t records = 0;                     ///< records returned
  int64_t filtered = 0;                    ///< records removed by flag/MAPQ filters
  std::map<std::string, int64_t> skipped;  ///< skipped records by reason
  int64_t total_skipped() const;
};

enum class SequenceFormat { Fasta, Fastq, Sam, Bam, Cram };
const char* format_name(SequenceFormat format);

/// Detects the format from the file's content. Throws IoError when the file cannot be opened and
/// ParseError for content that is none of the supported formats (the message says what was seen).
SequenceFormat detect_format(const std::string& path);

class SequenceReader {
 public:
  virtual ~SequenceReader() = default;
  /// Reads the next record into `record` (reusing its buffers). Returns false at the end.
  virtual bool next(SequenceRecord& record) = 0;
  const ReadSummary& summary() const noexcept { return summary_; }
  const std::string& path() const noexcept { return path_; }

 protected:
  explicit SequenceReader(std::string path, ReadOptions options)
      : path_(std::move(path)), options_(std::move(options)) {}
  /// Throws `error` or, with skip_invalid, counts it under `reason`.
  void reject(const std::string& reason, const std::exception_ptr& error);
  /// Called at the end of input: enforces allow_empty.
  void check_not_empty() const;

  std::string path_;
  ReadOptions options_;
  ReadSummary summary_;
};

/// Opens any supported file for streaming.
std::unique_ptr<SequenceReader> open_sequences(const std::string& path, const ReadOptions& options = {});

/// Reads regions "name", "name:beg", "name:beg-end" (1-based, inclusive, as samtools; commas in
/// numbers allowed) from an indexed file: FASTA (plain or bgzip) through its .fai (built next to
/// the file when missing; a .gzi too for bgzip), or BAM/CRAM through .bai/.csi/.crai (must exist).
/// For FASTA each region yields one record whose name is the region string; an end past the
/// sequence is clipped to it (as samtools faidx does) and an unknown name or a start past the end
/// is an InputError. For BAM/CRAM each region yields the overlapping reads.
std::unique_ptr<SequenceReader> open_regions(const std::string& path, const std::vector<std::string>& regions,
                                             const ReadOptions& options = {});

}  // namespace strand::bio::io
