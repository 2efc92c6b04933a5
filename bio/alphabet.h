// Nucleotide alphabets: IUPAC classification, complements and the ACGTN normalisation that
// tokenizers apply before looking up ids.
//
// Nucleotide codes follow NC-IUB, "Nomenclature for incompletely specified bases in nucleic acid
// sequences" (Eur. J. Biochem. 150:1-5, 1985):
//
//   A C G T/U           one base
//   R = A|G  Y = C|T    S = C|G  W = A|T    K = G|T  M = A|C
//   B = C|G|T (not A)   D = A|G|T (not C)   H = A|C|T (not G)   V = A|C|G (not T)
//   N = any base
//
// Every function accepts either case. The gap symbols '-' and '.' (alignment columns) are not
// nucleotides, but complements and classification let them through unchanged. All functions are
// pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strand::bio {

/// A set of bases as 4 bits: A = 1, C = 2, G = 4, T/U = 8. An IUPAC code is the union of its bases
/// (R = A|G = 5, N = 15); 0 is the empty set.
using BaseMask = uint8_t;
inline constexpr BaseMask kBaseA = 1;
inline constexpr BaseMask kBaseC = 2;
inline constexpr BaseMask kBaseG = 4;
inline constexpr BaseMask kBaseT = 8;
inline constexpr BaseMask kAnyBase = 15;

/// The base set of an IUPAC nucleotide code (either case, T and U alike); 0 for anything else,
/// gaps included.
BaseMask base_mask(char c) noexcept;

/// The upper-case IUPAC code of a non-empty base set (1..15): 5 -> 'R', 15 -> 'N'. The set {T}
/// prints as 'U' when `rna`. Throws InputError for 0 or values above 15.
char iupac_code(BaseMask mask, bool rna = false);

/// True for A C G T U R Y S W K M B D H V N in either case; false for gaps and everything else.
bool is_iupac_nucleotide(char c);

/// True for the ambiguity codes R Y S W K M B D H V N in either case.
bool is_ambiguity_code(char c);

/// True for the gap symbols '-' and '.'.
bool is_gap(char c);

/// The Watson-Crick complement of an IUPAC code, preserving case: A<->T (U when `rna`), C<->G,
/// R<->Y, K<->M, B<->V, D<->H; S, W and N are their own complements; '-' and '.' map to
/// themselves. T and U are both accepted whatever `rna` says. Anything else throws InputError
/// naming the character.
char complement_base(char c, bool rna = false);

/// complement_base applied to every character (no reversal). Throws InputError naming the first
/// invalid character and its 0-based position.
std::string complement(std::string_view seq, bool rna = false);

/// The reverse complement; reverse_complement(reverse_complement(s)) == s for every valid s of
/// one alphabet (with `rna` matching it). Throws InputError naming the first invalid character
/// and its 0-based position.
std::string reverse_complement(std::string_view seq, bool rna = false);

/// Reverse-complements `seq` in place; same rules and errors as reverse_complement (on error
/// `seq` is left unchanged).
void reverse_complement_in_place(std::string& seq, bool rna = false);

/// The smallest alphabet that holds a sequence. Gaps ('-', '.') are allowed in every alphabet.
enum class NucleotideAlphabet {
  Dna,       ///< only A C G T (and sequences with neither T nor U, including the empty one)
  Rna,       ///< only A C G U, with at least one U
  IupacDna,  ///< IUPAC codes with at least one ambiguity code and no U
  IupacRna,  ///< IUPAC codes with at least one ambiguity code, at least one U and no T
};

/// The alphabet of `seq` (case-insensitive), or nullopt when it holds a character that is not an
/// IUPAC code or gap, or holds both T and U.
std::optional<NucleotideAlphabet> classify_nucleotides(std::string_view seq);

/// Normalisation to the five-letter alphabet A C G T N that nucleotide tokenizers use.
///
/// Policy, applied to each character:
///   - a c g t are upper-cased; U/u becomes T (with `rna`, T/t/U/u all become U instead);
///   - every ambiguity code R Y S W K M B D H V N, in either case, becomes N: a tokenizer with one
///     unknown-base id cannot say "A or G", so partial knowledge is dropped rather than guessed;
///   - gaps and every other character throw InputError: they are not bases, and skipping them
///     would silently shift every downstream coordinate.
char normalize_base(char c, bool rna = false);

/// normalize_base over a sequence. Throws InputError naming the first invalid character and its
/// 0-based position.
std::string normalize_acgtn(std::string_view seq, bool rna = false);

/// A printable rendering of a character for error messages: 'x' for printable ASCII, otherwise
/// the byte as 0xNN.
std::string describe_char(char c);

}  // namespace strand::bio
