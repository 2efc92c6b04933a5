// Streaming mzML reader.
//
// How it works. An mzML file is one big XML document, but the only part we need is the sequence of
// <spectrum> elements inside <spectrumList>, and each of those is self-contained: its cvParams,
// precursors and base64 peak arrays live between <spectrum ...> and </spectrum>. So instead of
// handing the whole document to an XML parser we read the (plain or gzip) file in 64 KiB chunks
// and run a small markup scanner over them:
//
//   * Between spectra the scanner looks only at '<' characters. Comments, CDATA sections and
//     processing instructions are stepped over as opaque text; "<spectrum" followed by a name
//     terminator starts an element; "</spectrumList" or "</mzML" ends the list, after which
//     nothing more is read (so a trailing chromatogram list or index costs nothing). Everything
//     before the scan position is dropped when the next chunk is read, so the buffer holds at most
//     one chunk plus a few bytes of lookahead while no element is open.
//   * Inside an element, the start tag is scanned with attention to quoted attribute values (which
//     may contain '>'), then the scanner looks for "</spectrum>". The element's bytes are kept from
//     its first '<' and the buffer grows chunk by chunk until the end tag arrives, so an element
//     may straddle any number of chunk boundaries. An element larger than kMaxElementBytes is a
//     ParseError; so is end of input inside an element or before the list is closed (a truncated
//     file). Before any of this, the first 16 KiB must show an <mzML> or <indexedmzML> tag.
//   * The complete element text alone is then parsed in place with pugixml and turned into a
//     Spectrum. Anything wrong with one element (XML, cvParam values, base64, zlib, array lengths)
//     throws the internal BadRecord, which next() turns into a counted skip before moving on.
//
// The indexList of an indexed file is never used: offsets are often stale after hand edits, and a
// forward scan needs no random access (which gzip input could not give cheaply anyway).
//
// Peak arrays are decoded defensively: the expected byte count (array length x 4 or 8) is known
// before decoding, zlib output goes into a buffer of exactly that size plus one byte, and a stream
// that would fill the extra byte is rejected, so a small "zlib bomb" never allocates its inflated
// size. pugixml's memory is bounded by refusing elements with an absurd number of tags or
// attributes before parsing.
#include <zlib.h>

#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

#include "bio/spectra/spectrum.h"
#include "bio/spectra/text.h"
#include "libseq/core/error.h"

namespace strand::bio::spectra {
namespace {

using detail::parse_double;
using detail::trim;

constexpr size_t kChunkBytes = size_t{1} << 16;
/// Largest <spectrum> element text accepted (a file-level error beyond it).
constexpr size_t kMaxElementBytes = size_t{1} << 30;
/// The <mzML> or <indexedmzML> root must start within this many bytes.
constexpr size_t kRootWindowBytes = size_t{16} << 10;
/// Bytes after a '<' needed to tell the markup we care about apart ("</spectrumList" + 1).
constexpr size_t kLookahead = 16;
/// Upper bound on '<' plus '=' characters in one element: keeps pugixml's node and attribute
/// allocations small. Real spectra have a few hundred tags.
constexpr size_t kMaxMarkup = size_t{1} << 20;

constexpr std::string_view kSpectrumOpen = "<spectrum";
constexpr std::string_view kSpectrumClose = "</spectrum";

/// A bad record: thrown while converting one element, caught in next() and counted.
struct BadRecord {
  std::string reason;
  std::string detail;
};

struct GzCloser {
  void operator()(gzFile f) const noexcept { gzclose(f); }
};
using GzHandle = std::unique_ptr<std::remove_pointer_t<gzFile>, GzCloser>;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

/// True when `s` starts with `name` ("<spectrum", "</mzML") followed by a character that ends an XML
/// name, or by nothing when `s` is the very end of the input.
bool opens_tag(std::string_view s, std::string_view name) {
  if (!starts_with(s, name)) return false;
  if (s.size() == name.size()) return true;
  const char c = s[name.size()];
  return is_space(c) || c == '>' || c == '/';
}


/// Whole-string integer (surrounding whitespace and one leading '+' allowed).
bool parse_int64(std::string_view s, int64_t& value) {
  s = trim(s);
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}


/// Quotes a value for a message, cutting it short if long.
std::string quoted(std::string_view s) {
  constexpr size_t kShown = 40;
  if (s.size() <= kShown) return "'" + std::string(s) + "'";
  return "'" + std::string(s.substr(0, kShown)) + "...'";
}

/// The first cvParam child of `parent` with this accession (null node if none).
pugi::xml_node find_cv(pugi::xml_node parent, const char* accession) {
  for (pugi::xml_node cv : parent.children("cvParam"))
    if (std::strcmp(cv.attribute("accession").value(), accession) == 0) return cv;
  return {};
}

double cv_double(pugi::xml_node cv, const char* what) {
  double v = 0;
  const char* text = cv.attribute("value").value();
  if (!parse_double(text, v))
    throw BadRecord{"bad cvParam value", std::string(what) + " " + quoted(text) + " is not a finite number"};
  return v;
}

int cv_int(pugi::xml_node cv, const char* what, int64_t min, int64_t max) {
  int64_t v = 0;
  const char* text = cv.attribute("value").value();
  if (!parse_int64(text, v) || v < min || v > max)
    throw BadRecord{"bad cvParam value", std::string(what) + " " + quoted(text) + " is not an integer in [" +
                                             std::to_string(min) + ", " + std::to_string(max) + "]"};
  return static_cast<int>(v);
}

/// Seconds per unit of a time cvParam, from its unitAccession (else unitName); a missing unit is read
/// as seconds. Throws BadRecord for an unknown unit.
double seconds_per_unit(pugi::xml_node cv) {
  const std::string_view accession = cv.attribute("unitAccession").value();
  const std::string_view name = cv.attribute("unitName").value();
  if (accession == "UO:0000010" || (accession.empty() && name == "second")) return 1.0;
  if (accession == "UO:0000031" || (accession.empty() && name == "minute")) return 60.0;
  if (accession == "UO:0000028" || (accession.empty() && name == "millisecond")) return 0.001;
  if (accession == "UO:0000032" || (accession.empty() && name == "hour")) return 3600.0;
  if (accession.empty() && name.empty()) return 1.0;
  throw BadRecord{"bad cvParam value",
                  "scan start time has the unknown unit " + quoted(accession.empty() ? name : accession)};
}

/// The number after "scan=" in a native id ("controllerType=0 controllerNumber=1 scan=501"), or "".
std::string scan_number(const std::string& id) {
  size_t at = 0;
  while ((at = id.find("scan=", at)) != std::string::npos) {
    if (at == 0 || is_space(id[at - 1])) {
      size_t end = at + 5;
      while (end < id.size() && id[end] >= '0' && id[end] <= '9') ++end;
      return id.substr(at + 5, end - at - 5);
    }
    at += 5;
  }
  return {};
}

/// The raw (not entity-decoded) value of attribute `name` in a start tag's text, or "".
std::string attribute_in_tag(std::string_view tag, std::string_view name) {
  size_t i = 0;
  while (i < tag.size()) {
    // At a name start: the previous character must be whitespace.
    if (is_space(tag[i])) {
      ++i;
      continue;
    }
    const size_t name_begin = i;
    while (i < tag.size() && !is_space(tag[i]) && tag[i] != '=' && tag[i] != '>' && tag[i] != '/') ++i;
    const std::string_view attr = tag.substr(name_begin, i - name_begin);
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || tag[i] != '=') {
      if (i == name_begin) ++i;  // '>' or '/': step over
      continue;
    }
    ++i;
    while (i < tag.size() && is_space(tag[i])) ++i;
    if (i >= tag.size() || (tag[i] != '"' && tag[i] != '\'')) continue;
    const char quote = tag[i++];
    const size_t value_begin = i;
    while (i < tag.size() && tag[i] != quote) ++i;
    if (attr == name) return std::string(tag.substr(value_begin, i - value_begin));
    ++i;
  }
  return {};
}

// ---- base64, zlib and little-endian floats --------------------------------------------------

constexpr int8_t kB64Bad = -1;
constexpr int8_t kB64Space = -2;
constexpr int8_t kB64Pad = -3;

const std::array<int8_t, 256>& base64_table() {
  static const std::array<int8_t, 256> table = [] {
    std::array<int8_t, 256> t{};
    t.fill(kB64Bad);
    const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(digits[i])] = static_cast<int8_t>(i);
    for (char c : {' ', '\t', '\n', '\r'}) t[static_cast<unsigned char>(c)] = kB64Space;
    t[static_cast<unsigned char>('=')] = kB64Pad;
    return t;
  }();
  return table;
}

/// Decodes base64 `text` into `out`; whitespace anywhere is ignored, '=' padding is optional but
/// must come last. Throws BadRecord("bad base64") for anything else.
void decode_base64(std::string_view text, const char* array, std::vector<uint8_t>& out) {
  const auto& table = base64_table();
  out.clear();
  out.reserve(text.size() / 4 * 3 + 3);
  uint32_t acc = 0;
  int digits = 0;
  int pads = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int8_t v = table[static_cast<unsigned char>(text[i])];
    if (v == kB64Space) continue;
    if (v == kB64Pad) {
      if (++pads > 2) throw BadRecord{"bad base64", std::string(array) + " array: too much '=' padding"};
      continue;
    }
    if (v == kB64Bad) {
      static const char* hex = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(text[i]);
      throw BadRecord{"bad base64", std::string(array) + " array: invalid character 0x" + hex[byte >> 4] +
                                        hex[byte & 15] + " at offset " + std::to_string(i)};
    }
    if (pads > 0) throw BadRecord{"bad base64", std::string(array) + " array: data after '=' padding"};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    if (++digits == 4) {
      out.push_back(static_cast<uint8_t>(acc >> 16));
      out.push_back(static_cast<uint8_t>(acc >> 8));
      out.push_back(static_cast<uint8_t>(acc));
      acc = 0;
      digits = 0;
    }
  }
  const bool ok = (digits == 0 && pads == 0) || (digits == 2 && (pads == 0 || pads == 2)) ||
                  (digits == 3 && (pads == 0 || pads == 1));
  if (!ok)
    throw BadRecord{"bad base64",
                    std::string(array) + " array: the text length is not a whole number of base64 groups"};
  if (digits == 2) out.push_back(static_cast<uint8_t>(acc >> 4));
  if (digits == 3) {
    out.push_back(static_cast<uint8_t>(acc >> 10));
    out.push_back(static_cast<uint8_t>(acc >> 2));
  }
}

/// Inflates zlib data `in` that must decompress to exactly `expected` bytes. The output buffer is
/// expected + 1 bytes: filling the extra byte proves the data is too large, and inflating stops.
void inflate_exact(const std::vector<uint8_t>& in, size_t expected, const char* array, std::vector<uint8_t>& out) {
  if (in.size() > std::numeric_limits<uInt>::max())
    throw BadRecord{"zlib error", std::string(array) + " array: compressed data too large"};
  out.assign(expected + 1, 0);
  z_stream zs{};
  if (inflateInit(&zs) != Z_OK) throw BadRecord{"zlib error", std::string(array) + " array: cannot start zlib"};
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = out.data();
  zs.avail_out = static_cast<uInt>(out.size());
  const auto too_large = [&] {
    return BadRecord{"array length mismatch", std::string(array) + " array: zlib data inflates to more than the " +
                                                  std::to_string(expected) + " bytes its length needs"};
  };
  for (;;) {
    const int ret = inflate(&zs, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) break;
    if (ret == Z_OK || ret == Z_BUF_ERROR) {
      if (zs.avail_out == 0) throw too_large();
      if (zs.avail_in == 0 || ret == Z_BUF_ERROR)
        throw BadRecord{"zlib error", std::string(array) + " array: the zlib stream is truncated"};
      continue;
    }
    throw BadRecord{"zlib error", std::string(array) + " array: " + (zs.msg != nullptr ? zs.msg : "corrupt zlib data")};
  }
  if (zs.avail_out == 0) throw too_large();
  const size_t produced = out.size() - zs.avail_out;
  if (produced != expected)
    throw BadRecord{"array length mismatch", std::string(array) + " array: zlib data inflates to " +
                                                 std::to_string(produced) + " bytes, expected " +
                                                 std::to_string(expected)};
  out.resize(expected);
}

/// Little-endian 32- or 64-bit IEEE floats to doubles; non-finite values are bad records.
void to_doubles(const std::vector<uint8_t>& bytes, size_t width, const char* array, std::vector<double>& out) {
  const size_t count = bytes.size() / width;
  out.resize(count);
  const uint8_t* p = bytes.data();
  for (size_t i = 0; i < count; ++i, p += width) {
    uint64_t u = 0;
    for (size_t b = width; b-- > 0;) u = (u << 8) | static_cast<uint64_t>(p[b]);
    double v = 0;
    if (width == 4) {
      const auto u32 = static_cast<uint32_t>(u);
      float f = 0;
      std::memcpy(&f, &u32, sizeof f);
      v = static_cast<double>(f);
    } else {
      std::memcpy(&v, &u, sizeof v);
    }
    if (!std::isfinite(v))
      throw BadRecord{"non-finite value", std::string(array) + " array: value " + std::to_string(i) + " is not finite"};
    out[i] = v;
  }
}

/// Reads a count attribute (defaultArrayLength, arrayLength) bounded by kMaxPeaks.
size_t array_length(pugi::xml_attribute attr) {
  int64_t n = 0;
  if (!attr) throw BadRecord{"bad attribute", "defaultArrayLength is missing"};
  if (!parse_int64(attr.value(), n) || n < 0)
    throw BadRecord{"bad attribute", std::string(attr.name()) + " " + quoted(attr.value()) + " is not a count"};
  if (n > kMaxPeaks)
    throw BadRecord{"too many peaks", std::string(attr.name()) + " " + std::to_string(n) + " is over the limit of " +
                                          std::to_string(kMaxPeaks)};
  return static_cast<size_t>(n);
}

/// A compression cvParam we cannot decode (MS-Numpress and friends).
bool is_other_compression(std::string_view accession, std::string_view name) {
  if (accession == "MS:1002312" || accession == "MS:1002313" || accession == "MS:1002314") return true;
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return lower.find("compression") != std::string::npos || lower.find("numpress") != std::string::npos;
}

// ---- the reader ------------------------------------------------------------------------------

class MzmlReader final : public SpectrumReader {
 public:
  explicit MzmlReader(const std::string& path) : source_(path) {
    errno = 0;
    file_.reset(gzopen(path.c_str(), "rb"));
    if (!file_) throw_errno("cannot open", path);
    gzbuffer(file_.get(), 1 << 17);
    check_root();
  }

  MzmlReader(std::string text, std::string source) : source_(std::move(source)), buf_(std::move(text)), eof_(true) {
    check_root();
  }

  const std::string& source() const noexcept override { return source_; }

  bool next(Spectrum& out) override {
    try {
      while (!finished_) {
        if (!find_element()) return false;
        const int64_t index = index_++;
        current_id_.clear();
        const size_t end = find_element_end();
        const bool closed = closed_;
        in_element_ = false;
        try {
          if (!closed) throw BadRecord{"malformed XML", "the element has no </spectrum> end tag"};
          convert(buf_.data() + elem_start_, end - elem_start_, index, out);
          pos_ = end;
          ++stats_.spectra;
          return true;
        } catch (const BadRecord& bad) {
          pos_ = end;
          skip(bad.reason, source_ + ": spectrum " + std::to_string(index) + " '" + current_id_ + "'", bad.detail);
        }
      }
      return false;
    } catch (...) {
      finished_ = true;  // a file-level error: later calls report the end
      throw;
    }
  }

 private:
  // Appends the next chunk of input, first dropping bytes no longer needed (before the open
  // element, else before the scan position). False at the end of the input.
  bool fill() {
    if (eof_) return false;
    const size_t keep_from = in_element_ ? elem_start_ : pos_;
    if (keep_from > 0) {
      buf_.erase(0, keep_from);
      pos_ -= keep_from;
      if (in_element_) elem_start_ -= keep_from;
      if (buf_.capacity() > 64 * kChunkBytes && buf_.size() < kChunkBytes) buf_.shrink_to_fit();
    }
    if (in_element_ && buf_.size() - elem_start_ > kMaxElementBytes) throw too_large();
    const size_t old = buf_.size();
    buf_.resize(old + kChunkBytes);
    const int n = gzread(file_.get(), &buf_[old], static_cast<unsigned>(kChunkBytes));
    if (n < 0) read_error();
    buf_.resize(old + static_cast<size_t>(n));
    if (n == 0) {
      // A gzip stream cut short reads as a clean end; zlib reports it through gzerror.
      int code = Z_OK;
      gzerror(file_.get(), &code);
      if (code != Z_OK && code != Z_STREAM_END) read_error();
      eof_ = true;
      return false;
    }
    return true;
  }

  [[noreturn]] void read_error() {
    int code = Z_OK;
    const char* msg = gzerror(file_.get(), &code);
    if (code == Z_ERRNO) throw IoError("cannot read '" + source_ + "': " + std::strerror(errno));
    const std::string text = msg != nullptr ? msg : "unknown zlib error";
    throw ParseError(Location{source_, -1, in_element_ ? record_name() : ""},
                     "cannot read the file: " + text + (code == Z_BUF_ERROR ? " (truncated gzip data)" : ""));
  }

  ParseError too_large() const {
    return ParseError(Location{source_, -1, record_name()},
                      "the <spectrum> element is larger than " + std::to_string(kMaxElementBytes >> 20) + " MiB");
  }

  ParseError truncated() const {
    return ParseError(Location{source_, -1, record_name()},
                      "the file is truncated: it ends inside this <spectrum> element");
  }

  std::string record_name() const {
    std::string name = "spectrum " + std::to_string(index_ - 1);
    if (!current_id_.empty()) name += " '" + current_id_ + "'";
    return name;
  }

  // The document must open with an <mzML> or <indexedmzML> element within kRootWindowBytes.
  void check_root() {
    while (buf_.size() < kRootWindowBytes && fill()) {
    }
    const std::string_view head(buf_.data(), std::min(buf_.size(), kRootWindowBytes));
    for (size_t at = head.find('<'); at != std::string_view::npos; at = head.find('<', at + 1)) {
      const std::string_view rest = head.substr(at);
      if (opens_tag(rest, "<mzML") || opens_tag(rest, "<indexedmzML")) return;
    }
    throw ParseError(Location{source_, -1, ""},
                     buf_.empty() ? "not an mzML file: the file is empty"
                                  : "not an mzML file: no <mzML> or <indexedmzML> element in the first " +
                                        std::to_string(kRootWindowBytes) + " bytes");
  }

  // Moves pos_ past the next `terminator`, reading on as needed; false at the end of the input.
  bool skip_past(std::string_view terminator) {
    for (;;) {
      const size_t at = buf_.find(terminator.data(), pos_, terminator.size());
      if (at != std::string::npos) {
        pos_ = at + terminator.size();
        return true;
      }
      // The terminator may straddle the next chunk: keep its length - 1 last bytes.
      if (buf_.size() >= terminator.size()) pos_ = std::max(pos_, buf_.size() - (terminator.size() - 1));
      if (!fill()) return false;
    }
  }

  // Positions pos_ at the next '<' and makes sure kLookahead bytes follow it (unless the input
  // ends first). False when there is no further '<'.
  bool next_markup() {
    for (;;) {
      const size_t lt = buf_.find('<', pos_);
      if (lt == std::string::npos) {
        pos_ = buf_.size();
        if (!fill()) return false;
        continue;
      }
      pos_ = lt;
      if (buf_.size() - pos_ >= kLookahead || !fill()) return true;
    }
  }

  std::string_view markup() const { return std::string_view(buf_).substr(pos_, kLookahead); }

  // Steps over a comment, CDATA section or processing instruction at pos_; false if there is none.
  bool skip_opaque() {
    const std::string_view m = markup();
    std::string_view terminator;
    size_t open = 0;
    if (starts_with(m, "<!--")) {
      terminator = "-->";
      open = 4;
    } else if (starts_with(m, "<![CDATA[")) {
      terminator = "]]>";
      open = 9;
    } else if (starts_with(m, "<?")) {
      terminator = "?>";
      open = 2;
    } else {
      return false;
    }
    pos_ += open;
    if (!skip_past(terminator)) {
      if (in_element_) throw truncated();
      throw ParseError(Location{source_, -1, ""}, "the file is truncated: it ends inside a comment or CDATA section");
    }
    return true;
  }

  // Finds the next <spectrum> start: sets elem_start_ and in_element_. False at the end of the
  // spectrum list; a file that ends before the list (or the document) is closed is truncated.
  bool find_element() {
    for (;;) {
      if (!next_markup()) {
        throw ParseError(Location{source_, -1, ""}, "the file is truncated: it ends after " + std::to_string(index_) +
                                                        " spectra without closing </spectrumList> or </mzML>");
      }
      if (skip_opaque()) continue;
      const std::string_view m = markup();
      if (opens_tag(m, "</spectrumList") || opens_tag(m, "</mzML")) {
        finished_ = true;
        return false;
      }
      if (opens_tag(m, kSpectrumOpen)) {
        elem_start_ = pos_;
        in_element_ = true;
        return true;
      }
      ++pos_;
    }
  }

  // Scans the element opened at elem_start_ and returns one past its end. Sets closed_ to false
  // (and returns the position of the intruder) when a new <spectrum> or the end of the list comes
  // before </spectrum>. Throws ParseError at end of input or when the element is too large.
  size_t find_element_end() {
    closed_ = true;
    // The start tag: quoted attribute values may hold '>'.
    pos_ = elem_start_ + kSpectrumOpen.size();
    char quote = 0;
    for (;;) {
      if (pos_ >= buf_.size()) {
        if (!fill()) {
          current_id_ = attribute_in_tag(std::string_view(buf_).substr(elem_start_), "id");
          throw truncated();
        }
        continue;
      }
      const char c = buf_[pos_];
      if (quote != 0) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      }
      ++pos_;
    }
    const std::string_view tag = std::string_view(buf_).substr(elem_start_, pos_ + 1 - elem_start_);
    current_id_ = attribute_in_tag(tag.substr(kSpectrumOpen.size()), "id");
    ++pos_;
    if (tag.size() >= 2 && tag[tag.size() - 2] == '/') return checked_end(pos_);  // <spectrum .../>
    for (;;) {
      if (!next_markup()) throw truncated();
      if (pos_ - elem_start_ > kMaxElementBytes) throw too_large();
      if (skip_opaque()) continue;
      const std::string_view m = markup();
      if (opens_tag(m, kSpectrumClose)) {
        pos_ += kSpectrumClose.size();
        if (!skip_past(">")) throw truncated();
        return checked_end(pos_);
      }
      if (opens_tag(m, kSpectrumOpen) || opens_tag(m, "</spectrumList") || opens_tag(m, "</mzML")) {
        closed_ = false;
        return pos_;
      }
      ++pos_;
    }
  }

  size_t checked_end(size_t end) const {
    if (end - elem_start_ > kMaxElementBytes) throw too_large();
    return end;
  }

  // Converts one element's text (parsed in place; the bytes are consumed) into `out`.
  void convert(char* text, size_t size, int64_t index, Spectrum& out) {
    size_t markup_count = 0;
    for (size_t i = 0; i < size; ++i) markup_count += (text[i] == '<' || text[i] == '=') ? 1 : 0;
    if (markup_count > kMaxMarkup)
      throw BadRecord{"malformed XML", "more than " + std::to_string(kMaxMarkup) + " tags and attributes"};

    pugi::xml_document doc;
    const pugi::xml_parse_result parsed = doc.load_buffer_inplace(text, size, pugi::parse_default, pugi::encoding_utf8);
    if (!parsed)
      throw BadRecord{"malformed XML", std::string(parsed.description()) + " at byte " + std::to_string(parsed.offset) +
                                           " of the element"};
    const pugi::xml_node spec = doc.child("spectrum");
    if (!spec) throw BadRecord{"malformed XML", "no <spectrum> element"};
    current_id_ = spec.attribute("id").value();

    const pugi::xml_node level = find_cv(spec, "MS:1000511");
    if (!level) throw BadRecord{"no ms level", "no MS:1000511 (ms level) cvParam"};
    const int ms_level = cv_int(level, "ms level", 1, 1000);

    double rt = -1;
    for (pugi::xml_node scan : spec.child("scanList").children("scan")) {
      const pugi::xml_node start = find_cv(scan, "MS:1000016");
      if (!start) continue;
      const double value = cv_double(start, "scan start time");
      rt = value * seconds_per_unit(start);
      if (!std::isfinite(rt) || rt < 0)
        throw BadRecord{"bad cvParam value",
                        "scan start time " + quoted(start.attribute("value").value()) + " is negative or too large"};
      break;
    }

    double precursor_mz = 0;
    double precursor_intensity = 0;
    int charge = 0;
    const pugi::xml_node ion =
        spec.child("precursorList").child("precursor").child("selectedIonList").child("selectedIon");
    if (ion) {
      if (const pugi::xml_node cv = find_cv(ion, "MS:1000744")) {
        precursor_mz = cv_double(cv, "selected ion m/z");
        if (precursor_mz < 0) throw BadRecord{"bad cvParam value", "selected ion m/z is negative"};
      }
      pugi::xml_node z = find_cv(ion, "MS:1000041");
      if (!z) z = find_cv(ion, "MS:1000633");
      if (z) charge = cv_int(z, "charge state", -100000, 100000);
      if (const pugi::xml_node cv = find_cv(ion, "MS:1000042")) precursor_intensity = cv_double(cv, "peak intensity");
    }

    const size_t default_length = array_length(spec.attribute("defaultArrayLength"));
    bool have_mz = false;
    bool have_intensity = false;
    for (pugi::xml_node array : spec.child("binaryDataArrayList").children("binaryDataArray")) {
      int kind = 0;  // 1 m/z, 2 intensity
      size_t width = 0;
      bool zlib = false;
      std::string other_compression;
      std::string other_type;
      for (pugi::xml_node cv : array.children("cvParam")) {
        const std::string_view accession = cv.attribute("accession").value();
        if (accession == "MS:1000514") {
          kind = 1;
        } else if (accession == "MS:1000515") {
          kind = 2;
        } else if (accession == "MS:1000521") {
          width = 4;
        } else if (accession == "MS:1000523") {
          width = 8;
        } else if (accession == "MS:1000519" || accession == "MS:1000522" || accession == "MS:1000520") {
          other_type = std::string(accession);
        } else if (accession == "MS:1000574") {
          zlib = true;
        } else if (accession == "MS:1000576") {
          zlib = false;
        } else if (is_other_compression(accession, cv.attribute("name").value())) {
          other_compression = std::string(accession) + " (" + cv.attribute("name").value() + ")";
        }
      }
      if (kind == 0 || (kind == 1 && have_mz) || (kind == 2 && have_intensity)) continue;  // other arrays; first wins
      const char* name = kind == 1 ? "m/z" : "intensity";
      if (!other_compression.empty())
        throw BadRecord{"unsupported compression", std::string(name) + " array: compression " + other_compression};
      if (width == 0)
        throw BadRecord{"unsupported array type",
                        std::string(name) + " array: " +
                            (other_type.empty() ? "no 32-bit or 64-bit float cvParam" : "integer type " + other_type)};
      const pugi::xml_attribute own_length = array.attribute("arrayLength");
      const size_t length = own_length ? array_length(own_length) : default_length;
      const size_t expected = length * width;
      const std::string_view base64 = array.child("binary").child_value();
      std::vector<double>& values = kind == 1 ? mz_ : intensity_;
      if (length == 0 && trim(base64).empty()) {
        values.clear();
      } else {
        decode_base64(base64, name, raw_);
        const std::vector<uint8_t>* bytes = &raw_;
        if (zlib) {
          inflate_exact(raw_, expected, name, inflated_);
          bytes = &inflated_;
        }
        if (bytes->size() != expected)
          throw BadRecord{"array length mismatch", std::string(name) + " array: " + std::to_string(bytes->size()) +
                                                       " bytes decoded, expected " + std::to_string(length) + " x " +
                                                       std::to_string(width)};
        to_doubles(*bytes, width, name, values);
      }
      (kind == 1 ? have_mz : have_intensity) = true;
    }
    if (!have_mz || !have_intensity)
      throw BadRecord{"missing array", !have_mz ? "no m/z array (MS:1000514)" : "no intensity array (MS:1000515)"};
    if (mz_.size() != intensity_.size())
      throw BadRecord{"array length mismatch", std::to_string(mz_.size()) + " m/z values but " +
                                                   std::to_string(intensity_.size()) + " intensities"};

    out.id = current_id_;
    out.index = index;
    out.ms_level = ms_level;
    out.precursor_mz = precursor_mz;
    out.precursor_intensity = precursor_intensity;
    out.precursor_charge = charge;
    out.retention_time_s = rt;
    out.scans = scan_number(out.id);
    out.peptide.clear();
    out.mz.swap(mz_);
    out.intensity.swap(intensity_);
  }

  std::string source_;
  GzHandle file_;
  std::string buf_;          ///< input from the first byte still needed
  bool eof_ = false;         ///< no more input to read into buf_
  size_t pos_ = 0;           ///< scan position in buf_
  size_t elem_start_ = 0;    ///< offset of the open element's '<' in buf_
  bool in_element_ = false;  ///< buf_ must keep the bytes from elem_start_
  bool closed_ = true;       ///< the last element scanned had its end tag
  bool finished_ = false;    ///< the spectrum list has ended (or a file-level error was thrown)
  int64_t index_ = 0;        ///< spectrum elements seen
  std::string current_id_;   ///< id of the element being read, for messages
  std::vector<uint8_t> raw_, inflated_;
  std::vector<double> mz_, intensity_;
};

}  // namespace

std::unique_ptr<SpectrumReader> open_mzml(const std::string& path) { return std::make_unique<MzmlReader>(path); }

std::unique_ptr<SpectrumReader> open_mzml_text(std::string text, std::string source) {
  return std::make_unique<MzmlReader>(std::move(text), std::move(source));
}

}  // namespace strand::bio::spectra
