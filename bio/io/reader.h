// Sequence input over HTSlib: FASTA/FASTQ (plain, gzip, bgzip), SAM/BAM/CRAM, and indexed regions,
// all behind one streaming reader interface.
//
// Format detection reads the first bytes after decompression (hts_detect_format): FASTA ('>'),
// FASTQ ('@'), SAM, BAM, CRAM. Text htslib does not recognise (e.g. a FASTA file whose first line
// is not a header) is FASTA when the first line within its first MiB that starts with '>' or '@'
// starts with '>', FASTQ when it starts with '@'; the lines before it are then a "missing header"
// record. Anything else raises ParseError saying what was found ("a PNG image", "an ELF
// executable", "binary data (first bytes ...)", "text 'hello' ..."), as does compression other
// than gzip and bgzip (bzip2, xz, zstd). Files are streamed, never loaded whole.
//
// Bad input. Every malformed record raises strand::ParseError naming the file, the line (text
// formats) and the record (name, or 1-based index when the name is unknown), what was expected
// and what was found. With ReadOptions::skip_invalid the record is skipped instead and counted in
// ReadSummary::skipped under one of these reasons, so nothing is ever dropped silently:
//   "missing header", "missing name", "invalid character", "invalid quality",
//   "quality length mismatch", "malformed '+' line", "truncated record" (text formats);
//   "no sequence stored" (alignments; counted whatever skip_invalid says, see below).
// Damage that makes the rest of the file unreadable always throws ParseError, whatever the
// options: truncated or corrupt gzip/BGZF data, a corrupt BAM/CRAM record, and a BGZF file (bgzip
// text, BAM) or CRAM without its end-of-file marker, which is how a file cut at a block boundary
// shows (checked when the file is opened, for seekable files). A file without records is an error
// unless ReadOptions::allow_empty.
//
// Text formats (fastx.cpp):
//   FASTA  multi-line; '>' header: blanks after '>' skipped, name = first word, comment = the rest
//          after the blanks that follow it; a header without a name is invalid ("missing name");
//          blank lines ignored; CRLF line ends accepted (the '\r' is removed); sequence bytes must
//          be letters or '*' '-' '.'. A record with an empty sequence is valid (samtools accepts
//          it too).
//   FASTQ  four lines per record ('@' header, split like FASTA's; sequence; '+' alone or followed
//          by the read name or the whole header text; quality), the layout every current
//          instrument writes. Multi-line FASTQ is rejected: '@' and '+' are valid quality
//          characters, so wrapped records cannot be split reliably. Quality length must equal
//          sequence length; quality bytes must lie in '!'..'~'.
// Lines (lines.cpp): one sequence per line, for a file named .smi, .smiles, .selfies, .seq or .txt
//          (optionally .gz) whose first non-blank line is not a FASTA or FASTQ header (those are
//          read as FASTA/FASTQ whatever the name): molecule and peptide lists. The first whitespace-separated
//          field is the sequence (printable ASCII), the second, if any, the name (else "lineN");
//          blank lines and lines starting with '#' are skipped.
// Alignments (sam.cpp): unmapped and mapped reads alike; flag and MAPQ filters; records without a
// stored sequence (SEQ '*', typical of secondary alignments) are counted as skipped
// ("no sequence stored"); QUAL '*' gives an empty qual. BAM stores reverse-strand reads
// reverse-complemented: the sequence is returned as stored unless
// ReadOptions::original_orientation, which complements every IUPAC code ('=' and N stay) and
// reverses seq and qual, as samtools fastq does.
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
  std::string reference;              ///< reference FASTA for CRAM (else the header's M5/UR lookup);
                                      ///< InputError when it cannot be read
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

enum class SequenceFormat { Fasta, Fastq, Sam, Bam, Cram, Lines };
const char* format_name(SequenceFormat format);

/// Detects the format from the file's content (Lines: from the file name). Throws IoError when the file cannot be opened and
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
/// sequence is clipped to it (as samtools faidx does); every region is checked when the reader is
/// opened, and an unknown name, a start past the end, a start after the end or a malformed region
/// is an InputError naming the file and the region. Gzip (not bgzip) FASTA cannot be indexed:
/// InputError. For BAM/CRAM each region yields the overlapping reads, region after region (a read
/// overlapping two regions is returned twice, as `samtools view file r1 r2` does); a missing index
/// or an unknown reference name is an InputError.
std::unique_ptr<SequenceReader> open_regions(const std::string& path, const std::vector<std::string>& regions,
                                             const ReadOptions& options = {});

}  // namespace strand::bio::io
