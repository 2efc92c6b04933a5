// Stockholm multiple alignments (the Pfam / Rfam / HMMER / Infernal format), one or more per file.
//
// Each alignment starts with `# STOCKHOLM 1.0` and ends with `//`. Lines inside:
//   #=GF TAG text          per-file annotation (repeated tags are kept in order)
//   #=GS name TAG text     per-sequence annotation
//   #=GR name TAG row      per-residue annotation (concatenated over blocks)
//   #=GC TAG row           per-column annotation such as SS_cons, RF (concatenated over blocks)
//   name row               aligned sequence; interleaved blocks are concatenated in name order
//   other '#' lines and blank lines are skipped.
// Errors (ParseError naming the source, the line and what was expected and found): no header,
// a header inside an alignment, a line with a name but no row, an alignment whose rows differ in
// length (named with both lengths), a #=GC/#=GR row of the wrong length, an alignment without
// sequences, or a file that ends inside an alignment (no '//').
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "libseq/io/text_lines.h"

namespace strand::bio::annotation {

struct StockholmAlignment {
  std::vector<std::pair<std::string, std::string>> gf;  ///< #=GF tag, text (file order)
  std::vector<std::string> names;                        ///< sequence names in first-seen order
  std::vector<std::string> rows;                         ///< aligned rows, index-aligned with names
  std::map<std::string, std::map<std::string, std::string>> gs;  ///< name -> tag -> text (repeats joined by ' ')
  std::map<std::string, std::string> gc;                 ///< tag -> column annotation
  int64_t line = 0;                                      ///< line of the header

  /// #=GF values of `tag` joined by ' ' ("" when absent), e.g. gf_value("ID").
  std::string gf_value(const std::string& tag) const;
  /// Number of alignment columns.
  int64_t columns() const { return rows.empty() ? 0 : static_cast<int64_t>(rows.front().size()); }
};

/// A row without its gap characters ('-', '.', '_', '~'), upper-cased.
std::string ungapped_upper(std::string_view row);

std::vector<StockholmAlignment> parse_stockholm(strand::io::TextLines& lines);
/// Reads a Stockholm file (plain, gzip or bgzip). IoError when it cannot be opened.
std::vector<StockholmAlignment> read_stockholm(const std::string& path);

}  // namespace strand::bio::annotation
