#include "chem/molio.h"

#include <GraphMol/Depictor/RDDepictor.h>
#include <GraphMol/FileParsers/FileParsers.h>
#include <GraphMol/GraphMol.h>
#include <GraphMol/MolStandardize/MolStandardize.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <set>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/text_lines.h"

namespace strand::chem {
namespace {

// RDKit reports problems on its own error log as well as through return values and exceptions;
// strand reports them itself, so RDKit's copy is switched off once.
void silence_rdkit() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])) != 0) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])) != 0) --e;
  return std::string(s.substr(b, e - b));
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// The column among `header` named like one of `names` (any case); -1 if none.
int find_column(const std::vector<std::string>& header, const std::vector<std::string>& names) {
  for (const auto& n : names)
    for (size_t i = 0; i < header.size(); ++i)
      if (lower(trim(header[i])) == n) return static_cast<int>(i);
  return -1;
}

constexpr size_t kMaxSdfRecordBytes = size_t{64} << 20;

}  // namespace

std::unique_ptr<RDKit::RWMol> parse_smiles(std::string_view smiles, std::string* why) {
  silence_rdkit();
  try {
    std::unique_ptr<RDKit::RWMol> mol(RDKit::SmilesToMol(std::string(smiles)));
    if (mol == nullptr && why != nullptr) *why = "RDKit cannot parse the SMILES (syntax error)";
    return mol;
  } catch (const std::exception& e) {
    if (why != nullptr) *why = e.what();
  } catch (...) {
    if (why != nullptr) *why = "RDKit failed on the SMILES";
  }
  return nullptr;
}

std::string to_smiles(const RDKit::ROMol& mol, const SmilesStyle& style) {
  return RDKit::MolToSmiles(mol, style.isomeric, style.kekule, -1, style.canonical);
}

std::unique_ptr<RDKit::RWMol> standardize(const RDKit::ROMol& mol) {
  silence_rdkit();
  try {
    const RDKit::RWMol copy(mol);
    std::unique_ptr<RDKit::RWMol> out(RDKit::MolStandardize::chargeParent(copy));
    if (out == nullptr) throw InputError("standardisation produced no molecule");
    return out;
  } catch (const InputError&) {
    throw;
  } catch (const std::exception& e) {
    throw InputError(std::string("standardisation failed: ") + e.what());
  }
}

std::string MoleculeReadStats::summary() const {
  std::string s = std::to_string(records) + " records, " + std::to_string(ok) + " read, " + std::to_string(skipped) +
                  " skipped";
  for (size_t i = 0; i < problems.size(); ++i)
    s += (i == 0 ? " (" : "; ") + std::string("record ") + std::to_string(problems[i].record) + ", line " +
         std::to_string(problems[i].line) + ": " + problems[i].message + (i + 1 == problems.size() ? ")" : "");
  if (skipped > static_cast<int64_t>(problems.size())) s += " and " + std::to_string(skipped - static_cast<int64_t>(problems.size())) + " more";
  return s;
}

MoleculeFormat molecule_format(const std::string& path) {
  std::string p = lower(path);
  if (ends_with(p, ".gz")) p.resize(p.size() - 3);
  for (const char* e : {".smi", ".smiles", ".txt"})
    if (ends_with(p, e)) return MoleculeFormat::Smi;
  if (ends_with(p, ".csv")) return MoleculeFormat::Csv;
  if (ends_with(p, ".tsv")) return MoleculeFormat::Tsv;
  for (const char* e : {".sdf", ".sd", ".mol"})
    if (ends_with(p, e)) return MoleculeFormat::Sdf;
  throw InputError(path + ": unknown molecule file type; expected .smi, .smiles, .txt, .csv, .tsv, .sdf, .sd or .mol "
                          "(optionally .gz)");
}

// ---------------------------------------------------------------------------------------------

struct MoleculeReader::Impl {
  MoleculeFormat format;
  io::TextLines lines;
  MoleculeReadOptions options;
  MoleculeReadStats stats;
  bool header_done = false;
  std::vector<std::string> header;
  int smiles_col = -1;
  int name_col = -1;
  std::string pending;  ///< SDF: a line read ahead

  Impl(const std::string& path, MoleculeReadOptions o)
      : format(molecule_format(path)), lines(io::TextLines::open(path)), options(std::move(o)) {}

  void problem(int64_t record, int64_t line, std::string message) {
    ++stats.skipped;
    if (stats.problems.size() < options.max_problems) stats.problems.push_back({record, line, std::move(message)});
  }

  /// Parses, standardises and styles; false (with a problem recorded) when the molecule is bad.
  bool finish(std::unique_ptr<RDKit::RWMol> mol, const std::string& why, MoleculeRecord& out) {
    if (mol == nullptr) {
      problem(out.record, out.line, why);
      return false;
    }
    try {
      std::shared_ptr<const RDKit::ROMol> m = options.standardize ? std::shared_ptr<const RDKit::ROMol>(standardize(*mol))
                                                                  : std::shared_ptr<const RDKit::ROMol>(std::move(mol));
      out.smiles = to_smiles(*m, options.style);
      out.mol = std::move(m);
    } catch (const std::exception& e) {
      problem(out.record, out.line, e.what());
      return false;
    }
    ++stats.ok;
    return true;
  }

  /// The column `spec` names: a header name (any case) or a 1-based number; -1 if none.
  int column_of(const std::string& spec) const {
    if (!spec.empty() && spec.find_first_not_of("0123456789") == std::string::npos && spec.size() < 6) {
      const int k = std::stoi(spec);
      return k >= 1 && k <= static_cast<int>(header.size()) ? k - 1 : -1;
    }
    return find_column(header, {lower(spec)});
  }

  void read_header(std::string_view line) {
    std::vector<std::string> fields;
    if (format == MoleculeFormat::Csv)
      io::split_csv(lines, std::string(line), fields);
    else
      io::split_tsv(line, fields);
    header = fields;
    if (!options.header)
      for (size_t i = 0; i < header.size(); ++i) header[i] = std::to_string(i + 1);
    smiles_col = options.smiles_column.empty() ? find_column(header, {"smiles", "canonical_smiles", "isomeric_smiles", "smi"})
                                               : column_of(options.smiles_column);
    if (smiles_col < 0) {
      std::string names;
      for (const auto& h : header) names += (names.empty() ? "" : ", ") + h;
      throw ParseError(Location{lines.source(), lines.line_number(), ""},
                       options.header ? "expected a header with a SMILES column (" +
                                            (options.smiles_column.empty() ? std::string("smiles, canonical_smiles, isomeric_smiles or smi")
                                                                           : "'" + options.smiles_column + "'") +
                                            "), found: " + names
                                      : "without a header, give the SMILES column by number (1.." +
                                            std::to_string(header.size()) + ")");
    }
    name_col = options.name_column.empty()
                   ? find_column(header, {"name", "id", "title", "mol_id", "compound_id", "molecule_id"})
                   : column_of(options.name_column);
    if (!options.name_column.empty() && name_col < 0)
      throw ParseError(Location{lines.source(), lines.line_number(), ""},
                       "no name column '" + options.name_column + "'");
  }

  bool next_table(MoleculeRecord& out) {
    std::string_view line;
    std::vector<std::string> fields;
    while (lines.next(line)) {
      if (trim(line).empty()) continue;
      if (!header_done) {
        read_header(line);
        header_done = true;
        if (options.header) continue;  // otherwise the first line is a record too
      }
      out = MoleculeRecord{};
      out.record = ++stats.records;
      out.line = lines.line_number();
      try {
        if (format == MoleculeFormat::Csv)
          io::split_csv(lines, std::string(line), fields);
        else
          io::split_tsv(line, fields);
      } catch (const ParseError& e) {
        problem(out.record, out.line, e.detail());
        continue;
      }
      // Missing trailing cells are empty ones (spreadsheets and many exporters drop them), as
      // long as the SMILES and name columns are there; more cells than columns misalign the row.
      const size_t needed = static_cast<size_t>(std::max(smiles_col, name_col)) + 1;
      if (fields.size() > header.size() || fields.size() < needed) {
        problem(out.record, out.line,
                "expected " + std::to_string(header.size()) + " fields, found " + std::to_string(fields.size()));
        continue;
      }
      const std::string smiles = trim(fields[static_cast<size_t>(smiles_col)]);
      if (name_col >= 0) out.name = trim(fields[static_cast<size_t>(name_col)]);
      for (size_t i = 0; i < fields.size(); ++i)
        if (static_cast<int>(i) != smiles_col && static_cast<int>(i) != name_col && !fields[i].empty())
          out.properties[trim(header[i])] = fields[i];  // an empty cell is an absent property
      if (smiles.empty()) {
        problem(out.record, out.line, "empty SMILES");
        continue;
      }
      std::string why;
      auto mol = parse_smiles(smiles, &why);
      if (finish(std::move(mol), "'" + smiles + "': " + why, out)) return true;
    }
    return false;
  }

  bool next_smi(MoleculeRecord& out) {
    std::string_view line;
    while (lines.next(line)) {
      const std::string text = trim(line);
      if (text.empty() || text[0] == '#') continue;
      size_t e = 0;
      while (e < text.size() && std::isspace(static_cast<unsigned char>(text[e])) == 0) ++e;
      const std::string smiles = text.substr(0, e);
      if (!header_done) {
        header_done = true;
        if (lower(smiles) == "smiles") continue;  // a title line
      }
      out = MoleculeRecord{};
      out.record = ++stats.records;
      out.line = lines.line_number();
      out.name = trim(std::string_view(text).substr(e));
      std::string why;
      auto mol = parse_smiles(smiles, &why);
      if (finish(std::move(mol), "'" + smiles + "': " + why, out)) return true;
    }
    return false;
  }

  bool next_sdf(MoleculeRecord& out) {
    std::string_view line;
    while (true) {
      std::vector<std::string> record;
      size_t bytes = 0;
      int64_t first_line = 0;
      bool any = false;
      bool ended = false;
      bool oversized = false;
      while (lines.next(line)) {
        if (first_line == 0) first_line = lines.line_number();
        if (line.substr(0, 4) == "$$$$") {
          ended = true;
          break;
        }
        any = any || !trim(line).empty();
        bytes += line.size() + 1;
        if (bytes > kMaxSdfRecordBytes) {
          oversized = true;
          continue;  // skip to the record's end, keeping memory bounded
        }
        record.emplace_back(line);
      }
      if (!ended && !any) return false;  // end of file (trailing blank lines)
      out = MoleculeRecord{};
      out.record = ++stats.records;
      out.line = first_line;
      if (oversized) {
        problem(out.record, out.line, "record longer than " + std::to_string(kMaxSdfRecordBytes >> 20) + " MiB");
        continue;
      }
      // The molecule block ends at "M  END"; data items follow as "> <NAME>" + value lines.
      std::string block;
      size_t i = 0;
      for (; i < record.size(); ++i) {
        block += record[i];
        block += '\n';
        if (record[i].compare(0, 6, "M  END") == 0) {
          ++i;
          break;
        }
      }
      while (i < record.size()) {
        const std::string& l = record[i++];
        if (l.empty() || l[0] != '>') continue;
        const size_t a = l.find('<');
        const size_t b = l.find('>', a == std::string::npos ? 1 : a);
        if (a == std::string::npos || b == std::string::npos) continue;
        std::string value;
        while (i < record.size() && !record[i].empty()) value += (value.empty() ? "" : "\n") + record[i++];
        out.properties[l.substr(a + 1, b - a - 1)] = value;
      }
      out.name = record.empty() ? "" : trim(record[0]);
      std::unique_ptr<RDKit::RWMol> mol;
      std::string why = "RDKit cannot read the molecule block";
      silence_rdkit();
      try {
        mol.reset(RDKit::MolBlockToMol(block, true, true, true));
      } catch (const std::exception& e) {
        why = e.what();
      } catch (...) {
      }
      if (!ended) why += " (the file ends inside this record, without $$$$)";
      if (finish(std::move(mol), why, out)) return true;
    }
  }
};

MoleculeReader::MoleculeReader(const std::string& path, MoleculeReadOptions options)
    : impl_(std::make_unique<Impl>(path, std::move(options))) {}

MoleculeReader::~MoleculeReader() = default;

bool MoleculeReader::next(MoleculeRecord& out) {
  switch (impl_->format) {
    case MoleculeFormat::Smi: return impl_->next_smi(out);
    case MoleculeFormat::Sdf: return impl_->next_sdf(out);
    default: return impl_->next_table(out);
  }
}

const MoleculeReadStats& MoleculeReader::stats() const { return impl_->stats; }

std::vector<MoleculeRecord> read_molecules(const std::string& path, const MoleculeReadOptions& options,
                                           MoleculeReadStats* stats) {
  MoleculeReader reader(path, options);
  std::vector<MoleculeRecord> out;
  MoleculeRecord r;
  while (reader.next(r)) out.push_back(std::move(r));
  if (stats != nullptr) *stats = reader.stats();
  return out;
}

// ---------------------------------------------------------------------------------------------

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (const char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string tsv_field(std::string s) {
  for (auto& c : s)
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  return s;
}

}  // namespace

void write_molecules(const std::string& path, const std::vector<MoleculeRecord>& records) {
  if (ends_with(lower(path), ".gz")) throw InputError(path + ": molecule files are written uncompressed; drop the .gz");
  const MoleculeFormat format = molecule_format(path);
  io::AtomicFile file(path);
  std::vector<std::string> props;
  std::set<std::string> seen;
  for (const auto& r : records)
    for (const auto& [k, v] : r.properties)
      if (seen.insert(k).second) props.push_back(k);
  if (format == MoleculeFormat::Csv || format == MoleculeFormat::Tsv) {
    const bool csv = format == MoleculeFormat::Csv;
    const std::string sep = csv ? "," : "\t";
    const auto field = [csv](const std::string& s) { return csv ? csv_field(s) : tsv_field(s); };
    std::string line = "smiles" + sep + "name";
    for (const auto& p : props) line += sep + field(p);
    file.write(line + "\n");
    for (const auto& r : records) {
      line = field(r.smiles) + sep + field(r.name);
      for (const auto& p : props) {
        const auto it = r.properties.find(p);
        line += sep + (it == r.properties.end() ? std::string() : field(it->second));
      }
      file.write(line + "\n");
    }
  } else if (format == MoleculeFormat::Smi) {
    for (const auto& r : records) file.write(r.smiles + (r.name.empty() ? "" : " " + tsv_field(r.name)) + "\n");
  } else {
    for (size_t i = 0; i < records.size(); ++i) {
      const MoleculeRecord& r = records[i];
      std::unique_ptr<RDKit::RWMol> mol;
      if (r.mol != nullptr) {
        mol = std::make_unique<RDKit::RWMol>(*r.mol);
      } else {
        std::string why;
        mol = parse_smiles(r.smiles, &why);
        if (mol == nullptr) throw InputError(path + ": molecule " + std::to_string(i + 1) + " ('" + r.smiles + "'): " + why);
      }
      if (mol->getNumConformers() == 0) RDDepict::compute2DCoords(*mol);
      std::string title = r.name;
      std::replace(title.begin(), title.end(), '\n', ' ');
      mol->setProp<std::string>("_Name", title);
      std::string block = RDKit::MolToMolBlock(*mol);
      for (const auto& [k, v] : r.properties) block += "> <" + k + ">\n" + v + "\n\n";
      file.write(block + "$$$$\n");
    }
  }
  file.commit();
}

}  // namespace strand::chem
