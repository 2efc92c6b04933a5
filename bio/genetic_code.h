// NCBI genetic codes ("translation tables").
//
// The library embeds every table of NCBI's gc.prt version 4.2 (ids 1-6, 9-16, 21-31) in one
// constants table. Each table is two 64-letter strings over the codons in TCAG order (first base
// slowest: TTT, TTC, TTA, TTG, TCT, ..., GGG):
//   ncbieaa   the amino acid of each codon, '*' for a stop;
//   sncbieaa  'M' for a codon that can initiate, '*' for a codon that can terminate, '-' otherwise.
// In tables 27, 28 and 31 some codons are both: ncbieaa gives an amino acid and sncbieaa marks
// them '*', because they terminate only at the end of a coding sequence. translate() returns the
// amino acid; is_stop() reports the terminator mark.
//
// gc.prt itself (ASN.1 value notation, shipped by NCBI and by Debian's ncbi-data at
// /usr/share/ncbi/data/gc.prt) can be read with parse_gc_prt / read_gc_prt, and a GeneticCode
// can be built from any parsed table.
//
// GeneticCode objects are immutable after construction; every member is thread-safe.
#pragma once

#include <array>
#include <bitset>
#include <string>
#include <string_view>
#include <vector>

namespace strand::bio {

/// One table as written in gc.prt.
struct GeneticCodeTable {
  int id = 0;
  /// Every `name` entry in file order: the full name first, then short names such as "SGC0".
  std::vector<std::string> names;
  /// 64 amino-acid letters ('A'-'Z') or '*', codons in TCAG order.
  std::string ncbieaa;
  /// 64 start/stop marks ('M', '*', '-'), codons in TCAG order.
  std::string sncbieaa;
};

/// Parses gc.prt text. Reads the `Genetic-code-table ::= { { ... } , ... }` value: in each table
/// the entries `name "..."` (one or more), `id N`, `ncbieaa "..."` and `sncbieaa "..."`, in any
/// order. Strings may span lines (the line break is dropped, as NCBI's ASN.1 reader does) and
/// write '"' as '""'. `--` starts a comment running to the end of the line (or to the next `--`).
/// When a table carries the comment rows `-- Base1`, `-- Base2`, `-- Base3`, they give the codon
/// of each column and the result is reordered into TCAG order; without them the file's columns
/// are taken to be in TCAG order already.
/// `source` names the text in errors. Throws ParseError (source and line) for: a missing or
/// repeated `id`/`ncbieaa`/`sncbieaa`, no `name`, an unknown entry, an unterminated string or
/// block, a string that is not 64 letters of the allowed set, Base rows that are incomplete, not
/// 64 letters of TCAG, or do not list each codon exactly once, and a repeated table id.
std::vector<GeneticCodeTable> parse_gc_prt(std::string_view text, const std::string& source);

/// Reads and parses a gc.prt file. Throws IoError when it cannot be read, ParseError as
/// parse_gc_prt.
std::vector<GeneticCodeTable> read_gc_prt(const std::string& path);

/// The 64 DNA codons in TCAG order; codon_index() is the inverse.
const std::array<std::string, 64>& codons_tcag();

/// The TCAG-order index (0..63) of an unambiguous codon: 3 of A C G T U in either case.
/// Throws InputError for any other input.
int codon_index(std::string_view codon);

class GeneticCode {
 public:
  /// The embedded NCBI table `id`. Throws InputError for an id that is not in gc.prt 4.2, listing
  /// the valid ids (ids 7 and 8 were withdrawn by NCBI: use 4 and 1).
  static const GeneticCode& ncbi(int id);
  /// The embedded ids in increasing order: 1-6, 9-16, 21-31.
  static std::vector<int> ncbi_ids();

  /// Builds a code from a table (e.g. from parse_gc_prt). Throws InputError when ncbieaa or
  /// sncbieaa is not 64 characters of 'A'-'Z'/'*' and 'M'/'*'/'-' respectively, or when names
  /// is empty.
  explicit GeneticCode(GeneticCodeTable table);

  int id() const noexcept { return table_.id; }
  /// The full name, e.g. "Standard", "Vertebrate Mitochondrial".
  const std::string& name() const noexcept { return table_.names.front(); }
  /// All names as in gc.prt (full name first, then short names such as "SGC1").
  const std::vector<std::string>& names() const noexcept { return table_.names; }
  /// The table's ncbieaa and sncbieaa strings (TCAG order).
  const std::string& ncbieaa() const noexcept { return table_.ncbieaa; }
  const std::string& sncbieaa() const noexcept { return table_.sncbieaa; }
  const GeneticCodeTable& table() const noexcept { return table_; }

  /// The amino acid of a codon: exactly 3 IUPAC nucleotide codes, DNA or RNA, either case. Stops
  /// give '*'. A codon with ambiguity codes gives the residue all of its expansions agree on
  /// ("GCN" -> 'A', "TAR" -> '*'), else 'X' ("NNN", "YTN"). Throws InputError for a wrong length
  /// or a character that is not an IUPAC code (gaps included).
  char translate(std::string_view codon) const;
  /// True when the table marks the codon 'M' in sncbieaa (it can initiate translation). An
  /// ambiguous codon is a start only when every expansion is. Same errors as translate.
  bool is_start(std::string_view codon) const;
  /// True when the table marks the codon '*' in sncbieaa (it can terminate translation). An
  /// ambiguous codon is a stop only when every expansion is. Same errors as translate.
  bool is_stop(std::string_view codon) const;

  /// The DNA codons whose translate() is `amino_acid` (either case, or '*'), in TCAG order; empty
  /// when the table encodes no such residue. Throws InputError when `amino_acid` is neither a
  /// letter nor '*'.
  std::vector<std::string> codons_for(char amino_acid) const;
  /// The codons marked 'M' / '*' in sncbieaa, in TCAG order.
  std::vector<std::string> start_codons() const;
  std::vector<std::string> stop_codons() const;

  /// The most specific IUPAC codon covering every codon of `amino_acid` (DNA, upper case).
  /// Computed position by position: the union of the bases seen at that position over
  /// codons_for(amino_acid), written as its IUPAC code. Standard code: Leu (CTN + TTR) -> "YTN",
  /// Ser (TCN + AGY) -> "WSN", Ile (ATH) -> "ATH". When the codon set is not a product of
  /// per-position sets (Leu, Ser, Arg and stops in the standard code) the result also covers
  /// codons of other residues, so translate() of it gives 'X'; see exact_degenerate_codon.
  /// Throws InputError when the table has no codon for `amino_acid`.
  std::string degenerate_codon(char amino_acid) const;
  /// The IUPAC codon covering the largest set of codons that all translate to `amino_acid`, so
  /// translate() of it gives `amino_acid` back (Leu -> "CTN", Ser -> "TCN", stop -> "TAR" in the
  /// standard code). Equals degenerate_codon when that one is exact. Among candidates covering
  /// as many codons, the one with fewer ambiguous positions wins (Leu: "CTN" over "YTR"), then
  /// the one whose codons, listed in TCAG order, come first. Throws InputError as
  /// degenerate_codon.
  std::string exact_degenerate_codon(char amino_acid) const;

 private:
  // Lookups over codons of IUPAC codes: index = mask1 << 8 | mask2 << 4 | mask3.
  static constexpr int kMaskedCodons = 16 * 16 * 16;
  int masked_index(std::string_view codon) const;

  GeneticCodeTable table_;
  std::array<char, kMaskedCodons> residue_{};
  std::bitset<kMaskedCodons> start_;
  std::bitset<kMaskedCodons> stop_;
};

}  // namespace strand::bio
