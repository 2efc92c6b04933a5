#include "bio/spectra/mztab.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"

namespace strand::bio::spectra {
namespace {

constexpr std::string_view kNull = "null";

// ---- text --------------------------------------------------------------------------------------

/// Free text with every tab, CR and LF replaced by a space (they would break the line and field
/// structure).
std::string clean(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return out;
}

/// A name or value inside [label, accession, name, value]: cleaned, '"' -> '\'', '|' -> '/', and
/// double-quoted when it holds a comma.
std::string param_field(std::string_view s) {
  std::string out = clean(s);
  for (char& c : out) {
    if (c == '"') c = '\'';
    if (c == '|') c = '/';
  }
  if (out.find(',') != std::string::npos) out = "\"" + out + "\"";
  return out;
}

std::string param(std::string_view label, std::string_view accession, std::string_view name, std::string_view value) {
  return "[" + std::string(label) + ", " + std::string(accession) + ", " + param_field(name) + ", " +
         param_field(value) + "]";
}

std::string non_finite(double v) {
  if (std::isnan(v)) return "NaN";
  return v > 0 ? "INF" : "-INF";
}

/// Shortest text that reads back as the same double.
std::string shortest(double v) {
  if (!std::isfinite(v)) return non_finite(v);
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

/// Fixed notation with exactly `decimals` decimals.
std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return non_finite(v);
  char buf[512];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals);
  if (r.ec != std::errc()) return shortest(v);
  return std::string(buf, r.ptr);
}

/// m/z: fixed notation, the shortest that round-trips, with at least 6 decimals.
std::string mz_text(double v) {
  if (!std::isfinite(v)) return non_finite(v);
  char buf[512];
  const auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  if (r.ec != std::errc()) return shortest(v);
  std::string s(buf, r.ptr);
  size_t dot = s.find('.');
  if (dot == std::string::npos) {
    dot = s.size();
    s += '.';
  }
  const size_t decimals = s.size() - dot - 1;
  if (decimals < 6) s.append(6 - decimals, '0');
  return s;
}

/// A signed mass shift for CHEMMOD: "+25.980265", "-17.026549" (6 decimals, trailing zeros
/// dropped, at least one decimal kept).
std::string signed_mass(double delta) {
  std::string s = fixed(delta, 6);
  if (!std::isfinite(delta)) return s;
  while (s.size() > 2 && s.back() == '0' && s[s.size() - 2] != '.') s.pop_back();
  if (s[0] != '-') s = "+" + s;
  return s;
}

/// A path as a file:// URI (absolute, '/'-separated, bytes outside [A-Za-z0-9-._~/] percent-encoded);
/// something that already is a URI ("scheme://...") is returned cleaned.
std::string file_uri(const std::string& location) {
  if (location.find("://") != std::string::npos) return clean(location);
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(location, ec);
  if (ec) p = std::filesystem::path(location);
  const std::string path = p.lexically_normal().generic_string();
  static const char* hex = "0123456789ABCDEF";
  std::string out = "file://";
  if (path.empty() || path[0] != '/') out += '/';
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool keep = (u >= 'A' && u <= 'Z') || (u >= 'a' && u <= 'z') || (u >= '0' && u <= '9') || c == '-' ||
                      c == '.' || c == '_' || c == '~' || c == '/';
    if (keep) {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t i = 0; i < suffix.size(); ++i) {
    char a = s[s.size() - suffix.size() + i];
    if (a >= 'A' && a <= 'Z') a = static_cast<char>(a - 'A' + 'a');
    if (a != suffix[i]) return false;
  }
  return true;
}

// ---- modifications -----------------------------------------------------------------------------

struct KnownMod {
  const char* name;
  int unimod;
  double delta;
};
// UNIMOD accessions and monoisotopic mass shifts.
constexpr KnownMod kUnimod[] = {
    {"Acetyl", 1, 42.010565},          {"Carbamidomethyl", 4, 57.021464}, {"Carbamyl", 5, 43.005814},
    {"Deamidated", 7, 0.984016},       {"Phospho", 21, 79.966331},        {"Glu->pyro-Glu", 27, -18.010565},
    {"Gln->pyro-Glu", 28, -17.026549}, {"Methyl", 34, 14.01565},          {"Oxidation", 35, 15.994915},
    {"Dimethyl", 36, 28.0313},         {"Ammonia-loss", 385, -17.026549}};
constexpr double kUnimodTolerance = 0.001;

/// One modification token of the table, as the metadata and the modifications column need it.
struct ModEntry {
  std::string accession;  ///< "UNIMOD:35", "CHEMMOD:+25.980265"
  std::string param;      ///< the MTD parameter
  char site = 0;          ///< residue letter, 0 for the N-terminus
  bool fixed = false;
};

struct ModCatalog {
  std::vector<ModEntry> entries;
  std::vector<int> entry_of_token;  ///< token -> entries index, -1 for an unmodified residue
};

ModCatalog catalog_of(const ResidueTable& table) {
  ModCatalog out;
  const ResidueTable standard({}, false);
  const auto& residues = table.residues();
  out.entry_of_token.assign(residues.size(), -1);
  for (size_t t = 0; t < residues.size(); ++t) {
    const Residue& r = residues[t];
    ModEntry e;
    std::string name;
    double delta = 0;
    if (r.amino_acid == 0) {  // "[Name]-"
      const size_t close = r.token.rfind(']');
      name = r.token.substr(1, close == std::string::npos || close < 1 ? std::string::npos : close - 1);
      delta = r.mass;
    } else if (r.token.size() > 1) {  // "X[Name]"
      const size_t open = r.token.find('[');
      const size_t close = r.token.rfind(']');
      if (open == std::string::npos || close == std::string::npos || close <= open) continue;
      name = r.token.substr(open + 1, close - open - 1);
      const int plain = standard.find(std::string(1, r.amino_acid));
      STRAND_ASSERT(plain >= 0, "residue table token '", r.token, "' of an unknown residue");
      delta = r.mass - standard.residues()[static_cast<size_t>(plain)].mass;
      e.site = r.amino_acid;
      e.fixed = table.find(std::string(1, r.amino_acid)) < 0;  // no unmodified token: fixed
    } else {
      continue;
    }
    for (const auto& k : kUnimod) {
      if (name == k.name && std::abs(delta - k.delta) <= kUnimodTolerance) {
        e.accession = "UNIMOD:" + std::to_string(k.unimod);
        e.param = param("UNIMOD", e.accession, name, "");
        break;
      }
    }
    if (e.accession.empty()) {
      e.accession = "CHEMMOD:" + signed_mass(delta);
      e.param = param("CHEMMOD", e.accession, name, "");
    }
    out.entry_of_token[t] = static_cast<int>(out.entries.size());
    out.entries.push_back(std::move(e));
  }
  return out;
}

// ---- writer ------------------------------------------------------------------------------------

std::string software_param(const MztabHeader& header) {
  const std::string name = header.software_name.empty() ? std::string("Strand") : header.software_name;
  std::string version = header.software_version;
  if (version.empty()) {
    version = strand::version();
    const std::string hash = strand::git_hash();
    if (!hash.empty() && hash != "unknown") version += "+" + hash;
  }
  if (name == "Casanovo") return param("MS", "MS:1003281", name, version);
  return param("", "", name, version);
}

void mtd(std::string& out, std::string_view key, std::string_view value) {
  out += "MTD\t";
  out += key;
  out += '\t';
  out += value;
  out += '\n';
}

std::string metadata(const MztabHeader& header, const ModCatalog& mods, const std::string& software) {
  std::string out;
  mtd(out, "mzTab-version", "1.0.0");
  mtd(out, "mzTab-mode", "Summary");
  mtd(out, "mzTab-type", "Identification");
  const std::string description = clean(header.description);
  mtd(out, "description", description.find_first_not_of(' ') == std::string::npos
                              ? std::string("De novo peptide-spectrum matches")
                              : description);
  mtd(out, "software[1]", software);
  int setting = 0;
  if (!header.command_line.empty())
    mtd(out, "software[1]-setting[" + std::to_string(++setting) + "]", "command_line = " + clean(header.command_line));
  for (const auto& [key, value] : header.settings)
    mtd(out, "software[1]-setting[" + std::to_string(++setting) + "]", clean(key) + " = " + clean(value));
  mtd(out, "psm_search_engine_score[1]", param("MS", "MS:1001143", "search engine specific score for PSMs", ""));
  for (const bool fixed_kind : {true, false}) {
    const std::string kind = fixed_kind ? "fixed_mod[" : "variable_mod[";
    int n = 0;
    for (const auto& e : mods.entries) {
      if (e.fixed != fixed_kind) continue;
      const std::string key = kind + std::to_string(++n) + "]";
      mtd(out, key, e.param);
      mtd(out, key + "-site", e.site == 0 ? std::string("N-term") : std::string(1, e.site));
      mtd(out, key + "-position", e.site == 0 ? "Any N-term" : "Anywhere");
    }
    if (n == 0)
      mtd(out, kind + "1]",
          fixed_kind ? param("MS", "MS:1002453", "No fixed modifications searched", "")
                     : param("MS", "MS:1002454", "No variable modifications searched", ""));
  }
  for (size_t k = 0; k < header.runs.size(); ++k) {
    const std::string key = "ms_run[" + std::to_string(k + 1) + "]";
    const std::string& run = header.runs[k];
    if (ends_with(run, ".mgf") || ends_with(run, ".mgf.gz")) {
      mtd(out, key + "-format", param("MS", "MS:1001062", "Mascot MGF format", ""));
      mtd(out, key + "-id_format", param("MS", "MS:1000774", "multiple peak list nativeID format", ""));
    } else if (ends_with(run, ".mzml") || ends_with(run, ".mzml.gz")) {
      mtd(out, key + "-format", param("MS", "MS:1000584", "mzML format", ""));
    }
    mtd(out, key + "-location", file_uri(run));
  }
  return out;
}

constexpr const char* kColumns[] = {"sequence",
                                    "PSM_ID",
                                    "accession",
                                    "unique",
                                    "database",
                                    "database_version",
                                    "search_engine",
                                    "search_engine_score[1]",
                                    "modifications",
                                    "retention_time",
                                    "charge",
                                    "exp_mass_to_charge",
                                    "calc_mass_to_charge",
                                    "spectra_ref",
                                    "pre",
                                    "post",
                                    "start",
                                    "end",
                                    "opt_global_aa_scores",
                                    "opt_global_cv_MS:1003169_proforma_peptidoform_sequence"};
constexpr const char* kScanColumn = "opt_global_cv_MS:1003057_scan_number";

void check_psm(const Psm& p, size_t i, const MztabHeader& header, const ResidueTable& table) {
  const auto where = [&] {
    return "mzTab: PSM " + std::to_string(i + 1) + " (spectrum " + std::to_string(p.spectrum_index) + ")";
  };
  STRAND_CHECK(p.run >= 1 && static_cast<size_t>(p.run) <= header.runs.size(), where(), ": run ", p.run,
               " is not one of the ", header.runs.size(), " ms_runs");
  STRAND_CHECK(p.charge > 0, where(), ": charge ", p.charge, " is not positive");
  STRAND_CHECK(p.spectrum_index >= 0, where(), ": negative spectrum index");
  size_t residues = 0;
  for (size_t k = 0; k < p.tokens.size(); ++k) {
    const int t = p.tokens[k];
    STRAND_CHECK(t >= 0 && static_cast<size_t>(t) < table.residues().size(), where(), ": token ", t,
                 " is not in the residue table");
    const Residue& r = table.residues()[static_cast<size_t>(t)];
    const bool n_term = r.amino_acid == 0;
    STRAND_CHECK(!n_term || k == 0, where(), ": N-terminal modification '", r.token, "' is not the first token");
    if (!n_term) ++residues;
  }
  STRAND_CHECK(residues > 0, where(), ": the peptide has no residues");
  STRAND_CHECK(p.aa_scores.empty() || p.aa_scores.size() == residues, where(), ": ", p.aa_scores.size(),
               " amino-acid scores for ", residues, " residues");
}

std::string psm_row(const Psm& p, int64_t psm_id, const ResidueTable& table, const ModCatalog& mods,
                    const std::string& software, bool scan_column) {
  const auto& residues = table.residues();
  std::string sequence;
  std::string modifications;
  size_t position = 0;
  for (const int t : p.tokens) {
    const Residue& r = residues[static_cast<size_t>(t)];
    if (r.amino_acid != 0) {
      ++position;
      sequence += r.amino_acid;
    }
    const int e = mods.entry_of_token[static_cast<size_t>(t)];
    if (e < 0) continue;
    if (!modifications.empty()) modifications += ',';
    modifications += std::to_string(position) + "-" + mods.entries[static_cast<size_t>(e)].accession;
  }
  std::string aa_scores;
  for (const double s : p.aa_scores) {
    if (!aa_scores.empty()) aa_scores += ',';
    aa_scores += fixed(s, 5);
  }
  const std::string run = "ms_run[" + std::to_string(p.run) + "]:";
  const std::string spectra_ref = run + (p.native_id.empty() ? "index=" + std::to_string(p.spectrum_index)
                                                             : clean(p.native_id));
  const double calc_mz = mz_of(table.peptide_mass(p.tokens), p.charge);

  std::string row = "PSM";
  const auto field = [&row](std::string_view v) {
    row += '\t';
    row += v;
  };
  field(sequence);
  field(std::to_string(psm_id));
  field(kNull);  // accession
  field(kNull);  // unique
  field(kNull);  // database
  field(kNull);  // database_version
  field(software);
  field(shortest(p.score));
  field(modifications.empty() ? std::string(kNull) : modifications);
  field(p.retention_time_s >= 0 ? shortest(p.retention_time_s) : std::string(kNull));
  field(std::to_string(p.charge));
  field(mz_text(p.exp_mz));
  field(mz_text(calc_mz));
  field(spectra_ref);
  field(kNull);  // pre
  field(kNull);  // post
  field(kNull);  // start
  field(kNull);  // end
  field(aa_scores.empty() ? std::string(kNull) : aa_scores);
  field(table.format(p.tokens));
  if (scan_column) field(p.scans.empty() ? std::string(kNull) : run + "scan=" + clean(p.scans));
  row += '\n';
  return row;
}

/// The input checks of format_mztab / write_mztab (InputError).
void check_input(const MztabHeader& header, const ResidueTable& table, const std::vector<Psm>& psms) {
  STRAND_CHECK(!header.runs.empty(), "mzTab: no ms_run (spectrum file) given");
  for (size_t i = 0; i < psms.size(); ++i) check_psm(psms[i], i, header, table);
}

/// Emits the document in pieces to `sink` (a callable taking std::string_view); the input must
/// have passed check_input.
template <typename Sink>
void emit(const MztabHeader& header, const ResidueTable& table, const std::vector<Psm>& psms, Sink&& sink) {
  const ModCatalog mods = catalog_of(table);
  const std::string software = software_param(header);
  const bool scan_column = std::any_of(psms.begin(), psms.end(), [](const Psm& p) { return !p.scans.empty(); });

  std::string buffer = metadata(header, mods, software);
  buffer += "\nPSH";
  for (const char* c : kColumns) {
    buffer += '\t';
    buffer += c;
  }
  if (scan_column) {
    buffer += '\t';
    buffer += kScanColumn;
  }
  buffer += '\n';

  std::vector<size_t> order(psms.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&psms](size_t a, size_t b) {
    const Psm& x = psms[a];
    const Psm& y = psms[b];
    return x.run != y.run ? x.run < y.run : x.spectrum_index < y.spectrum_index;
  });
  constexpr size_t kFlushBytes = size_t{1} << 20;
  int64_t psm_id = 0;
  for (const size_t i : order) {
    buffer += psm_row(psms[i], ++psm_id, table, mods, software, scan_column);
    if (buffer.size() >= kFlushBytes) {
      sink(std::string_view(buffer));
      buffer.clear();
    }
  }
  if (!buffer.empty()) sink(std::string_view(buffer));
}

// ---- validator helpers -------------------------------------------------------------------------

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t end = s.find(sep, start);
    if (end == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return is_digit(c); });
}

/// An integer as Java's Integer parses it: optional sign, digits.
bool is_integer(std::string_view s) {
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) s.remove_prefix(1);
  return all_digits(s) && s.size() <= 10;
}

/// A decimal number ([+-]digits[.digits][e[+-]digits], or .digits) or NaN / INF / -INF.
bool is_number(std::string_view s) {
  if (s == "NaN" || s == "INF" || s == "-INF") return true;
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t digits = 0;
  while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && is_digit(s[i])) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exponent = 0;
    while (i < s.size() && is_digit(s[i])) ++i, ++exponent;
    if (exponent == 0) return false;
  }
  return i == s.size();
}

/// "[label, accession, name, value]" with four fields (commas inside double quotes do not
/// separate) and a non-empty name.
bool is_param(std::string_view s) {
  s = trim(s);
  if (s.size() < 2 || s.front() != '[' || s.back() != ']') return false;
  s = s.substr(1, s.size() - 2);
  std::vector<std::string_view> fields;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '"') quoted = !quoted;
    if (s[i] == ',' && !quoted) {
      fields.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  fields.push_back(s.substr(start));
  if (fields.size() != 4) return false;
  std::string_view name = trim(fields[2]);
  if (name.size() >= 2 && name.front() == '"' && name.back() == '"') name = trim(name.substr(1, name.size() - 2));
  return !name.empty();
}

/// "word", "word[n]" with n >= 1.
bool is_key_part(std::string_view part) {
  const size_t open = part.find('[');
  const std::string_view word = part.substr(0, open);
  if (word.empty()) return false;
  for (const char c : word)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_')) return false;
  if (open == std::string_view::npos) return true;
  if (part.back() != ']') return false;
  const std::string_view index = part.substr(open + 1, part.size() - open - 2);
  return all_digits(index) && index.find_first_not_of('0') != std::string_view::npos;
}

/// MTD keys: element[n](-sub[n])(-property), e.g. "mzTab-version", "fixed_mod[1]-site",
/// "software[1]-setting[2]".
bool is_mtd_key(std::string_view key) {
  const auto parts = split(key, '-');
  if (parts.size() > 3) return false;
  return std::all_of(parts.begin(), parts.end(), [](std::string_view p) { return is_key_part(p); });
}

/// If `key` is "<element>[n]" exactly (no property), n; else 0.
int element_index(std::string_view key, std::string_view element) {
  if (key.size() < element.size() + 3 || key.substr(0, element.size()) != element || key[element.size()] != '[' ||
      key.back() != ']')
    return 0;
  const std::string_view digits = key.substr(element.size() + 1, key.size() - element.size() - 2);
  if (!all_digits(digits) || digits.size() > 9) return 0;
  int n = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return n;
}

/// "<element>[n]-<property...>": n; else 0.
int element_index_with_property(std::string_view key, std::string_view element) {
  const size_t dash = key.find("]-");
  if (dash == std::string_view::npos) return 0;
  return element_index(key.substr(0, dash + 1), element);
}

bool is_uri(std::string_view s) {
  const size_t colon = s.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size()) return false;
  const char first = s[0];
  if (!((first >= 'a' && first <= 'z') || (first >= 'A' && first <= 'Z'))) return false;
  for (size_t i = 1; i < colon; ++i) {
    const char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '+' || c == '-' || c == '.'))
      return false;
  }
  return s.find(' ') == std::string_view::npos;
}

/// Splits at `sep` outside [...] brackets.
std::vector<std::string_view> split_outside_brackets(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '[') ++depth;
    if (s[i] == ']' && depth > 0) --depth;
    if (s[i] == sep && depth == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

/// One entry of the modifications column; "" when it is valid, else the problem.
std::string modification_problem(std::string_view item, size_t sequence_length) {
  item = trim(item);
  if (item.empty()) return "empty modification";
  size_t i = 0;
  // Positions: n([param])?(|n([param])?)* followed by '-'.
  if (is_digit(item[0])) {
    while (true) {
      const size_t start = i;
      while (i < item.size() && is_digit(item[i])) ++i;
      if (i == start) return "a position is not a number";
      const std::string_view digits = item.substr(start, i - start);
      if (digits.size() > 6) return "position " + std::string(digits) + " is out of range";
      size_t position = 0;
      std::from_chars(digits.data(), digits.data() + digits.size(), position);
      if (position > sequence_length + 1)
        return "position " + std::to_string(position) + " is outside the peptide (length " +
               std::to_string(sequence_length) + ")";
      if (i < item.size() && item[i] == '[') {
        const size_t close = item.find(']', i);
        if (close == std::string_view::npos || !is_param(item.substr(i, close - i + 1)))
          return "malformed position parameter";
        i = close + 1;
      }
      if (i < item.size() && item[i] == '|') {
        ++i;
        continue;
      }
      break;
    }
    if (i >= item.size() || item[i] != '-') return "expected '-' after the position";
    ++i;
  }
  const std::string_view accession = item.substr(i);
  if (!accession.empty() && accession.front() == '[') return is_param(accession) ? "" : "malformed neutral loss";
  const size_t colon = accession.find(':');
  if (colon == std::string_view::npos) return "no {UNIMOD|MOD|CHEMMOD|SUBST}:<id> in '" + std::string(item) + "'";
  const std::string_view kind = accession.substr(0, colon);
  std::string_view id = accession.substr(colon + 1);
  if (kind == "UNIMOD" || kind == "MOD") {
    const size_t bar = id.find('|');
    if (bar != std::string_view::npos) {
      if (!is_param(id.substr(bar + 1))) return "malformed neutral loss";
      id = id.substr(0, bar);
    }
    return all_digits(id) ? "" : std::string(kind) + " accession '" + std::string(id) + "' is not a number";
  }
  if (kind == "CHEMMOD" || kind == "SUBST") return id.empty() ? std::string(kind) + " without a value" : "";
  return "unknown modification kind '" + std::string(kind) + "'";
}

/// Stable PSH columns in specification order; search_engine_score[1-n] stands for the numbered run.
struct PshColumn {
  const char* name;
  bool optional;
};
constexpr PshColumn kPshOrder[] = {
    {"sequence", false},           {"PSM_ID", false},         {"accession", false},
    {"unique", false},             {"database", false},       {"database_version", false},
    {"search_engine", false},      {"search_engine_score", false}, {"reliability", true},
    {"modifications", false},      {"retention_time", false}, {"charge", false},
    {"exp_mass_to_charge", false}, {"calc_mass_to_charge", false}, {"uri", true},
    {"spectra_ref", false},        {"pre", false},            {"post", false},
    {"start", false},              {"end", false}};

bool is_opt_column(std::string_view c) {
  if (c.substr(0, 4) != "opt_") return false;
  c.remove_prefix(4);
  if (c.substr(0, 7) == "global_") return c.size() > 7;
  for (const std::string_view owner : {"ms_run[", "assay[", "study_variable["}) {
    if (c.substr(0, owner.size()) != owner) continue;
    const size_t close = c.find("]_");
    return close != std::string_view::npos && all_digits(c.substr(owner.size(), close - owner.size())) &&
           c.size() > close + 2;
  }
  return false;
}

/// Problem collector with a cap, so a broken large file does not produce millions of messages.
class Problems {
 public:
  void add(std::string message) {
    if (list_.size() < kMax)
      list_.push_back(std::move(message));
    else
      ++dropped_;
  }
  void at(size_t line, const std::string& message) { add("line " + std::to_string(line) + ": " + message); }
  std::vector<std::string> take() {
    if (dropped_ > 0) list_.push_back("... and " + std::to_string(dropped_) + " more problems");
    return std::move(list_);
  }

 private:
  static constexpr size_t kMax = 200;
  std::vector<std::string> list_;
  size_t dropped_ = 0;
};

}  // namespace

Psm psm_for_spectrum(const Spectrum& spectrum, int run, bool native_id) {
  Psm p;
  p.spectrum_index = spectrum.index;
  if (native_id) p.native_id = spectrum.id;
  p.run = run;
  p.scans = spectrum.scans;
  p.charge = spectrum.precursor_charge;
  p.exp_mz = spectrum.precursor_mz;
  p.retention_time_s = spectrum.retention_time_s;
  return p;
}

std::string format_mztab(const MztabHeader& header, const ResidueTable& table, const std::vector<Psm>& psms) {
  check_input(header, table, psms);
  std::string out;
  emit(header, table, psms, [&out](std::string_view piece) { out += piece; });
  return out;
}

void write_mztab(const std::string& path, const MztabHeader& header, const ResidueTable& table,
                 const std::vector<Psm>& psms) {
  // Check the input before creating the temporary file, so bad input leaves nothing behind.
  check_input(header, table, psms);
  io::AtomicFile file(path);
  emit(header, table, psms, [&file](std::string_view piece) { file.write(piece); });
  file.commit();
}

std::vector<std::string> validate_mztab(const std::string& text) {
  Problems problems;
  std::map<std::string, std::string, std::less<>> mtd;
  std::set<int> runs_with_location;
  std::set<int> runs_mentioned;
  bool tables_started = false;
  std::map<std::string, size_t> header_fields;  // "PSH" -> field count
  std::vector<std::string> psh;                 // PSH columns (without the prefix)
  std::map<std::string, size_t, std::less<>> psh_index;
  std::vector<int> score_columns;               // n of each search_engine_score[n] column
  bool have_psh = false;

  const auto column = [&](const std::vector<std::string_view>& fields, std::string_view name) -> std::string_view {
    const auto it = psh_index.find(name);
    return it == psh_index.end() ? std::string_view() : fields[it->second + 1];
  };
  const auto has_column = [&](std::string_view name) { return psh_index.find(name) != psh_index.end(); };

  const auto check_psh = [&](size_t line, const std::vector<std::string_view>& fields) {
    psh.assign(fields.begin() + 1, fields.end());
    std::set<std::string> seen;
    for (size_t i = 0; i < psh.size(); ++i) {
      if (!seen.insert(psh[i]).second) problems.at(line, "PSH column '" + psh[i] + "' appears twice");
      psh_index.emplace(psh[i], i);
    }
    // Stable columns first, then optional ones.
    std::vector<std::string> stable;
    bool in_optional = false;
    for (const auto& c : psh) {
      if (c.rfind("opt_", 0) == 0) {
        in_optional = true;
        if (!is_opt_column(c)) problems.at(line, "malformed optional column name '" + c + "'");
      } else if (in_optional) {
        problems.at(line, "PSH column '" + c + "' comes after the optional (opt_) columns");
      } else {
        stable.push_back(c);
      }
    }
    // Each stable column of the specification present once, in order (positions increasing);
    // search_engine_score[1..n] numbered from 1 and contiguous.
    const auto position_of = [&stable](const std::string& name) -> std::ptrdiff_t {
      const auto it = std::find(stable.begin(), stable.end(), name);
      return it == stable.end() ? -1 : it - stable.begin();
    };
    std::ptrdiff_t last = -1;
    for (const auto& spec : kPshOrder) {
      const std::string name = spec.name;
      if (name == "search_engine_score") {
        const std::ptrdiff_t first = position_of("search_engine_score[1]");
        if (first < 0) {
          problems.at(line, "PSH lacks the required column 'search_engine_score[1]'");
          continue;
        }
        int n = 0;
        for (size_t k = static_cast<size_t>(first);
             k < stable.size() && stable[k] == "search_engine_score[" + std::to_string(n + 1) + "]"; ++k)
          score_columns.push_back(++n);
        if (first < last) problems.at(line, "PSH column 'search_engine_score[1]' is out of the specification's order");
        last = std::max(last, first + n - 1);
        continue;
      }
      const std::ptrdiff_t at = position_of(name);
      if (at < 0) {
        if (!spec.optional) problems.at(line, "PSH lacks the required column '" + name + "'");
        continue;
      }
      if (at < last) problems.at(line, "PSH column '" + name + "' is out of the specification's order");
      last = std::max(last, at);
    }
    for (const auto& c : stable) {
      bool known = false;
      for (const auto& spec : kPshOrder) known = known || (c == spec.name && c != "search_engine_score");
      for (const int n : score_columns) known = known || c == "search_engine_score[" + std::to_string(n) + "]";
      if (!known) problems.at(line, "unknown or misnumbered PSH column '" + c + "'");
    }
  };

  const auto check_psm_row = [&](size_t line, const std::vector<std::string_view>& fields) {
    const std::string_view sequence = column(fields, "sequence");
    const bool letters = !sequence.empty() &&
                         std::all_of(sequence.begin(), sequence.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
    if (has_column("sequence") && !letters)
      problems.at(line, "sequence '" + std::string(sequence) + "' is not a peptide of upper-case letters");
    if (has_column("PSM_ID") && !is_integer(column(fields, "PSM_ID")))
      problems.at(line, "PSM_ID '" + std::string(column(fields, "PSM_ID")) + "' is not an integer");
    if (has_column("unique")) {
      const std::string_view v = column(fields, "unique");
      if (v != kNull && v != "0" && v != "1") problems.at(line, "unique '" + std::string(v) + "' is not null, 0 or 1");
    }
    for (const int n : score_columns) {
      const std::string name = "search_engine_score[" + std::to_string(n) + "]";
      const std::string_view v = column(fields, name);
      if (v != kNull && !is_number(v)) problems.at(line, name + " '" + std::string(v) + "' is not a number");
    }
    for (const char* name : {"exp_mass_to_charge", "calc_mass_to_charge"}) {
      if (!has_column(name)) continue;
      const std::string_view v = column(fields, name);
      if (v != kNull && !is_number(v))
        problems.at(line, std::string(name) + " '" + std::string(v) + "' is not a number");
    }
    if (has_column("retention_time")) {
      const std::string_view v = column(fields, "retention_time");
      if (v != kNull)
        for (const auto part : split(v, '|'))
          if (!is_number(part))
            problems.at(line, "retention_time '" + std::string(v) + "' is not a '|'-list of numbers");
    }
    for (const char* name : {"charge", "start", "end"}) {
      if (!has_column(name)) continue;
      const std::string_view v = column(fields, name);
      if (v != kNull && !is_integer(v))
        problems.at(line, std::string(name) + " '" + std::string(v) + "' is not an integer");
    }
    if (has_column("modifications")) {
      const std::string_view v = column(fields, "modifications");
      if (v != kNull && v != "0")
        for (const auto item : split_outside_brackets(v, ',')) {
          const std::string problem = modification_problem(item, letters ? sequence.size() : size_t{1} << 20);
          if (!problem.empty()) problems.at(line, "modifications '" + std::string(v) + "': " + problem);
        }
    }
    if (has_column("spectra_ref")) {
      const std::string_view v = column(fields, "spectra_ref");
      if (v == kNull || v.empty()) problems.at(line, "spectra_ref is missing");
      else
        for (const auto ref : split(v, '|')) {
          const size_t close = ref.find("]:");
          const int run = close == std::string_view::npos ? 0 : element_index(ref.substr(0, close + 1), "ms_run");
          if (run == 0 || close + 2 >= ref.size())
            problems.at(line, "spectra_ref '" + std::string(ref) + "' is not ms_run[k]:<spectrum reference>");
          else if (runs_with_location.count(run) == 0)
            problems.at(line, "spectra_ref '" + std::string(ref) + "' refers to ms_run[" + std::to_string(run) +
                                  "], which the metadata does not declare");
        }
    }
  };

  size_t line_number = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view line(text.data() + start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim(line).empty()) continue;
    const auto fields = split(line, '\t');
    const std::string_view prefix = fields[0];
    if (prefix == "COM") continue;
    if (prefix == "MTD") {
      if (tables_started) problems.at(line_number, "MTD line after the first table section");
      if (fields.size() != 3) {
        problems.at(line_number,
                    "MTD line has " + std::to_string(fields.size()) + " fields, expected 3 (MTD, key, value)");
        continue;
      }
      const std::string key(trim(fields[1]));
      const std::string_view value = trim(fields[2]);
      if (!is_mtd_key(key)) problems.at(line_number, "malformed MTD key '" + key + "'");
      if (value.empty()) problems.at(line_number, "MTD " + key + " has an empty value");
      if (mtd.count(key) != 0) {
        problems.at(line_number, "MTD " + key + " is defined twice");
        continue;
      }
      mtd.emplace(key, std::string(value));
      for (const char* element : {"software", "fixed_mod", "variable_mod", "psm_search_engine_score",
                                  "protein_search_engine_score", "peptide_search_engine_score",
                                  "smallmolecule_search_engine_score"}) {
        if (element_index(key, element) > 0 && !is_param(value))
          problems.at(line_number, "MTD " + key + " value '" + std::string(value) +
                                       "' is not a parameter [label, accession, name, value] with a name");
      }
      if (const int run = element_index_with_property(key, "ms_run"); run > 0) {
        runs_mentioned.insert(run);
        if (key.size() > 9 && key.substr(key.size() - 9) == "-location") {
          if (is_uri(value))
            runs_with_location.insert(run);
          else
            problems.at(line_number, "MTD " + key + " '" + std::string(value) + "' is not a URI");
        }
      }
      continue;
    }
    static const std::map<std::string_view, std::string_view> kRowHeader = {
        {"PRT", "PRH"}, {"PEP", "PEH"}, {"PSM", "PSH"}, {"SML", "SMH"}};
    const bool is_header = prefix == "PRH" || prefix == "PEH" || prefix == "PSH" || prefix == "SMH";
    const auto row_header = kRowHeader.find(prefix);
    if (!is_header && row_header == kRowHeader.end()) {
      problems.at(line_number, "unknown line prefix '" + std::string(prefix.substr(0, 16)) +
                                   "' (expected MTD, COM, PRH, PRT, PEH, PEP, PSH, PSM, SMH or SML)");
      continue;
    }
    tables_started = true;
    if (is_header) {
      const std::string name(prefix);
      if (header_fields.count(name) != 0) {
        problems.at(line_number, "a second " + name + " header");
        continue;
      }
      header_fields[name] = fields.size();
      if (name == "PSH") {
        have_psh = true;
        check_psh(line_number, fields);
      }
      continue;
    }
    const std::string header(row_header->second);
    const auto it = header_fields.find(header);
    if (it == header_fields.end()) {
      problems.at(line_number, std::string(prefix) + " row before the " + header + " header");
      continue;
    }
    if (fields.size() != it->second) {
      problems.at(line_number, std::string(prefix) + " row has " + std::to_string(fields.size()) + " fields, the " +
                                   header + " has " + std::to_string(it->second));
      continue;
    }
    if (prefix == "PSM") check_psm_row(line_number, fields);
  }

  // Mandatory metadata.
  const auto value_of = [&](const std::string& key) -> const std::string* {
    const auto it = mtd.find(key);
    return it == mtd.end() ? nullptr : &it->second;
  };
  if (const auto* v = value_of("mzTab-version"); v == nullptr)
    problems.add("MTD mzTab-version is missing");
  else if (*v != "1.0.0")
    problems.add("MTD mzTab-version is '" + *v + "', expected 1.0.0");
  const auto* mode = value_of("mzTab-mode");
  if (mode == nullptr)
    problems.add("MTD mzTab-mode is missing");
  else if (*mode != "Summary" && *mode != "Complete")
    problems.add("MTD mzTab-mode is '" + *mode + "', expected Summary or Complete");
  if (const auto* v = value_of("mzTab-type"); v == nullptr)
    problems.add("MTD mzTab-type is missing");
  else if (*v != "Identification" && *v != "Quantification")
    problems.add("MTD mzTab-type is '" + *v + "', expected Identification or Quantification");
  if (value_of("description") == nullptr) problems.add("MTD description is missing");
  if (runs_with_location.empty()) problems.add("MTD ms_run[1-n]-location is missing");
  for (const int run : runs_mentioned)
    if (runs_with_location.count(run) == 0)
      problems.add("MTD ms_run[" + std::to_string(run) + "] has no valid -location");
  std::set<int> fixed_mods;
  std::set<int> variable_mods;
  bool software = false;
  std::set<int> psm_scores;
  for (const auto& [key, value] : mtd) {
    if (const int n = element_index(key, "fixed_mod"); n > 0) fixed_mods.insert(n);
    if (const int n = element_index(key, "variable_mod"); n > 0) variable_mods.insert(n);
    if (element_index(key, "software") > 0) software = true;
    if (const int n = element_index(key, "psm_search_engine_score"); n > 0) psm_scores.insert(n);
  }
  for (const auto& [key, value] : mtd) {
    if (const int n = element_index_with_property(key, "fixed_mod"); n > 0 && fixed_mods.count(n) == 0)
      problems.add("MTD " + key + " without fixed_mod[" + std::to_string(n) + "]");
    if (const int n = element_index_with_property(key, "variable_mod"); n > 0 && variable_mods.count(n) == 0)
      problems.add("MTD " + key + " without variable_mod[" + std::to_string(n) + "]");
  }
  if (fixed_mods.empty())
    problems.add("MTD fixed_mod[1-n] is missing (use [MS, MS:1002453, No fixed modifications searched, ] if none)");
  if (variable_mods.empty())
    problems.add(
        "MTD variable_mod[1-n] is missing (use [MS, MS:1002454, No variable modifications searched, ] if none)");
  if (mode != nullptr && *mode == "Complete" && !software) problems.add("MTD software[1-n] is missing (Complete mode)");
  if (have_psh)
    for (const int n : score_columns)
      if (psm_scores.count(n) == 0)
        problems.add("PSH column search_engine_score[" + std::to_string(n) + "] has no MTD psm_search_engine_score[" +
                     std::to_string(n) + "]");
  return problems.take();
}

}  // namespace strand::bio::spectra
