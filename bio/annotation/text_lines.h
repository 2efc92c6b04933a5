// Line-by-line reading of text files for the annotation parsers (GFF3, GenBank, Stockholm, NCBI
// taxonomy dumps, CSV): plain, gzip or bgzip files through HTSlib's BGZF layer, or text held in
// memory (tests, fuzzing). Lines come back without the '\n' and without one trailing '\r', so CRLF
// files read like LF files.
//
// Errors: a file that cannot be opened raises IoError; corrupt or truncated gzip data raises
// ParseError naming the file and the line reached. Not thread-safe: one reader per thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace strand::bio::annotation {

class TextLines {
 public:
  /// Opens `path` (plain, gzip or bgzip). Throws IoError when it cannot be opened.
  static TextLines open(const std::string& path);
  /// Reads `text` from memory; `source` names it in errors.
  static TextLines from_string(std::string text, std::string source);

  TextLines(TextLines&&) noexcept;
  TextLines& operator=(TextLines&&) noexcept;
  ~TextLines();

  /// Sets `line` to the next line; the view stays valid until the next call. Returns false at
  /// the end of the input.
  bool next(std::string_view& line);
  /// 1-based number of the line last returned (0 before the first).
  int64_t line_number() const noexcept { return line_number_; }
  /// The path or the in-memory source name.
  const std::string& source() const noexcept { return source_; }

 private:
  struct File;
  TextLines() = default;
  bool fill();

  std::string source_;
  std::unique_ptr<File> file_;  ///< null for in-memory text
  std::string buffer_;          ///< file block or the whole in-memory text
  size_t pos_ = 0;
  size_t end_ = 0;
  std::string spill_;           ///< a line that straddles two file blocks
  bool eof_ = false;
  int64_t line_number_ = 0;
};

}  // namespace strand::bio::annotation
