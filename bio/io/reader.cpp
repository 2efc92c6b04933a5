#include "bio/io/reader.h"

#include <htslib/hts.h>

#include <optional>

#include "libseq/core/error.h"

namespace strand::bio::io {

std::unique_ptr<SequenceReader> open_fastx(const std::string& path, SequenceFormat format, const ReadOptions& options);
std::unique_ptr<SequenceReader> open_alignments(const std::string& path, const std::vector<std::string>& regions,
                                                const ReadOptions& options);
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
// The format of a file, or nullopt when it holds no data at all.
std::optional<SequenceFormat> detect(const std::string& path) {
  htsFile* fp = hts_open(path.c_str(), "r");
  if (fp == nullptr) throw_errno("cannot open", path);
  const htsFormat* f = hts_get_format(fp);
  const htsExactFormat exact = f->format;
  const htsCompression compression = f->compression;
  char* description = hts_format_description(f);
  const std::string seen = description != nullptr ? description : "unknown data";
  free(description);
  hts_close(fp);
  switch (exact) {
    case fasta_format: return SequenceFormat::Fasta;
    case fastq_format: return SequenceFormat::Fastq;
    case sam: return SequenceFormat::Sam;
    case bam: return SequenceFormat::Bam;
    case cram: return SequenceFormat::Cram;
    case empty_format:
      if (compression == no_compression || compression == gzip || compression == bgzf) return std::nullopt;
      break;
    default: break;
  }
  throw ParseError(Location{path, 1, ""},
                   "expected FASTA ('>'), FASTQ ('@'), SAM, BAM or CRAM, found " + seen);
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
      throw InputError(path + ": regions need an indexed FASTA, BAM or CRAM file, not FASTQ");
    default: return open_alignments(path, regions, options);
  }
}

}  // namespace strand::bio::io
