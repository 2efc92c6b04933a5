#include "bio/io/reader.h"

#include <htslib/bgzf.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

#include "libseq/core/error.h"
#include "libseq/io/text_lines.h"

namespace strand::bio::io {

std::unique_ptr<SequenceReader> open_fastx(const std::string& path, SequenceFormat format, const ReadOptions& options);
std::unique_ptr<SequenceReader> open_alignments(const std::string& path, const std::vector<std::string>& regions,
                                                const ReadOptions& options);
std::unique_ptr<SequenceReader> open_lines(const std::string& path, const ReadOptions& options);
std::unique_ptr<SequenceReader> open_fasta_regions(const std::string& path, const std::vector<std::string>& regions,
                                                   const ReadOptions& options);

int64_t ReadSummary::total_skipped() const {
  int64_t n = 0;
  for (const auto& [reason, count] : skipped) n += count;
  return n;
}

const char* format_name(SequenceFormat format) {
  switch (format) {
    case SequenceFormat::Fasta: return "FASTA";
    case SequenceFormat::Fastq: return "FASTQ";
    case SequenceFormat::Sam: return "SAM";
    case SequenceFormat::Bam: return "BAM";
    case SequenceFormat::Cram: return "CRAM";
    case SequenceFormat::Lines: return "one sequence per line";
  }
  return "?";
}

void SequenceReader::reject(const std::string& reason, const std::exception_ptr& error) {
  if (!options_.skip_invalid) std::rethrow_exception(error);
  ++summary_.skipped[reason];
}

void SequenceReader::check_not_empty() const {
  if (summary_.records == 0 && summary_.total_skipped() == 0 && summary_.filtered == 0 && !options_.allow_empty)
    throw ParseError(Location{path_, -1, ""}, "no records found (empty file)");
}

namespace {

// What a file that is no sequence file holds, in words, from its first bytes.
std::string describe_binary(const unsigned char* head, size_t n) {
  struct Magic {
    std::string_view bytes;
    const char* what;
  };
  static const Magic kMagic[] = {
      {std::string_view("\x89PNG\r\n\x1a\n", 8), "a PNG image"},
      {std::string_view("\x7f" "ELF", 4), "an ELF executable"},
      {std::string_view("%PDF-", 5), "a PDF document"},
      {std::string_view("PK\x03\x04", 4), "a ZIP archive"},
      {std::string_view("\xff\xd8\xff", 3), "a JPEG image"},
      {std::string_view("GIF8", 4), "a GIF image"},
      {std::string_view("\x89HDF\r\n\x1a\n", 8), "an HDF5 file"},
      {std::string_view("BZh", 3), "bzip2-compressed data"},
      {std::string_view("\xfd" "7zXZ\0", 6), "xz-compressed data"},
      {std::string_view("\x28\xb5\x2f\xfd", 4), "zstd-compressed data"},
  };
  const std::string_view bytes(reinterpret_cast<const char*>(head), n);
  for (const Magic& m : kMagic)
    if (bytes.substr(0, m.bytes.size()) == m.bytes) return m.what;
  std::string out = "binary data (first bytes";
  char hex[4];
  for (size_t i = 0; i < n && i < 8; ++i) {
    std::snprintf(hex, sizeof hex, " %02x", head[i]);
    out += hex;
  }
  return out + ")";
}

std::string quoted_start(std::string_view line) {
  const size_t n = std::min<size_t>(line.size(), 40);
  std::string out = "'";
  for (size_t i = 0; i < n; ++i) out += (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
  return out + (line.size() > n ? "...'" : "'");
}

// Text that htslib does not recognise (e.g. a FASTA file whose first line is not a header): the
// first line within the first MiB that starts with '>' makes it FASTA, with '@' FASTQ; the parser
// then reports (or skips) the lines before it.
SequenceFormat detect_text(const std::string& path) {
  BGZF* fp = bgzf_open(path.c_str(), "r");
  if (fp == nullptr) throw_errno("cannot open", path);
  std::string head(size_t{1} << 20, '\0');
  const ssize_t got = bgzf_read(fp, head.data(), head.size());
  [[maybe_unused]] const int closed = bgzf_close(fp);
  if (got < 0)
    throw ParseError(Location{path, 1, ""}, "cannot read the file: truncated or corrupt compressed data");
  head.resize(static_cast<size_t>(got));
  for (size_t pos = 0; pos < head.size();) {
    if (head[pos] == '>') return SequenceFormat::Fasta;
    if (head[pos] == '@') return SequenceFormat::Fastq;
    const size_t eol = head.find('\n', pos);
    if (eol == std::string::npos) break;
    pos = eol + 1;
  }
  const std::string_view text(head);
  size_t first = text.find_first_not_of("\r\n");
  first = first == std::string::npos ? text.size() : first;
  const std::string_view line = text.substr(first, text.find_first_of("\r\n", first) - first);
  throw ParseError(Location{path, 1, ""}, "expected FASTA ('>'), FASTQ ('@'), SAM, BAM or CRAM, found text " +
                                               quoted_start(line) + " and no line starting with '>' or '@'");
}

// The format of a file, or nullopt when it holds no data at all.
bool is_lines_file(std::string name) {
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  for (const char* ext : {".smi", ".smiles", ".selfies", ".seq", ".txt"}) {
    const std::string e(ext);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) return true;
  }
  return false;
}

/// A Lines file by name whose first non-blank line does not open a FASTA or FASTQ record (Pfam's
/// *_full.txt files are FASTA).
bool is_lines_content(const std::string& path) {
  if (!is_lines_file(path)) return false;
  auto lines = strand::io::TextLines::open(path, size_t{1} << 20);
  std::string_view line;
  try {
    while (lines.next(line)) {
      const size_t b = line.find_first_not_of(" \t");
      if (b != std::string_view::npos) return line[b] != '>' && line[b] != '@';
    }
  } catch (const ParseError&) {
    return false;  // binary or a huge first line: leave it to content detection
  }
  return true;
}

std::optional<SequenceFormat> detect(const std::string& path) {
  if (is_lines_content(path)) return SequenceFormat::Lines;
  hFILE* h = hopen(path.c_str(), "r");
  if (h == nullptr) throw_errno("cannot open", path);
  htsFormat f{};
  const int rc = hts_detect_format(h, &f);
  unsigned char head[16];
  const ssize_t n = hpeek(h, head, sizeof head);
  if (hclose(h) != 0 || rc < 0 || n < 0) throw_errno("cannot read", path);
  char* description = hts_format_description(&f);
  const std::string seen = description != nullptr ? description : "unknown data";
  free(description);
  const Location where{path, -1, ""};
  const std::string expected = "expected FASTA ('>'), FASTQ ('@'), SAM, BAM or CRAM, found ";
  if (f.format == bam) return SequenceFormat::Bam;
  if (f.format == cram) return SequenceFormat::Cram;
  if (f.compression != no_compression && f.compression != gzip && f.compression != bgzf)
    throw ParseError(where,
                     expected + seen + ": only plain, gzip and bgzip compression can be read; decompress it first");
  switch (f.format) {
    case fasta_format: return SequenceFormat::Fasta;
    case fastq_format: return SequenceFormat::Fastq;
    case sam: return SequenceFormat::Sam;
    case empty_format: return std::nullopt;
    case text_format: return detect_text(path);
    case unknown_format:
    case binary_format:
      throw ParseError(where, expected + (f.compression == no_compression
                                              ? describe_binary(head, static_cast<size_t>(n))
                                              : seen));
    default: throw ParseError(where, expected + seen);
  }
}

}  // namespace

SequenceFormat detect_format(const std::string& path) {
  const auto format = detect(path);
  if (!format) throw ParseError(Location{path, -1, ""}, "no records found (empty file)");
  return *format;
}

std::unique_ptr<SequenceReader> open_sequences(const std::string& path, const ReadOptions& options) {
  const auto detected = detect(path);
  if (!detected && !options.allow_empty) throw ParseError(Location{path, -1, ""}, "no records found (empty file)");
  // An allowed empty file reads as FASTA without records.
  const SequenceFormat format = detected.value_or(SequenceFormat::Fasta);
  switch (format) {
    case SequenceFormat::Fasta:
    case SequenceFormat::Fastq: return open_fastx(path, format, options);
    case SequenceFormat::Lines: return open_lines(path, options);
    default: return open_alignments(path, {}, options);
  }
}

std::unique_ptr<SequenceReader> open_regions(const std::string& path, const std::vector<std::string>& regions,
                                             const ReadOptions& options) {
  STRAND_CHECK(!regions.empty(), "no regions given for ", path);
  const auto format = detect_format(path);
  switch (format) {
    case SequenceFormat::Fasta: return open_fasta_regions(path, regions, options);
    case SequenceFormat::Fastq:
    case SequenceFormat::Lines:
      throw InputError(path + ": regions need an indexed FASTA, BAM or CRAM file, not " + format_name(format));
    default: return open_alignments(path, regions, options);
  }
}

}  // namespace strand::bio::io
