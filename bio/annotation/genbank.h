// GenBank flat files (INSDC feature table format): LOCUS, FEATURES with locations and qualifiers,
// ORIGIN sequence, records ended by '//'. Other sections (DEFINITION, ACCESSION, REFERENCE, ...)
// are skipped except DEFINITION and ACCESSION, which are kept as text.
//
// Locations (INSDC feature table definition 11.x, section 3.4): `a..b`, a single base `a`, a
// site between two bases `a^b`, partial ends `<a..b` / `a..>b`, and the operators
// complement(...), join(...) and order(...) nested in any way. They are resolved into parts in
// biological order: complement(join(1..10,20..30)) gives 20..30 then 1..10, both on '-'. Remote
// locations (`J00194.1:100..202`) and operators nested more than 32 deep are rejected.
// Coordinates are 0-based half-open in the parts.
//
// Errors (ParseError naming the source, the line and what was expected and found): a record that
// does not start with LOCUS, a LOCUS line without a name or length, a feature line outside the
// FEATURES block, a malformed or remote location, a location part that starts after it ends or
// ends past the record length, a qualifier without '/', an unterminated quoted value, an ORIGIN
// line with characters other than digits, spaces and letters, a sequence whose length differs
// from the LOCUS length, or a file that ends inside a record (no '//'). Thread-safe functions;
// records are held in memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libseq/io/text_lines.h"

namespace strand::bio::annotation {

struct LocationPart {
  int64_t begin = 0;           ///< 0-based first base (for a site a^b: the base after the site)
  int64_t end = 0;             ///< 0-based exclusive end (== begin for a site)
  char strand = '+';           ///< '+' or '-' (inside complement(...))
  bool partial_begin = false;  ///< '<' on the first base (in file coordinates)
  bool partial_end = false;    ///< '>' on the last base (in file coordinates)
};

/// Parses a location string (spaces ignored). `where` gives the file/line for errors.
std::vector<LocationPart> parse_location(std::string_view text, const std::string& source, int64_t line);

/// The bases a location covers, spliced in biological order: '-' parts are reverse-complemented
/// (IUPAC codes kept; see bio/alphabet.h). Throws InputError when a part lies outside `seq`.
std::string location_sequence(const std::vector<LocationPart>& parts, std::string_view seq);

struct GenBankFeature {
  std::string key;                        ///< CDS, gene, mRNA, source, ...
  std::string location;                   ///< as written (continuation lines joined)
  std::vector<LocationPart> parts;        ///< resolved location
  std::vector<std::pair<std::string, std::string>> qualifiers;  ///< in file order; value "" for /flag
  int64_t line = 0;                       ///< line of the feature key

  /// First value of qualifier `name` (quotes removed, "" unescaped), or "" when absent.
  const std::string& qualifier(const std::string& name) const;
  bool has_qualifier(const std::string& name) const;
};

struct GenBankRecord {
  std::string name;        ///< LOCUS name
  int64_t length = 0;      ///< LOCUS length (bp or aa)
  std::string molecule;    ///< LOCUS molecule type word after the unit (DNA, RNA, mRNA, ...), may be empty
  std::string definition;
  std::string accession;
  std::vector<GenBankFeature> features;
  std::string sequence;    ///< ORIGIN letters as written (GenBank writes lower case)
  int64_t line = 0;        ///< line of LOCUS
};

/// Reads every record of a line source.
std::vector<GenBankRecord> parse_genbank(strand::io::TextLines& lines);
/// Reads a GenBank file (plain, gzip or bgzip). IoError when it cannot be opened.
std::vector<GenBankRecord> read_genbank(const std::string& path);

}  // namespace strand::bio::annotation
