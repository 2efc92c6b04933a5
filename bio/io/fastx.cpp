// FASTA and FASTQ streaming over HTSlib's BGZF layer, which reads plain, gzip and bgzip files
// alike. The line parser is our own so that every error names its line and record.
#include <htslib/bgzf.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAND_FASTX_AVX2 1
#include <immintrin.h>
#endif

namespace strand::bio::io {
namespace {

#ifdef STRAND_FASTX_AVX2
// Length of the valid sequence line at the start of [p, end) (letters, '*', '-', '.', then '\n'),
// found and checked in one pass of 32-byte vectors; -1 when the line holds any other byte
// (including '\r') or does not end within the whole vectors that fit before `end`. The caller
// then handles the line the slow way, which gives the same result.
__attribute__((target("avx2"))) ptrdiff_t valid_sequence_line(const char* p, const char* end) {
  const __m256i newline = _mm256_set1_epi8('\n');
  const __m256i case_bit = _mm256_set1_epi8(0x20);
  const __m256i a = _mm256_set1_epi8('a');
  const __m256i z_offset = _mm256_set1_epi8(25);
  const __m256i star = _mm256_set1_epi8('*');
  const __m256i dash = _mm256_set1_epi8('-');
  const __m256i dot = _mm256_set1_epi8('.');
  for (const char* q = p; end - q >= 32; q += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(q));
    // (c | 0x20) - 'a' <= 25, unsigned: an ASCII letter of either case.
    const __m256i t = _mm256_sub_epi8(_mm256_or_si256(x, case_bit), a);
    const __m256i letter = _mm256_cmpeq_epi8(_mm256_min_epu8(t, z_offset), t);
    const __m256i ok = _mm256_or_si256(
        letter, _mm256_or_si256(_mm256_cmpeq_epi8(x, star),
                                _mm256_or_si256(_mm256_cmpeq_epi8(x, dash), _mm256_cmpeq_epi8(x, dot))));
    const auto nl = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, newline)));
    const auto bad = ~static_cast<uint32_t>(_mm256_movemask_epi8(ok)) & ~nl;
    if ((nl | bad) == 0) continue;
    const int first = __builtin_ctz(nl | bad);
    if ((bad >> first) & 1u) return -1;
    return (q - p) + first;
  }
  return -1;
}

bool have_avx2() {
  static const bool yes = __builtin_cpu_supports("avx2");
  return yes;
}
#endif

// Bytes allowed in sequence lines: letters and the gap/stop symbols '*', '-', '.'.
const std::array<bool, 256>& sequence_bytes() {
  static const std::array<bool, 256> table = [] {
    std::array<bool, 256> t{};
    for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<size_t>(c)] = t[static_cast<size_t>(c + 32)] = true;
    t['*'] = t['-'] = t['.'] = true;
    return t;
  }();
  return table;
}

std::string show_byte(unsigned char c) {
  char buf[16];
  if (c >= 0x21 && c < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  }
  return buf;
}

class FastxReader final : public SequenceReader {
 public:
  FastxReader(const std::string& path, SequenceFormat format, const ReadOptions& options)
      : SequenceReader(path, options), fastq_(format == SequenceFormat::Fastq) {
    fp_ = bgzf_open(path.c_str(), "r");
    if (fp_ == nullptr) throw_errno("cannot open", path);
    // A BGZF file cut at a block boundary decompresses cleanly; only the missing end-of-file
    // marker tells that data was lost.
    if (bgzf_compression(fp_) == 2 && bgzf_check_EOF(fp_) == 0) {
      bgzf_close(fp_);
      fp_ = nullptr;
      throw ParseError(Location{path, -1, ""}, "the BGZF end-of-file marker is missing: the file is truncated");
    }
  }
  ~FastxReader() override {
    if (fp_ != nullptr) bgzf_close(fp_);
  }

  bool next(SequenceRecord& r) override {
    for (;;) {
      const bool got = fastq_ ? next_fastq(r) : next_fasta(r);
      if (!got) {
        check_not_empty();
        return false;
      }
      if (record_ok_) {
        ++summary_.records;
        return true;
      }
    }
  }

 private:
  // Makes line_ the next line (without '\n' and a trailing '\r'). Returns false at end of file.
  // Lines are views into the block buffer; only a line that straddles two blocks is copied.
  bool read_line() {
    if (line_in_spill_) {
      spill_.clear();
      line_in_spill_ = false;
    }
    for (;;) {
      if (pos_ < end_) {
        const char* start = buffer_.data() + pos_;
        const auto* nl = static_cast<const char*>(std::memchr(start, '\n', end_ - pos_));
        if (nl != nullptr) {
          const auto n = static_cast<size_t>(nl - start);
          pos_ += n + 1;
          if (spill_.empty()) {
            line_ = {start, n};
          } else {
            spill_.append(start, n);
            line_ = {spill_.data(), spill_.size()};
            line_in_spill_ = true;
          }
          break;
        }
        spill_.append(start, end_ - pos_);
        pos_ = end_;
      }
      const ssize_t got = bgzf_read(fp_, buffer_.data(), buffer_.size());
      if (got < 0)
        throw ParseError(Location{path_, line_no_ + 1, ""},
                         "cannot read the file past this point: truncated or corrupt compressed data");
      if (got == 0) {
        if (spill_.empty()) {
          line_ = {nullptr, 0};
          return false;
        }
        line_ = {spill_.data(), spill_.size()};  // last line without a final newline
        line_in_spill_ = true;
        break;
      }
      pos_ = 0;
      end_ = static_cast<size_t>(got);
    }
    ++line_no_;
    if (line_.l > 0 && line_.s[line_.l - 1] == '\r') --line_.l;
    return true;
  }

  // FASTA fast path: appends the valid sequence lines that lie whole in the block buffer to `seq`
  // in one pass each (no per-line validation and copy passes), and stops at anything else (a
  // header, a blank line, a CR, an invalid byte, the buffer's end), which read_line then takes.
  void append_sequence_lines(std::string& seq) {
#ifdef STRAND_FASTX_AVX2
    if (line_in_spill_ || !have_avx2()) return;
    const char* base = buffer_.data();
    while (pos_ < end_ && base[pos_] != '>') {
      const ptrdiff_t n = valid_sequence_line(base + pos_, base + end_);
      if (n <= 0) return;
      seq.append(base + pos_, static_cast<size_t>(n));
      pos_ += static_cast<size_t>(n) + 1;
      ++line_no_;
    }
#else
    (void)seq;
#endif
  }

  Location at(const std::string& record, int64_t line) const {
    return Location{path_, line, record.empty() ? "record " + std::to_string(index_) : "record '" + record + "'"};
  }

  // Leading blanks are skipped, as htslib's faidx and kseq do ("> name" names "name").
  void split_header(SequenceRecord& r) {
    const char* s = line_.s + 1;
    const size_t n = line_.l - 1;
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
    const size_t start = i;
    while (i < n && s[i] != ' ' && s[i] != '\t') ++i;
    r.name.assign(s + start, i - start);
    while (i < n && (s[i] == ' ' || s[i] == '\t')) ++i;
    r.comment.assign(s + i, n - i);
  }

  // Returns the offset of the first byte that is not allowed in a sequence, or npos. The first
  // pass is branch-free so the compiler vectorises it; the table finds the position when needed.
  static size_t first_bad_byte(const char* s, size_t n) {
    unsigned bad = 0;
    for (size_t i = 0; i < n; ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      const bool letter = static_cast<unsigned char>((c | 0x20) - 'a') < 26;
      bad |= static_cast<unsigned>(!(letter | (c == '*') | (c == '-') | (c == '.')));
    }
    if (bad == 0) return std::string::npos;
    const auto& ok = sequence_bytes();
    for (size_t i = 0; i < n; ++i)
      if (!ok[static_cast<unsigned char>(s[i])]) return i;
    return std::string::npos;
  }

  void fill_coordinates(SequenceRecord& r) {
    r.index = index_;
    r.source = r.name;
    r.begin = 0;
    r.end = static_cast<int64_t>(r.seq.size());
    r.strand = '+';
  }

  void fail(SequenceRecord& r, const std::string& reason, const Location& where, const std::string& message) {
    record_ok_ = false;
    reject(reason, std::make_exception_ptr(ParseError(where, message)));
    r.seq.clear();
  }

  bool next_fasta(SequenceRecord& r) {
    record_ok_ = true;
    if (!have_header_) {
      // Before the first record: blank lines are fine, anything else means the header is missing.
      for (;;) {
        if (!read_line()) return false;
        if (line_.l == 0) continue;
        if (line_.s[0] == '>') break;
        ++index_;
        const int64_t bad_line = line_no_;
        const std::string found = line_.l > 0 ? show_byte(static_cast<unsigned char>(line_.s[0])) : "an empty line";
        // With skip_invalid the headerless lines are skipped as one record up to the next '>'.
        while (read_line() && (line_.l == 0 || line_.s[0] != '>')) {
        }
        const bool more = line_.l > 0 && line_.s[0] == '>';
        r.name.clear();
        fail(r, "missing header", at("", bad_line), "expected a FASTA header line starting with '>', found " + found);
        have_header_ = more;  // the next call parses the record whose header is in line_
        fill_coordinates(r);
        return true;
      }
      have_header_ = true;
    }
    if (line_.l == 0 || line_.s[0] != '>') return false;
    ++index_;
    const int64_t header_line = line_no_;
    split_header(r);
    r.seq.clear();
    r.qual.clear();
    bool bad = false;
    std::string message;
    int64_t bad_line = 0;
    for (;;) {
      if (!bad) append_sequence_lines(r.seq);
      if (!read_line()) {
        line_.l = 0;
        break;
      }
      if (line_.l > 0 && line_.s[0] == '>') break;
      if (bad) continue;
      const size_t pos = first_bad_byte(line_.s, line_.l);
      if (pos != std::string::npos) {
        bad = true;
        bad_line = line_no_;
        message = "unexpected " + show_byte(static_cast<unsigned char>(line_.s[pos])) + " at column " +
                  std::to_string(pos + 1) + " of a sequence line (expected letters or '*', '-', '.')";
        continue;
      }
      r.seq.append(line_.s, line_.l);
    }
    if (r.name.empty()) {
      fail(r, "missing name", at("", header_line), "FASTA header has no sequence name after '>'");
    } else if (bad) {
      fail(r, "invalid character", at(r.name, bad_line), message);
    }
    fill_coordinates(r);
    return true;
  }

  bool next_fastq(SequenceRecord& r) {
    record_ok_ = true;
    // Header: skip blank lines between records (the header may already be in line_ after resync).
    if (pushed_back_) {
      pushed_back_ = false;
    } else {
      do {
        if (!read_line()) return false;
      } while (line_.l == 0);
    }
    ++index_;
    const int64_t header_line = line_no_;
    if (line_.s[0] != '@') {
      const std::string found = show_byte(static_cast<unsigned char>(line_.s[0]));
      r.name.clear();
      fail(r, "missing header", at("", header_line), "expected a FASTQ header line starting with '@', found " + found);
      return resync(r);
    }
    split_header(r);
    header_.assign(line_.s + 1, line_.l - 1);
    r.qual.clear();
    if (!read_line()) return truncated(r, header_line, "sequence line");
    r.seq.assign(line_.s, line_.l);
    const int64_t seq_line = line_no_;
    if (!read_line()) return truncated(r, header_line, "'+' line");
    const int64_t plus_line = line_no_;
    const bool plus_ok = line_.l > 0 && line_.s[0] == '+';
    const bool plus_name_ok = plus_ok && (line_.l == 1 || std::string_view(line_.s + 1, line_.l - 1) == r.name ||
                                          std::string_view(line_.s + 1, line_.l - 1) == header_);
    const std::string plus_found = line_.l > 0 ? show_byte(static_cast<unsigned char>(line_.s[0])) : "an empty line";
    const std::string plus_text(line_.s, line_.l);
    if (!plus_ok) {
      // Without its '+' line the record's extent is unknown: report it, then continue from the
      // next header (the offending line itself when it starts with '@'), so that one lost line
      // costs one record.
      fail(r, "malformed '+' line", at(r.name, plus_line),
           "expected the '+' separator line, found " + plus_found + " (multi-line FASTQ is not supported)");
      if (line_.l > 0 && line_.s[0] == '@') {
        pushed_back_ = true;
        fill_coordinates(r);
        return true;
      }
      return resync(r);
    }
    if (!read_line()) return truncated(r, header_line, "quality line");
    r.qual.assign(line_.s, line_.l);
    const int64_t qual_line = line_no_;
    if (r.name.empty()) {
      fail(r, "missing name", at("", header_line), "FASTQ header has no read name after '@'");
    } else if (!plus_name_ok) {
      fail(r, "malformed '+' line", at(r.name, plus_line),
           "'" + plus_text + "' names a different read than the header");
    } else if (const size_t pos = first_bad_byte(r.seq.data(), r.seq.size()); pos != std::string::npos) {
      fail(r, "invalid character", at(r.name, seq_line),
           "unexpected " + show_byte(static_cast<unsigned char>(r.seq[pos])) + " at column " + std::to_string(pos + 1) +
               " of the sequence (expected letters or '*', '-', '.')");
    } else if (r.qual.size() != r.seq.size()) {
      fail(r, "quality length mismatch", at(r.name, qual_line),
           "quality length " + std::to_string(r.qual.size()) + " differs from sequence length " +
               std::to_string(r.seq.size()));
    } else {
      for (size_t i = 0; i < r.qual.size(); ++i) {
        const auto q = static_cast<unsigned char>(r.qual[i]);
        if (q < '!' || q > '~') {
          fail(r, "invalid quality", at(r.name, qual_line),
               "quality " + show_byte(q) + " at column " + std::to_string(i + 1) + " is outside '!'..'~'");
          break;
        }
      }
    }
    fill_coordinates(r);
    return true;
  }

  bool truncated(SequenceRecord& r, int64_t header_line, const char* missing) {
    fail(r, "truncated record", at(r.name, header_line),
         std::string("the file ends inside this FASTQ record (no ") + missing + ")");
    fill_coordinates(r);
    return true;
  }

  // After a missing '@' or '+' line (only reached with skip_invalid): skip lines up to the next
  // line starting with '@' and keep it in line_ as the next header.
  bool resync(SequenceRecord& r) {
    while (read_line()) {
      if (line_.l > 0 && line_.s[0] == '@') {
        pushed_back_ = true;
        break;
      }
    }
    fill_coordinates(r);
    return true;
  }

  BGZF* fp_ = nullptr;
  struct LineView {
    const char* s;
    size_t l;
  };
  std::vector<char> buffer_ = std::vector<char>(size_t{1} << 18);
  size_t pos_ = 0;
  size_t end_ = 0;
  std::string spill_;
  bool line_in_spill_ = false;
  LineView line_{nullptr, 0};
  std::string header_;  // the current FASTQ header line, without its '@'
  int64_t line_no_ = 0;
  int64_t index_ = 0;
  bool fastq_;
  bool have_header_ = false;
  bool record_ok_ = true;
  bool pushed_back_ = false;
};

}  // namespace

std::unique_ptr<SequenceReader> open_fastx(const std::string& path, SequenceFormat format, const ReadOptions& options) {
  return std::make_unique<FastxReader>(path, format, options);
}

}  // namespace strand::bio::io
