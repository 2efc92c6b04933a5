// One sequence per line (SequenceFormat::Lines): molecule and peptide lists such as .smi files.
#include <cctype>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "libseq/io/text_lines.h"

namespace strand::bio::io {
namespace {

class LinesReader final : public SequenceReader {
 public:
  LinesReader(const std::string& path, const ReadOptions& options)
      : SequenceReader(path, options), lines_(strand::io::TextLines::open(path)) {}

  bool next(SequenceRecord& r) override {
    std::string_view line;
    for (;;) {
      try {
        if (!lines_.next(line)) {
          check_not_empty();
          return false;
        }
      } catch (const ParseError&) {
        reject("unreadable line", std::current_exception());  // throws unless skip_invalid
        continue;
      }
      size_t b = 0;
      while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b])) != 0) ++b;
      if (b == line.size() || line[b] == '#') continue;
      size_t e = b;
      while (e < line.size() && std::isspace(static_cast<unsigned char>(line[e])) == 0) ++e;
      const std::string_view seq = line.substr(b, e - b);
      bool printable = true;
      for (const char c : seq) printable = printable && c > 0x20 && c < 0x7f;
      ++index_;
      if (!printable) {
        reject("non-printable byte",
               std::make_exception_ptr(ParseError(Location{path_, lines_.line_number(), "record " + std::to_string(index_)},
                                                  "expected printable ASCII in the sequence field")));
        continue;
      }
      size_t nb = e;
      while (nb < line.size() && std::isspace(static_cast<unsigned char>(line[nb])) != 0) ++nb;
      size_t ne = nb;
      while (ne < line.size() && std::isspace(static_cast<unsigned char>(line[ne])) == 0) ++ne;
      r.seq.assign(seq);
      r.name = ne > nb ? std::string(line.substr(nb, ne - nb)) : "line" + std::to_string(lines_.line_number());
      r.comment.clear();
      r.qual.clear();
      r.source = r.name;
      r.begin = 0;
      r.end = static_cast<int64_t>(r.seq.size());
      r.strand = '+';
      r.index = index_;
      ++summary_.records;
      return true;
    }
  }

 private:
  strand::io::TextLines lines_;
  int64_t index_ = 0;
};

}  // namespace

std::unique_ptr<SequenceReader> open_lines(const std::string& path, const ReadOptions& options) {
  return std::make_unique<LinesReader>(path, options);
}

}  // namespace strand::bio::io
