#include "bio/annotation/text_lines.h"

#include <htslib/bgzf.h>

#include <cstring>

#include "libseq/core/error.h"

namespace strand::bio::annotation {

struct TextLines::File {
  BGZF* fp = nullptr;
  ~File() {
    if (fp != nullptr) bgzf_close(fp);
  }
};

TextLines TextLines::open(const std::string& path) {
  TextLines t;
  t.source_ = path;
  t.file_ = std::make_unique<File>();
  t.file_->fp = bgzf_open(path.c_str(), "r");
  if (t.file_->fp == nullptr) throw_errno("cannot open", path);
  t.buffer_.resize(1 << 16);
  return t;
}

TextLines TextLines::from_string(std::string text, std::string source) {
  TextLines t;
  t.source_ = std::move(source);
  t.buffer_ = std::move(text);
  t.end_ = t.buffer_.size();
  t.eof_ = true;
  return t;
}

TextLines::TextLines(TextLines&&) noexcept = default;
TextLines& TextLines::operator=(TextLines&&) noexcept = default;
TextLines::~TextLines() = default;

bool TextLines::fill() {
  if (eof_) return false;
  const ssize_t n = bgzf_read(file_->fp, buffer_.data(), buffer_.size());
  if (n < 0)
    throw ParseError(Location{source_, line_number_ + 1, ""},
                     "cannot decompress the file (corrupt or truncated gzip data)");
  pos_ = 0;
  end_ = static_cast<size_t>(n);
  if (n == 0) eof_ = true;
  return n > 0;
}

bool TextLines::next(std::string_view& line) {
  spill_.clear();
  for (;;) {
    if (pos_ < end_) {
      const char* start = buffer_.data() + pos_;
      const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
      if (nl != nullptr) {
        const auto n = static_cast<size_t>(nl - start);
        pos_ += n + 1;
        if (spill_.empty()) {
          line = {start, n};
        } else {
          spill_.append(start, n);
          line = spill_;
        }
        break;
      }
      spill_.append(start, end_ - pos_);
      pos_ = end_;
    }
    if (file_ == nullptr || !fill()) {
      if (spill_.empty()) return false;
      line = spill_;  // last line without '\n'
      break;
    }
  }
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  ++line_number_;
  return true;
}

}  // namespace strand::bio::annotation
