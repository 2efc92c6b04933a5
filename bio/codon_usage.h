// Codon usage tables in the EMBOSS .cut format (the CUTG-derived tables EMBOSS ships in
// share/EMBOSS/data/CODONS, e.g. Ehuman.cut, Eecoli.cut):
//
//   #Species: Homo sapiens          comment lines start with '#'; "#Key: value" lines are kept
//   #Codon AA Fraction Frequency Number
//   GCA    A     0.226    15.937 510981
//
// Each data row is five fields separated by white space: the codon (DNA or RNA, either case), the
// amino acid it encodes in the organism's genetic code ('*' for stop), the fraction of that amino
// acid's codons that use it (0..1), its frequency per thousand codons, and the count of
// occurrences. Blank lines are skipped. All 64 codons must appear exactly once.
//
// A CodonUsage is an immutable value; every member is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace strand::bio {

class GeneticCode;

struct CodonUsageEntry {
  std::string codon;     ///< upper-case DNA
  char amino_acid = 0;   ///< upper case, or '*'
  double fraction = 0;   ///< share of this amino acid's codons, 0..1
  double per_thousand = 0;
  int64_t count = 0;
  int64_t line = 0;      ///< 1-based line in the source
};

class CodonUsage {
 public:
  /// Parses .cut text; `source` names it in errors. Throws ParseError (source and line; whole-file
  /// problems have no line) for: a row without exactly 5 fields, a codon that is not 3 of
  /// A C G T U, an amino acid that is not one letter or '*', a fraction outside 0..1, a negative or
  /// non-numeric frequency, a count that is not a non-negative integer, a codon given twice (both
  /// lines named), and missing codons (every missing codon listed).
  static CodonUsage parse_emboss(std::string_view text, const std::string& source);
  /// Reads and parses a .cut file. Throws IoError when it cannot be read, ParseError as above.
  static CodonUsage read_emboss(const std::string& path);

  /// The 64 entries in TCAG codon order (TTT, TTC, TTA, TTG, TCT, ...).
  const std::array<CodonUsageEntry, 64>& entries() const noexcept { return entries_; }
  /// The entry of one codon (DNA or RNA, either case). Throws InputError for anything that is not
  /// 3 of A C G T U.
  const CodonUsageEntry& entry(std::string_view codon) const;

  /// The most used codon (upper-case DNA) among those the file assigns to `amino_acid` (either
  /// case, or '*'): highest count, then highest frequency, then first in TCAG order. Throws
  /// InputError when the file assigns no codon to it.
  std::string most_frequent_codon(char amino_acid) const;
  /// As above, but over the codons that `code` translates to `amino_acid`, so the choice follows
  /// that table rather than the file's amino-acid column. Throws InputError when `code` has no
  /// codon for it.
  std::string most_frequent_codon(char amino_acid, const GeneticCode& code) const;

  /// "#Key: value" comment lines, e.g. {"Species", "Homo sapiens"}, {"Release", "CUTG146"}.
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  /// The source name given to the parser (the path for read_emboss).
  const std::string& source() const noexcept { return source_; }

 private:
  CodonUsage() = default;
  static bool more_used(const CodonUsageEntry& a, const CodonUsageEntry& b);

  std::array<CodonUsageEntry, 64> entries_;
  std::map<std::string, std::string> metadata_;
  std::string source_;
};

}  // namespace strand::bio
