// `strand tokenize`: sequences (FASTA/FASTQ/SAM/BAM/CRAM files or indexed regions) -> token ids.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strand::pipelines {

enum class TokenOutputFormat {
  Auto,         ///< from the output name: *.jsonl (or "-") -> Jsonl, *.safetensors -> Safetensors
  Jsonl,        ///< one JSON object per sequence: name, coordinates, ids (and offsets when asked)
  Safetensors,  ///< binary: flat int32 "ids", int64 "row_offsets" (n+1), "row_begin", "row_end"
  None,         ///< statistics only
};

struct TokenizeOptions {
  std::vector<std::string> inputs;   ///< sequence files; format detected from content
  std::vector<std::string> regions;  ///< "chr:beg-end" (1-based, inclusive) regions; needs an index
  std::string reference;             ///< reference FASTA for CRAM
  std::string tokenizer = "char";    ///< registry spec, e.g. "ntv2-6mer", "kmer-overlap:6", "codon:frame=1"
  std::string tokenizer_file;        ///< tokenizer.json to load instead of `tokenizer`
  std::string output = "-";          ///< "-" = JSONL on stdout
  TokenOutputFormat format = TokenOutputFormat::Auto;
  int64_t window = 0;                ///< window length in bases; 0 = whole sequences
  int64_t stride = 0;                ///< window step; 0 = window (no overlap)
  bool keep_last_partial = true;     ///< keep the final, shorter window of a sequence
  bool add_special_tokens = true;
  bool offsets = false;              ///< JSONL only: per-token [begin, end) in the sequence
  bool skip_invalid = false;         ///< skip malformed records (counted) instead of stopping
  int required_flags = 0;            ///< SAM/BAM/CRAM: keep reads with all of these flags
  int excluded_flags = 0;            ///< SAM/BAM/CRAM: drop reads with any of these flags
  int min_mapq = 0;                  ///< SAM/BAM/CRAM: minimum mapping quality
  bool original_orientation = false; ///< SAM/BAM/CRAM: undo the reverse complement of reverse-strand reads
  int64_t batch_bases = 8 << 20;     ///< bases read per parallel batch
  std::string command_line;          ///< recorded in the output's provenance
};

struct TokenizeSummary {
  int64_t records = 0;      ///< input records read (after filters)
  int64_t sequences = 0;    ///< sequences tokenized (windows when windowing)
  int64_t bases = 0;        ///< bases tokenized (overlapping windows count once per window)
  int64_t tokens = 0;       ///< tokens written, special tokens included
  int64_t gc = 0;           ///< G or C bases in the records read
  int64_t acgt = 0;         ///< A, C, G, T (or U) bases in the records read
  int64_t record_bases = 0; ///< bases in the records read
  std::map<std::string, int64_t> skipped;  ///< skipped records by reason (with skip_invalid)
  std::vector<int64_t> token_counts;       ///< occurrences of each token id
  double seconds = 0;
  std::string tokenizer_spec;
  std::vector<std::string> vocabulary;     ///< token strings, for reporting
  std::string output;                      ///< path written ("" for none, "-" for stdout)
};

/// Runs the job. Throws InputError/ParseError for bad input (unless skip_invalid), ConfigError for
/// a bad tokenizer spec, IoError for output failures; the output appears only when complete.
TokenizeSummary run_tokenize(const TokenizeOptions& options);

/// Human-readable statistics: counts, GC content, tokens per kb, vocabulary use, most frequent
/// tokens (with their strings), throughput and skipped records.
std::string format_summary(const TokenizeSummary& summary);

}  // namespace strand::pipelines
