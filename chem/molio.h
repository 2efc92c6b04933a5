// Molecule files through RDKit's C++ API: SMILES files (.smi: "SMILES name"; .csv/.tsv with a
// header, a SMILES column, an optional name column and any property columns) and SD files
// (.sdf/.sd/.mol with data items), plain or gzip, read as a stream; written atomically.
//
// A bad molecule never aborts a batch: the reader skips it, counts it and keeps the first problems
// (record index, line, what RDKit said). Only an unreadable file, a missing SMILES column or
// corrupt compression ends a read with an exception. RDKit's own error log is silenced; its
// messages come back through the problems list instead.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace RDKit {
class ROMol;
class RWMol;
}  // namespace RDKit

namespace strand::chem {

/// Parses and sanitises SMILES with RDKit. Returns null for a syntax error or a chemistry error
/// RDKit throws (valence, kekulization, ...) and, if `why` is given, sets it to the reason. An
/// empty string is an empty molecule (not null). Never throws for bad SMILES; thread-safe.
std::unique_ptr<RDKit::RWMol> parse_smiles(std::string_view smiles, std::string* why = nullptr);

struct SmilesStyle {
  bool canonical = true;  ///< RDKit canonical atom order
  bool kekule = false;    ///< Kekulé form instead of aromatic lower case
  bool isomeric = true;   ///< keep stereo and isotopes
};

/// SMILES of a molecule.
std::string to_smiles(const RDKit::ROMol& mol, const SmilesStyle& style = {});

/// RDKit MolStandardize "charge parent": cleanup (hydrogens, metal disconnection, normalisation,
/// reionisation), the largest organic fragment, then neutralised. Throws InputError with RDKit's
/// reason when it fails.
std::unique_ptr<RDKit::RWMol> standardize(const RDKit::ROMol& mol);

struct MoleculeRecord {
  int64_t record = 0;  ///< 1-based index among the file's records (header excluded)
  int64_t line = 0;    ///< 1-based line where the record starts
  std::string name;    ///< .smi second field, CSV/TSV name column, SDF title line
  std::string smiles;  ///< as styled by MoleculeReadOptions (canonical by default)
  std::map<std::string, std::string> properties;  ///< other CSV/TSV columns (empty cells left out), SDF data items
  std::shared_ptr<const RDKit::ROMol> mol;        ///< the parsed (and standardised) molecule
};

struct MoleculeReadOptions {
  /// CSV/TSV column holding SMILES, by header name or 1-based number; empty = the first of smiles,
  /// canonical_smiles, isomeric_smiles, smi (any case).
  std::string smiles_column;
  /// CSV/TSV name column, by header name or 1-based number; empty = the first of name, id, title,
  /// mol_id, compound_id, molecule_id (any case), else none.
  std::string name_column;
  /// CSV/TSV: the first line is a header. Without one, columns are named by number ("1", "2",
  /// ...) and smiles_column must be given.
  bool header = true;
  SmilesStyle style;
  bool standardize = false;  ///< apply standardize() to every molecule
  size_t max_problems = 20;  ///< problems kept in MoleculeReadStats (all are counted)
};

struct ReadProblem {
  int64_t record = 0;
  int64_t line = 0;
  std::string message;
};

struct MoleculeReadStats {
  int64_t records = 0;  ///< records seen
  int64_t ok = 0;       ///< records returned
  int64_t skipped = 0;  ///< records skipped as bad
  std::vector<ReadProblem> problems;  ///< the first max_problems of them
  /// "N records, K read, S skipped (record 3, line 7: ...; ...)".
  std::string summary() const;
};

enum class MoleculeFormat { Smi, Csv, Tsv, Sdf };

/// The format a path's extension names (.smi .smiles .txt / .csv / .tsv / .sdf .sd .mol, each
/// optionally .gz). Throws InputError naming the extensions understood.
MoleculeFormat molecule_format(const std::string& path);

/// Streams the molecules of a file.
class MoleculeReader {
 public:
  /// Throws IoError when the file cannot be opened, ParseError when a CSV/TSV header has no
  /// SMILES column, InputError for an unknown extension.
  explicit MoleculeReader(const std::string& path, MoleculeReadOptions options = {});
  ~MoleculeReader();
  MoleculeReader(const MoleculeReader&) = delete;
  MoleculeReader& operator=(const MoleculeReader&) = delete;

  /// The next good molecule; false at the end of the file. Bad records are skipped and counted.
  bool next(MoleculeRecord& out);
  const MoleculeReadStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Every good molecule of a file (see MoleculeReader); `stats` receives the counts.
std::vector<MoleculeRecord> read_molecules(const std::string& path, const MoleculeReadOptions& options = {},
                                           MoleculeReadStats* stats = nullptr);

/// Writes molecules to `path` atomically, in the format of its extension (no .gz): .smi "SMILES
/// name" lines; .csv/.tsv with a header smiles,name,<properties...> (the union of all records'
/// property names, in first-seen order); .sdf with 2D coordinates, the name as title and the
/// properties as data items. Records without a molecule are written from their SMILES.
void write_molecules(const std::string& path, const std::vector<MoleculeRecord>& records);

}  // namespace strand::chem
