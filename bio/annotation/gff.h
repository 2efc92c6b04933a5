// GFF3 (Sequence Ontology GFF3 specification 1.26) with an optional embedded ##FASTA section, as
// Prokka, NCBI and Ensembl write it.
//
// What is read:
//   - feature lines: nine tab-separated columns seqid, source, type, start, end, score, strand,
//     phase, attributes. start/end are 1-based and inclusive in the file; GffFeature stores them
//     0-based half-open. Attributes are `tag=value` pairs separated by ';' with %XX escapes
//     decoded; an empty attribute column is '.'.
//   - `##sequence-region seqid start end` directives;
//   - `##FASTA` ends the feature part; the rest is FASTA (`>name description` headers, sequence
//     lines of letters and '*' '-'), kept in file order.
//   Other '#' lines and blank lines are skipped.
// Errors (ParseError naming source, line and what was expected and found): a feature line with
// other than nine columns, an empty seqid or type, a start/end that is not a positive integer,
// start > end, strand other than + - . ?, phase other than 0 1 2 ., a bad %XX escape, an
// attribute without '=', a repeated tag in one line, a feature on a seqid the ##FASTA section
// does not hold (only checked when there is a FASTA section), FASTA sequence text before any
// header, or a repeated FASTA name. Everything is held in memory (a bacterial genome with
// annotation is a few MB).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "libseq/io/text_lines.h"

namespace strand::bio::annotation {

struct GffFeature {
  std::string seqid;
  std::string source;
  std::string type;
  int64_t begin = 0;  ///< 0-based first base
  int64_t end = 0;    ///< 0-based exclusive end (end - begin = length)
  std::string score;  ///< as written ('.' when absent)
  char strand = '.';  ///< '+', '-', '.' or '?'
  int phase = -1;     ///< 0, 1, 2 for CDS features; -1 when '.'
  std::map<std::string, std::string> attributes;  ///< decoded tag -> value (multiple values stay comma-separated)
  int64_t line = 0;   ///< line in the source file

  /// The value of `tag`, or "" when absent.
  const std::string& attribute(const std::string& tag) const;
};

struct GffSequenceRegion {
  std::string seqid;
  int64_t begin = 0;  ///< 0-based
  int64_t end = 0;    ///< exclusive
};

struct GffSequence {
  std::string name;
  std::string description;
  std::string seq;
};

struct Gff3 {
  std::vector<GffFeature> features;          ///< in file order
  std::vector<GffSequenceRegion> regions;    ///< ##sequence-region directives
  std::vector<GffSequence> sequences;        ///< the ##FASTA section, in file order
  /// The sequence named `name`, or nullptr.
  const GffSequence* sequence(const std::string& name) const;
};

/// Reads GFF3 from a line source (see text_lines.h).
Gff3 parse_gff3(strand::io::TextLines& lines);
/// Reads a GFF3 file (plain, gzip or bgzip). IoError when it cannot be opened.
Gff3 read_gff3(const std::string& path);

}  // namespace strand::bio::annotation
