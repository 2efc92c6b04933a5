// Line-by-line reading of text files: plain, gzip or bgzip (zlib reads all three), or text held
// in memory (tests, fuzzing). Lines come back without the '\n' and without one trailing '\r', so
// CRLF files read like LF files. Used by every text parser that is not a sequence format
// (annotation, task tables, molecule files).
//
// Errors: a file that cannot be opened raises IoError; corrupt or truncated gzip data, a NUL byte
// (binary data) or a line longer than the limit raise ParseError naming the source and the line.
// Memory is bounded by the longest line. Not thread-safe: one reader per thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace strand::io {

class TextLines {
 public:
  static constexpr size_t kDefaultMaxLineBytes = size_t{1} << 30;

  /// Opens `path` (plain, gzip or bgzip). Throws IoError when it cannot be opened.
  static TextLines open(const std::string& path, size_t max_line_bytes = kDefaultMaxLineBytes);
  /// Reads `text` from memory; `source` names it in errors.
  static TextLines from_string(std::string text, std::string source);

  TextLines(TextLines&&) noexcept;
  TextLines& operator=(TextLines&&) noexcept;
  ~TextLines();

  /// Sets `line` to the next line; the view stays valid until the next call. Returns false at
  /// the end of the input.
  bool next(std::string_view& line);
  /// The same, copying into `line`.
  bool next(std::string& line);
  /// 1-based number of the line last returned (0 before the first).
  int64_t line_number() const noexcept { return line_number_; }
  /// The path or the in-memory source name.
  const std::string& source() const noexcept { return source_; }

 private:
  struct File;
  TextLines() = default;
  void fill();
  [[noreturn]] void read_error();

  std::string source_;
  std::unique_ptr<File> file_;  ///< null for in-memory text
  std::string buffer_;
  size_t pos_ = 0;   ///< start of the unread part of buffer_
  size_t scan_ = 0;  ///< where the search for '\n' resumes
  bool eof_ = false;
  size_t max_line_bytes_ = kDefaultMaxLineBytes;
  int64_t line_number_ = 0;
};

/// Splits one CSV record (RFC 4180: quoted fields, "" inside quotes, line breaks inside quotes)
/// that starts with `line`, reading further lines from `lines` while a quote is open. Throws
/// ParseError naming the line for a quote inside an unquoted field, text after a closing quote, or
/// a quote still open at the end of the file.
void split_csv(TextLines& lines, std::string line, std::vector<std::string>& fields);

/// Splits a TSV line at every tab (no quoting).
void split_tsv(std::string_view line, std::vector<std::string>& fields);

}  // namespace strand::io
