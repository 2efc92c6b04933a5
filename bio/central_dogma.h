// DNA -> RNA -> protein and back: transcription, reverse transcription, translation in any frame
// and strand with any NCBI genetic code, six-frame translation and reverse translation.
//
// Nucleotide input may use any IUPAC code in either case (see bio/alphabet.h); translation
// resolves ambiguous codons as GeneticCode::translate does. Protein output is upper case with '*'
// for stops and 'X' for codons whose expansions disagree. Every function is pure and thread-safe;
// bad input throws InputError naming the function, the offending character and its 0-based
// position.
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace strand::bio {

class CodonUsage;

/// DNA to RNA: T -> U and t -> u; other IUPAC codes and gaps ('-', '.') are copied. Throws
/// InputError for U/u (the input is then not DNA) and for any non-IUPAC character.
/// reverse_transcribe(transcribe(s)) == s.
std::string transcribe(std::string_view dna);

/// RNA to DNA: U -> T and u -> t; other IUPAC codes and gaps are copied. Throws InputError for
/// T/t and for any non-IUPAC character. transcribe(reverse_transcribe(s)) == s.
std::string reverse_transcribe(std::string_view rna);

enum class Strand {
  Plus,   ///< the sequence as given
  Minus,  ///< its reverse complement
};

/// What to do with the 1 or 2 bases left after the last whole codon of a frame.
enum class PartialCodon {
  Drop,  ///< ignore them (what EMBOSS transeq -trim and most tools do)
  PadN,  ///< pad with N and translate: "GC" -> "GCN" -> 'A'; an undetermined codon gives 'X'
  Error, ///< throw InputError naming the frame, the length and the leftover bases
};

struct TranslateOptions {
  int table = 1;                 ///< NCBI genetic code id (GeneticCode::ncbi)
  int frame = 0;                 ///< 0, 1 or 2: bases skipped at the start of the chosen strand
  Strand strand = Strand::Plus;  ///< Minus translates the reverse complement
  bool to_stop = false;          ///< end before the first '*' (the stop is not included)
  /// Translate the first codon as 'M' when the table marks it as a start (sncbieaa 'M'): an
  /// alternative initiator such as GTG or TTG in table 11 is read by initiator tRNA as Met, as
  /// in GenBank /translation of a complete CDS.
  bool first_codon_as_start = false;
  PartialCodon partial = PartialCodon::Drop;
};

/// Translates one frame of `seq` (DNA or RNA). A frame beyond the end gives "". Throws
/// InputError for an unknown table, a frame outside 0..2, a non-IUPAC character (gaps included)
/// and, with PartialCodon::Error, leftover bases.
std::string translate(std::string_view seq, const TranslateOptions& options = {});

struct FrameTranslation {
  Strand strand = Strand::Plus;
  int frame = 0;
  std::string protein;
};

/// The six frames +0, +1, +2, -0, -1, -2 in that order; frame f of Strand::Minus starts f bases
/// into the reverse complement. Errors as translate.
std::array<FrameTranslation, 6> six_frame_translate(std::string_view seq, int table = 1,
                                                    PartialCodon partial = PartialCodon::Drop);

/// How reverse_translate picks one codon for each residue.
enum class ReverseTranslationRule {
  /// The most used codon of the residue in a codon-usage table (CodonUsage::most_frequent_codon
  /// restricted to the codons the chosen genetic code assigns to the residue). A, C, G, T only.
  MostFrequent,
  /// GeneticCode::degenerate_codon: the per-position IUPAC union of all the residue's codons, so
  /// every synonymous codon is an expansion of the output (lossless). For residues whose codons
  /// are not a product of per-position sets (Leu, Ser, Arg and stops in the standard code) the
  /// union also covers other residues' codons and translates back to 'X'.
  Degenerate,
  /// GeneticCode::exact_degenerate_codon: the IUPAC codon covering the most codons that all
  /// encode the residue, so translation always gives the residue back.
  ExactDegenerate,
};

struct ReverseTranslateOptions {
  ReverseTranslationRule rule = ReverseTranslationRule::Degenerate;
  int table = 1;                       ///< NCBI genetic code id
  const CodonUsage* usage = nullptr;   ///< required by MostFrequent (not owned); ignored otherwise
  bool rna = false;                    ///< write U instead of T
};

/// Reverse-translates a protein (one-letter codes, either case; '*' for a stop) into one codon per
/// residue. 'X' (unknown residue) becomes "NNN" under every rule. Guarantees, for every table:
/// translate(reverse_translate(p)) == p under MostFrequent and ExactDegenerate; under Degenerate
/// every codon the table assigns to p[i] matches codon i. Throws InputError for an unknown
/// table, MostFrequent without `usage`, and a character that is not a letter, '*' or that the
/// table does not encode (e.g. 'B', 'U', or '*' in a table without stops), naming its position.
std::string reverse_translate(std::string_view protein, const ReverseTranslateOptions& options = {});

}  // namespace strand::bio
