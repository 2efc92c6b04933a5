#include "bio/alphabet.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

#include "libseq/core/error.h"

namespace strand::bio {
namespace {

using ByteTable = std::array<uint8_t, 256>;

constexpr uint8_t byte(char c) { return static_cast<uint8_t>(c); }

constexpr char to_lower_ascii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr ByteTable make_mask_table() {
  ByteTable t{};
  constexpr std::pair<char, BaseMask> codes[] = {
      {'A', kBaseA}, {'C', kBaseC}, {'G', kBaseG}, {'T', kBaseT}, {'U', kBaseT},
      {'R', kBaseA | kBaseG}, {'Y', kBaseC | kBaseT}, {'S', kBaseC | kBaseG}, {'W', kBaseA | kBaseT},
      {'K', kBaseG | kBaseT}, {'M', kBaseA | kBaseC}, {'B', kBaseC | kBaseG | kBaseT},
      {'D', kBaseA | kBaseG | kBaseT}, {'H', kBaseA | kBaseC | kBaseT}, {'V', kBaseA | kBaseC | kBaseG},
      {'N', kAnyBase}};
  for (const auto& [c, m] : codes) {
    t[byte(c)] = m;
    t[byte(to_lower_ascii(c))] = m;
  }
  return t;
}
constexpr ByteTable kMask = make_mask_table();

// IUPAC code of each base set, indexed by mask.
constexpr char kCodeOfMask[16] = {'?', 'A', 'C', 'M', 'G', 'R', 'S', 'V', 'T', 'W', 'Y', 'H', 'K', 'D', 'B', 'N'};

// Complement tables; 0 marks a character that has none. The complement of a set swaps A<->T and
// C<->G bit by bit, so the IUPAC pairs (R<->Y, B<->V, ...) follow from the masks.
constexpr ByteTable make_complement_table(bool rna) {
  ByteTable t{};
  constexpr char kUpper[] = "ACGTURYSWKMBDHVN";
  for (const char* p = kUpper; *p; ++p) {
    const BaseMask m = kMask[byte(*p)];
    const BaseMask c = static_cast<BaseMask>(((m & kBaseA) ? kBaseT : 0) | ((m & kBaseT) ? kBaseA : 0) |
                                             ((m & kBaseC) ? kBaseG : 0) | ((m & kBaseG) ? kBaseC : 0));
    char out = kCodeOfMask[c];
    if (out == 'T' && rna) out = 'U';
    t[byte(*p)] = byte(out);
    t[byte(to_lower_ascii(*p))] = byte(to_lower_ascii(out));
  }
  t[byte('-')] = byte('-');
  t[byte('.')] = byte('.');
  return t;
}
constexpr ByteTable kComplementDna = make_complement_table(false);
constexpr ByteTable kComplementRna = make_complement_table(true);

constexpr ByteTable make_normalize_table(bool rna) {
  ByteTable t{};
  constexpr char kUpper[] = "ACGTURYSWKMBDHVN";
  for (const char* p = kUpper; *p; ++p) {
    char out = 'N';
    switch (*p) {
      case 'A': case 'C': case 'G': out = *p; break;
      case 'T': case 'U': out = rna ? 'U' : 'T'; break;
      default: break;
    }
    t[byte(*p)] = byte(out);
    t[byte(to_lower_ascii(*p))] = byte(out);
  }
  return t;
}
constexpr ByteTable kNormalizeDna = make_normalize_table(false);
constexpr ByteTable kNormalizeRna = make_normalize_table(true);

[[noreturn]] void throw_bad_char(const char* what, std::string_view seq, size_t pos, const char* expected) {
  throw InputError(strand::detail::str(what, ": character ", describe_char(seq[pos]), " at position ", pos,
                               " (sequence length ", seq.size(), ") is not ", expected));
}

constexpr const char* kCodeOrGap = "an IUPAC nucleotide code or gap";

}  // namespace

BaseMask base_mask(char c) noexcept { return kMask[byte(c)]; }

char iupac_code(BaseMask mask, bool rna) {
  STRAND_CHECK(mask >= 1 && mask <= 15, "iupac_code: base set ", static_cast<int>(mask),
               " is not a non-empty set of A, C, G, T (expected 1..15)");
  if (mask == kBaseT && rna) return 'U';
  return kCodeOfMask[mask];
}

bool is_iupac_nucleotide(char c) { return kMask[byte(c)] != 0; }

bool is_ambiguity_code(char c) {
  const BaseMask m = kMask[byte(c)];
  return m != 0 && m != kBaseA && m != kBaseC && m != kBaseG && m != kBaseT;
}

bool is_gap(char c) { return c == '-' || c == '.'; }

char complement_base(char c, bool rna) {
  const uint8_t out = (rna ? kComplementRna : kComplementDna)[byte(c)];
  if (out == 0) {
    throw InputError(strand::detail::str("complement_base: character ", describe_char(c),
                                 " is not an IUPAC nucleotide code or gap"));
  }
  return static_cast<char>(out);
}

std::string complement(std::string_view seq, bool rna) {
  const ByteTable& table = rna ? kComplementRna : kComplementDna;
  std::string out(seq.size(), '\0');
  for (size_t i = 0; i < seq.size(); ++i) {
    const uint8_t c = table[byte(seq[i])];
    if (c == 0) throw_bad_char("complement", seq, i, kCodeOrGap);
    out[i] = static_cast<char>(c);
  }
  return out;
}

std::string reverse_complement(std::string_view seq, bool rna) {
  const ByteTable& table = rna ? kComplementRna : kComplementDna;
  const size_t n = seq.size();
  std::string out(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    const uint8_t c = table[byte(seq[i])];
    if (c == 0) throw_bad_char("reverse_complement", seq, i, kCodeOrGap);
    out[n - 1 - i] = static_cast<char>(c);
  }
  return out;
}

void reverse_complement_in_place(std::string& seq, bool rna) {
  const ByteTable& table = rna ? kComplementRna : kComplementDna;
  for (size_t i = 0; i < seq.size(); ++i) {
    if (table[byte(seq[i])] == 0) throw_bad_char("reverse_complement", seq, i, kCodeOrGap);
  }
  std::reverse(seq.begin(), seq.end());
  for (char& c : seq) c = static_cast<char>(table[byte(c)]);
}

std::optional<NucleotideAlphabet> classify_nucleotides(std::string_view seq) {
  bool has_t = false, has_u = false, has_ambiguity = false;
  for (char c : seq) {
    if (is_gap(c)) continue;
    const BaseMask m = kMask[byte(c)];
    if (m == 0) return std::nullopt;
    if (c == 'T' || c == 't') has_t = true;
    if (c == 'U' || c == 'u') has_u = true;
    if (is_ambiguity_code(c)) has_ambiguity = true;
  }
  if (has_t && has_u) return std::nullopt;
  if (has_ambiguity) return has_u ? NucleotideAlphabet::IupacRna : NucleotideAlphabet::IupacDna;
  return has_u ? NucleotideAlphabet::Rna : NucleotideAlphabet::Dna;
}

char normalize_base(char c, bool rna) {
  const uint8_t out = (rna ? kNormalizeRna : kNormalizeDna)[byte(c)];
  if (out == 0) {
    throw InputError(strand::detail::str("normalize_base: character ", describe_char(c),
                                 " is not an IUPAC nucleotide code"));
  }
  return static_cast<char>(out);
}

std::string normalize_acgtn(std::string_view seq, bool rna) {
  const ByteTable& table = rna ? kNormalizeRna : kNormalizeDna;
  std::string out(seq.size(), '\0');
  for (size_t i = 0; i < seq.size(); ++i) {
    const uint8_t c = table[byte(seq[i])];
    if (c == 0) throw_bad_char("normalize_acgtn", seq, i, "an IUPAC nucleotide code");
    out[i] = static_cast<char>(c);
  }
  return out;
}

std::string describe_char(char c) {
  const auto u = byte(c);
  if (u >= 0x20 && u < 0x7f) return std::string("'") + c + "'";
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", u);
  return buf;
}

}  // namespace strand::bio
