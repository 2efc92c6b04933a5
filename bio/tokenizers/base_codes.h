// Byte -> 2-bit base code tables shared by the k-mer, 6-mer and codon tokenizers.
//
// Codes 0..3 are the four bases in the order a vocabulary counts them in (ACGT for strand's
// k-mer and codon vocabularies, ATCG for Nucleotide Transformer), any case, U read as T.
// kAmbiguousCode marks N and the other IUPAC ambiguity codes, kForeignCode every other byte.
// tokenize::find_first_above(codes, n, 3) therefore finds the next byte that breaks a k-mer.
#pragma once

#include <cstdint>

#include "bio/alphabet.h"
#include "libseq/tokenize/byte_kernels.h"

namespace strand::bio::base_codes {

inline constexpr uint8_t kAmbiguousCode = 4;
inline constexpr uint8_t kForeignCode = 8;

/// `order` names the bases with codes 0, 1, 2, 3 (e.g. "ACGT").
inline tokenize::ByteTable base_code_table(const char order[4]) {
  tokenize::ByteTable table(kForeignCode);
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    if (is_ambiguity_code(ch)) table.set(ch, kAmbiguousCode);
  }
  for (uint8_t code = 0; code < 4; ++code) table.set_any_case(order[code], code);
  for (uint8_t code = 0; code < 4; ++code)
    if (order[code] == 'T') table.set_any_case('U', code);
  return table;
}

}  // namespace strand::bio::base_codes
