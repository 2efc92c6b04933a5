// "protein" / "protein:stop=unk|skip|error": amino acids, one token per residue, with the ESM-2
// alphabet (fair-esm `Alphabet.from_architecture("ESM-1b")`, used by every ESM-2 checkpoint and
// by the Hugging Face EsmTokenizer of facebook/esm2_*), id for id:
//   0 <cls>  1 <pad>  2 <eos>  3 <unk>
//   4 L  5 A  6 G  7 V  8 S  9 E  10 R  11 T  12 I  13 D  14 P  15 K  16 Q  17 N  18 F  19 Y
//   20 M  21 H  22 W  23 C  24 X  25 B  26 U  27 Z  28 O  29 .  30 -
//   31 <null_1>  32 <mask>                                           (33 ids)
// The 20 standard residues, X (unknown), B (D/N), U (selenocysteine), Z (E/Q), O (pyrrolysine)
// and the alignment symbols '.' and '-' are tokens; <null_1> pads the alphabet to a multiple of 8
// and is never produced.
//
// encode is case-insensitive (ESM itself only reads upper case), prepends <cls> and appends
// <eos>, as ESM's batch converter does. Any byte that is not in the alphabet becomes <unk>, one
// per byte. The translation stop '*' follows the `stop` policy:
//   unk   (default) '*' becomes <unk>, like any symbol outside the ESM alphabet;
//   skip  '*' produces no token (offsets of the other residues still point into the text);
//   error encode throws InputError naming the byte offset of the first '*'.
// decode writes upper-case residues. Offsets are [i, i + 1). No complement map.
// Immutable; every const member is thread-safe.
#pragma once

#include <string>

#include "libseq/tokenize/byte_kernels.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::bio {

enum class StopPolicy { Unknown, Skip, Error };

struct ProteinTokenizerOptions {
  StopPolicy stop = StopPolicy::Unknown;
};

class ProteinTokenizer final : public tokenize::Tokenizer {
 public:
  static constexpr tokenize::TokenId kCls = 0;
  static constexpr tokenize::TokenId kPad = 1;
  static constexpr tokenize::TokenId kEos = 2;
  static constexpr tokenize::TokenId kUnk = 3;
  static constexpr tokenize::TokenId kNull1 = 31;
  static constexpr tokenize::TokenId kMask = 32;

  explicit ProteinTokenizer(ProteinTokenizerOptions options = {});

  std::string type() const override { return "protein"; }
  /// {"stop": "unk"|"skip"|"error"}
  nlohmann::json options() const override;
  const ProteinTokenizerOptions& protein_options() const noexcept { return options_; }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  ProteinTokenizerOptions options_;
  tokenize::ByteTable table_;
};

}  // namespace strand::bio
