// Writers for `strand tokenize` output: JSONL lines or one safetensors file. Internal to pipelines.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "libseq/io/atomic_file.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::pipelines {

/// One tokenized sequence with where it came from (0-based half-open coordinates in `source`).
struct TokenRow {
  std::string name;
  std::string source;
  int64_t begin = 0;
  int64_t end = 0;
  char strand = '+';
};

class TokenWriter {
 public:
  virtual ~TokenWriter() = default;
  virtual void write(const TokenRow& row, const tokenize::Encoding& encoding) = 0;
  /// Makes the output appear (rename of the temporary file). Without commit nothing is left.
  virtual void commit() = 0;
};

/// JSONL to `path` ("-" = stdout): {"name","source","begin","end","strand","ids"[, "offsets"]}.
std::unique_ptr<TokenWriter> make_jsonl_writer(const std::string& path, bool offsets);

/// safetensors at `path`: tensors ids (int32, all rows concatenated), row_offsets (int64, rows+1),
/// row_begin and row_end (int64); metadata: format "strand.token_ids", tokenizer (JSON), rows
/// (JSON array of [name, source, strand]), provenance (version, git hash, command line).
std::unique_ptr<TokenWriter> make_safetensors_writer(const std::string& path, const tokenize::Tokenizer& tokenizer,
                                                     const std::string& command_line);

}  // namespace strand::pipelines
