#include "libseq/io/text_lines.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "libseq/core/error.h"

namespace strand::io {

struct TextLines::File {
  gzFile fp = nullptr;
  ~File() {
    if (fp != nullptr) gzclose(fp);
  }
};

TextLines TextLines::open(const std::string& path, size_t max_line_bytes) {
  TextLines t;
  t.source_ = path;
  t.max_line_bytes_ = max_line_bytes;
  t.file_ = std::make_unique<File>();
  errno = 0;
  t.file_->fp = gzopen(path.c_str(), "rb");
  if (t.file_->fp == nullptr) throw_errno("cannot open", path);
  gzbuffer(t.file_->fp, 1 << 17);
  return t;
}

TextLines TextLines::from_string(std::string text, std::string source) {
  TextLines t;
  t.source_ = std::move(source);
  t.buffer_ = std::move(text);
  t.eof_ = true;
  return t;
}

TextLines::TextLines(TextLines&&) noexcept = default;
TextLines& TextLines::operator=(TextLines&&) noexcept = default;
TextLines::~TextLines() = default;

void TextLines::read_error() {
  int code = Z_OK;
  const char* msg = gzerror(file_->fp, &code);
  const std::string text = code == Z_ERRNO ? std::strerror(errno) : (msg != nullptr ? msg : "unknown zlib error");
  throw ParseError(Location{source_, line_number_ + 1, ""},
                   "cannot read the file: " + text + (code == Z_BUF_ERROR ? " (truncated gzip data)" : ""));
}

void TextLines::fill() {
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  if (buffer_.size() >= max_line_bytes_)
    throw ParseError(Location{source_, line_number_ + 1, ""},
                     "line is longer than " + std::to_string(max_line_bytes_) + " bytes");
  constexpr size_t kChunk = size_t{1} << 16;
  const size_t old = buffer_.size();
  buffer_.resize(old + kChunk);
  const int n = gzread(file_->fp, buffer_.data() + old, static_cast<unsigned>(kChunk));
  if (n < 0) read_error();
  buffer_.resize(old + static_cast<size_t>(n));
  if (n == 0) {
    // A gzip stream cut short reads as a clean end; zlib reports it through gzerror.
    int code = Z_OK;
    gzerror(file_->fp, &code);
    if (code != Z_OK && code != Z_STREAM_END) read_error();
    eof_ = true;
  }
}

bool TextLines::next(std::string_view& line) {
  size_t end = 0;
  size_t after = 0;
  for (;;) {
    const size_t nl = buffer_.find('\n', scan_);
    if (nl != std::string::npos) {
      end = nl;
      after = nl + 1;
      break;
    }
    scan_ = buffer_.size();
    if (eof_) {
      if (pos_ == buffer_.size()) return false;
      end = after = buffer_.size();  // last line without '\n'
      break;
    }
    fill();
  }
  ++line_number_;
  size_t e = end;
  if (e > pos_ && buffer_[e - 1] == '\r') --e;
  line = std::string_view(buffer_).substr(pos_, e - pos_);
  if (std::memchr(line.data(), '\0', line.size()) != nullptr)
    throw ParseError(Location{source_, line_number_, ""}, "expected text, found a NUL byte (binary data?)");
  pos_ = scan_ = after;
  return true;
}

bool TextLines::next(std::string& line) {
  std::string_view view;
  if (!next(view)) return false;
  line.assign(view);
  return true;
}

void split_csv(TextLines& lines, std::string line, std::vector<std::string>& fields) {
  fields.clear();
  const int64_t start = lines.line_number();
  std::string field;
  bool in_quotes = false, was_quoted = false;
  size_t i = 0;
  for (;;) {
    while (i < line.size()) {
      const char c = line[i];
      if (in_quotes) {
        if (c != '"') {
          field += c;
          ++i;
        } else if (i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          i += 2;
        } else {
          in_quotes = false;
          ++i;
          while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
          if (i < line.size() && line[i] != ',') {
            throw ParseError(
                Location{lines.source(), lines.line_number(), ""},
                std::string("expected ',' or the end of the line after a closing quote, found '") + line[i] + "'");
          }
        }
      } else if (c == ',') {
        fields.push_back(std::move(field));
        field.clear();
        was_quoted = false;
        ++i;
      } else if (c == '"') {
        if (was_quoted || field.find_first_not_of(" \t") != std::string::npos) {
          throw ParseError(Location{lines.source(), lines.line_number(), ""},
                           "field " + std::to_string(fields.size() + 1) +
                               ": expected a quote only at the start of a field, found one inside " +
                               "'" + field.substr(0, 60) + "\"'");
        }
        field.clear();
        in_quotes = was_quoted = true;
        ++i;
      } else {
        field += c;
        ++i;
      }
    }
    if (!in_quotes) break;
    if (!lines.next(line)) {
      throw ParseError(Location{lines.source(), start, ""},
                       "field " + std::to_string(fields.size() + 1) +
                           ": expected a closing quote, found the end of the file (the quote opened on this line)");
    }
    field += '\n';
    i = 0;
  }
  fields.push_back(std::move(field));
}

void split_tsv(std::string_view line, std::vector<std::string>& fields) {
  fields.clear();
  size_t b = 0;
  for (;;) {
    const size_t tab = line.find('\t', b);
    if (tab == std::string::npos) {
      fields.emplace_back(line.substr(b));
      return;
    }
    fields.emplace_back(line.substr(b, tab - b));
    b = tab + 1;
  }
}

}  // namespace strand::io
