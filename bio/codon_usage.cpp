#include "bio/codon_usage.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <vector>

#include "bio/alphabet.h"
#include "bio/genetic_code.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace strand::bio {
namespace {

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    const size_t start = i;
    while (i < line.size() && !std::isspace(static_cast<unsigned char>(line[i]))) ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool parse_real(std::string_view field, double& out) {
  const std::string text(field);
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && std::isfinite(out);
}

bool parse_count(std::string_view field, int64_t& out) {
  if (field.empty() || field.size() > 18) return false;
  out = 0;
  for (const char c : field) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

}  // namespace

CodonUsage CodonUsage::parse_emboss(std::string_view text, const std::string& source) {
  CodonUsage usage;
  usage.source_ = source;
  std::array<bool, 64> seen{};
  int64_t line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t eol = text.find('\n', pos);
    std::string_view line = text.substr(pos, eol == std::string_view::npos ? std::string_view::npos : eol - pos);
    pos = eol == std::string_view::npos ? text.size() : eol + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const Location where{source, line_no, ""};
    if (trim(line).empty()) continue;
    if (line.front() == '#') {
      const std::string_view body = line.substr(1);
      const size_t colon = body.find(':');
      if (colon != std::string_view::npos) {
        const std::string_view key = trim(body.substr(0, colon));
        if (!key.empty() && split_fields(key).size() == 1) {
          usage.metadata_[std::string(key)] = std::string(trim(body.substr(colon + 1)));
        }
      }
      continue;
    }
    const std::vector<std::string_view> f = split_fields(line);
    STRAND_CHECK_AT(ParseError, where, f.size() == 5,
                    "[codon usage] expected 5 fields (codon, amino acid, fraction, frequency per thousand, "
                    "count), found ", f.size(), ": '", line, "'");
    std::string codon(f[0]);
    bool codon_ok = codon.size() == 3;
    for (char& c : codon) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      if (c == 'U') c = 'T';
      codon_ok = codon_ok && (c == 'A' || c == 'C' || c == 'G' || c == 'T');
    }
    STRAND_CHECK_AT(ParseError, where, codon_ok, "[codon usage] expected a codon of 3 bases (A, C, G, T, U), found '",
                    f[0], "'");
    const char aa = f[1].size() == 1 ? static_cast<char>(std::toupper(static_cast<unsigned char>(f[1][0]))) : 0;
    STRAND_CHECK_AT(ParseError, where, (aa >= 'A' && aa <= 'Z') || aa == '*',
                    "[codon usage] expected a one-letter amino acid or '*' for codon ", codon, ", found '", f[1], "'");
    CodonUsageEntry entry;
    entry.codon = codon;
    entry.amino_acid = aa;
    entry.line = line_no;
    STRAND_CHECK_AT(ParseError, where, parse_real(f[2], entry.fraction) && entry.fraction >= 0 && entry.fraction <= 1,
                    "[codon usage] expected a fraction between 0 and 1 for codon ", codon, ", found '", f[2], "'");
    STRAND_CHECK_AT(ParseError, where, parse_real(f[3], entry.per_thousand) && entry.per_thousand >= 0,
                    "[codon usage] expected a non-negative frequency per thousand for codon ", codon, ", found '", f[3],
                    "'");
    STRAND_CHECK_AT(ParseError, where, parse_count(f[4], entry.count),
                    "[codon usage] expected a non-negative integer count for codon ", codon, ", found '", f[4], "'");
    const int index = codon_index(codon);
    STRAND_CHECK_AT(ParseError, where, !seen[index], "[codon usage] codon ", codon, " appears twice (first at line ",
                    usage.entries_[index].line, ")");
    seen[index] = true;
    usage.entries_[index] = std::move(entry);
  }
  std::string missing;
  int n_missing = 0;
  for (int i = 0; i < 64; ++i) {
    if (seen[i]) continue;
    missing += (missing.empty() ? "" : ", ") + codons_tcag()[i];
    ++n_missing;
  }
  STRAND_CHECK_AT(ParseError, (Location{source, -1, ""}), n_missing == 0, "[codon usage] all 64 codons are required; ",
                  n_missing, " missing: ", missing);
  return usage;
}

CodonUsage CodonUsage::read_emboss(const std::string& path) { return parse_emboss(io::read_file(path), path); }

const CodonUsageEntry& CodonUsage::entry(std::string_view codon) const { return entries_[codon_index(codon)]; }

bool CodonUsage::more_used(const CodonUsageEntry& a, const CodonUsageEntry& b) {
  if (a.count != b.count) return a.count > b.count;
  return a.per_thousand > b.per_thousand;
}

std::string CodonUsage::most_frequent_codon(char amino_acid) const {
  const char aa = static_cast<char>(std::toupper(static_cast<unsigned char>(amino_acid)));
  const CodonUsageEntry* best = nullptr;
  for (const CodonUsageEntry& e : entries_) {
    if (e.amino_acid == aa && (best == nullptr || more_used(e, *best))) best = &e;
  }
  STRAND_CHECK(best != nullptr, "codon usage '", source_, "' assigns no codon to amino acid ",
               describe_char(amino_acid));
  return best->codon;
}

std::string CodonUsage::most_frequent_codon(char amino_acid, const GeneticCode& code) const {
  const std::vector<std::string> codons = code.codons_for(amino_acid);
  STRAND_CHECK(!codons.empty(), "genetic code ", code.id(), " (", code.name(), ") has no codon for amino acid ",
               describe_char(amino_acid));
  const CodonUsageEntry* best = nullptr;
  for (const std::string& codon : codons) {
    const CodonUsageEntry& e = entry(codon);
    if (best == nullptr || more_used(e, *best)) best = &e;
  }
  return best->codon;
}

}  // namespace strand::bio
