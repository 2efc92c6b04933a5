// The peak-list text formats, MGF and DTA, read line by line over libseq's text line reader
// (plain, gzip, bgzip).
//
// MGF: outside a spectrum only BEGIN IONS, blank lines, comment lines (# ; ! /) and global
// KEY=VALUE parameters may appear; inside, KEY=VALUE parameters and peak lines until END IONS.
// A record with a problem (a bad number, no PEPMASS, too many peaks, a BEGIN IONS before the
// previous END IONS) is skipped: the reader moves on to the next BEGIN IONS. A file that ends
// inside a spectrum throws ParseError (a truncated file should not pass for a shorter one).
//
// DTA: one spectrum per file, a header line "[M+H]+ charge" and peak lines; blank lines are
// ignored (some files double-space every line). A bad header or peak line makes the file's one
// spectrum a skipped record.
#include <cctype>
#include <cmath>
#include <string>
#include <string_view>
#include <utility>

#include "bio/spectra/masses.h"
#include "bio/spectra/spectrum.h"
#include "bio/spectra/text.h"
#include "libseq/core/error.h"
#include "libseq/io/text_lines.h"

namespace strand::bio::spectra {
namespace {

using detail::parse_double;
using detail::trim;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::toupper(static_cast<unsigned char>(a[i])) != std::toupper(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

/// The next whitespace-separated field of `s` (removed from it); empty at the end.
std::string_view next_field(std::string_view& s) {
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  size_t j = i;
  while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
  const std::string_view field = s.substr(i, j - i);
  s.remove_prefix(j);
  return field;
}


/// The first charge of a CHARGE value: "2+", "2", "3-", "2+ and 3+", "2+,3+" (sign after or
/// before the digits). False when there is none.
bool parse_charge(std::string_view s, int& charge) {
  size_t i = 0;
  int sign = 1;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  const size_t start = i;
  int value = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i - start < 4) value = value * 10 + (s[i++] - '0');
  if (i == start) return false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) sign = s[i++] == '-' ? -1 : 1;
  if (i < s.size() && s[i] >= '0' && s[i] <= '9') return false;  // five digits or more
  const std::string_view rest = trim(s.substr(i));
  if (!rest.empty() && rest.front() != ',' && !(rest.size() >= 3 && iequals(rest.substr(0, 3), "and"))) return false;
  charge = sign * value;
  return true;
}

/// Reads a peak line "m/z intensity" into the spectrum. False for a bad line.
bool read_peak(std::string_view line, Spectrum& s) {
  std::string_view rest = line;
  double mz = 0;
  double intensity = 0;
  const std::string_view a = next_field(rest);
  const std::string_view b = next_field(rest);
  if (!parse_double(a, mz) || mz < 0 || (!b.empty() && (!parse_double(b, intensity) || intensity < 0))) return false;
  s.mz.push_back(mz);
  s.intensity.push_back(intensity);
  return true;
}

class MgfReader final : public SpectrumReader {
 public:
  explicit MgfReader(io::TextLines lines) : lines_(std::move(lines)) {}

  const std::string& source() const noexcept override { return lines_.source(); }

  bool next(Spectrum& out) override {
    std::string_view line;
    while (lines_.next(line)) {
      const std::string_view t = trim(line);
      if (t.empty() || t.front() == '#' || t.front() == ';' || t.front() == '!' || t.front() == '/') continue;
      if (iequals(t, "BEGIN IONS")) {
        if (read_record(out)) {
          ++stats_.spectra;
          return true;
        }
        continue;
      }
      if (t.find('=') != std::string_view::npos) continue;  // a global parameter (e.g. CHARGE=2+ for the file)
      throw ParseError(Location{source(), lines_.line_number(), ""},
                       "expected BEGIN IONS, a KEY=VALUE parameter or a comment between spectra, found '" +
                           std::string(t.substr(0, 60)) + "'");
    }
    return false;
  }

 private:
  /// Reads one spectrum after its BEGIN IONS. False when the record was bad (skipped and counted).
  bool read_record(Spectrum& out) {
    int64_t begin_line = 0;
    int64_t index = 0;
    bool has_pepmass = false;
    std::string problem;  // the first problem of this record, if any
    std::string reason;
    const auto start = [&] {
      begin_line = lines_.line_number();
      index = index_++;
      out = Spectrum{};
      out.index = index;
      has_pepmass = false;
      problem.clear();
    };
    start();
    const auto bad = [&](const char* why, const std::string& detail) {
      if (problem.empty()) {
        reason = why;
        problem = "line " + std::to_string(lines_.line_number()) + ": " + detail;
      }
    };
    std::string_view line;
    while (true) {
      if (!lines_.next(line))
        throw ParseError(Location{source(), begin_line, "spectrum " + std::to_string(index + 1)},
                         "the file ends inside this spectrum (no END IONS): the file is truncated");
      const std::string_view t = trim(line);
      if (t.empty() || t.front() == '#' || t.front() == ';' || t.front() == '!' || t.front() == '/') continue;
      if (iequals(t, "END IONS")) break;
      if (iequals(t, "BEGIN IONS")) {
        // The previous record never ended: skip it and read this one instead.
        skip("BEGIN IONS inside a spectrum", where(begin_line, index, out),
             "BEGIN IONS at line " + std::to_string(lines_.line_number()) + " before the END IONS of this spectrum");
        start();
        continue;
      }
      const size_t eq = t.find('=');
      if (eq != std::string_view::npos && !(t.front() >= '0' && t.front() <= '9')) {
        const std::string_view key = trim(t.substr(0, eq));
        const std::string_view value = trim(t.substr(eq + 1));
        if (iequals(key, "TITLE")) {
          out.id = std::string(value);
        } else if (iequals(key, "PEPMASS")) {
          std::string_view rest = value;
          const std::string_view mz = next_field(rest);
          const std::string_view intensity = next_field(rest);
          if (!parse_double(mz, out.precursor_mz) || out.precursor_mz <= 0 ||
              (!intensity.empty() && !parse_double(intensity, out.precursor_intensity)) || !next_field(rest).empty())
            bad("bad PEPMASS", "PEPMASS must be a positive m/z and an optional intensity, found '" + std::string(value) + "'");
          has_pepmass = true;
        } else if (iequals(key, "CHARGE")) {
          if (!parse_charge(value, out.precursor_charge))
            bad("bad CHARGE", "CHARGE must be a charge such as 2+, found '" + std::string(value) + "'");
        } else if (iequals(key, "SCANS")) {
          out.scans = std::string(value);
        } else if (iequals(key, "RTINSECONDS")) {
          std::string_view rest = value;
          if (!parse_double(next_field(rest), out.retention_time_s) || out.retention_time_s < 0)
            bad("bad RTINSECONDS", "RTINSECONDS must be a non-negative number, found '" + std::string(value) + "'");
        } else if (iequals(key, "SEQ")) {
          out.peptide = std::string(value);
        }
        continue;
      }
      if (static_cast<int64_t>(out.mz.size()) >= kMaxPeaks) {
        bad("too many peaks", "more than " + std::to_string(kMaxPeaks) + " peaks");
      } else if (problem.empty() && !read_peak(t, out)) {
        bad("bad peak line", "expected a peak 'm/z intensity' of non-negative numbers, found '" +
                                 std::string(t.substr(0, 60)) + "'");
      }
    }
    if (problem.empty() && !has_pepmass) bad("no PEPMASS", "the spectrum has no PEPMASS (precursor m/z)");
    if (out.id.empty()) out.id = std::to_string(index);
    if (!problem.empty()) {
      skip(reason, where(begin_line, index, out), problem);
      return false;
    }
    return true;
  }

  std::string where(int64_t line, int64_t index, const Spectrum& s) const {
    return source() + ":" + std::to_string(line) + ": spectrum " + std::to_string(index + 1) +
           (s.id.empty() ? std::string() : " '" + s.id + "'");
  }

  io::TextLines lines_;
  int64_t index_ = 0;
};

class DtaReader final : public SpectrumReader {
 public:
  explicit DtaReader(io::TextLines lines) : lines_(std::move(lines)) {
    const std::string& path = lines_.source();
    std::string name = path.substr(path.find_last_of('/') + 1);
    if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
    stem_ = name.substr(0, name.find_last_of('.'));
  }

  const std::string& source() const noexcept override { return lines_.source(); }

  bool next(Spectrum& out) override {
    if (done_) return false;
    done_ = true;
    std::string_view line;
    while (lines_.next(line)) {
      const std::string_view header = trim(line);
      if (header.empty()) continue;
      const int64_t header_line = lines_.line_number();
      out = Spectrum{};
      out.id = stem_;
      std::string problem;
      std::string reason;
      std::string_view rest = header;
      double mh = 0;
      double charge = 0;
      if (!parse_double(next_field(rest), mh) || mh <= kProton || !parse_double(next_field(rest), charge) ||
          charge < 1 || charge > 1000 || charge != std::floor(charge) || !next_field(rest).empty()) {
        reason = "bad DTA header";
        problem = "expected '[M+H]+ charge' (a mass and a positive whole charge), found '" +
                  std::string(header.substr(0, 60)) + "'";
      }
      while (lines_.next(line)) {
        const std::string_view t = trim(line);
        if (t.empty() || !problem.empty()) continue;
        if (static_cast<int64_t>(out.mz.size()) >= kMaxPeaks) {
          reason = "too many peaks";
          problem = "more than " + std::to_string(kMaxPeaks) + " peaks";
        } else if (!read_peak(t, out)) {
          reason = "bad peak line";
          problem = "line " + std::to_string(lines_.line_number()) +
                    ": expected a peak 'm/z intensity' of non-negative numbers, found '" + std::string(t.substr(0, 60)) + "'";
        }
      }
      if (!problem.empty()) {
        skip(reason, source() + ":" + std::to_string(header_line) + ": spectrum 1", problem);
        return false;
      }
      out.precursor_charge = static_cast<int>(charge);
      out.precursor_mz = (mh - kProton) / charge + kProton;
      ++stats_.spectra;
      return true;
    }
    return false;
  }

 private:
  io::TextLines lines_;
  std::string stem_;
  bool done_ = false;
};

}  // namespace

std::unique_ptr<SpectrumReader> open_mgf(const std::string& path) {
  return std::make_unique<MgfReader>(io::TextLines::open(path));
}

std::unique_ptr<SpectrumReader> open_mgf_text(std::string text, std::string source) {
  return std::make_unique<MgfReader>(io::TextLines::from_string(std::move(text), std::move(source)));
}

std::unique_ptr<SpectrumReader> open_dta(const std::string& path) {
  return std::make_unique<DtaReader>(io::TextLines::open(path));
}

std::unique_ptr<SpectrumReader> open_dta_text(std::string text, std::string source) {
  return std::make_unique<DtaReader>(io::TextLines::from_string(std::move(text), std::move(source)));
}

}  // namespace strand::bio::spectra
