// Chemical tokenizers: SMILES by the regular-expression tokenization of Schwaller et al.
// (ACS Cent. Sci. 5, 1572, 2019), and SELFIES by symbol.
//
// "smiles" / "smiles:brackets=atom|split" — fixed vocabulary, ids:
//   0 <pad>  1 <unk>  2 <bos>  3 <eos>  4 <mask>, then the structural symbols
//   ( ) [ ] . = # - + : / \ $ * @ @@ % > ~, the digits 0-9, the two-digit ring labels %10-%99, the
//   organic-subset atoms B C N O P S F Cl Br I and aromatic b c n o p s, the aromatic bracket
//   atoms se as te si, every other element of the periodic table (for atoms inside brackets),
//   and with brackets=atom (the default) a list of frequent bracket atoms as whole tokens
//   ([nH], [C@@H], [O-], [N+], [Na+], [2H], ...; see kBracketAtoms in tokenizers.cpp).
// A bracket atom in that list is one token; any other bracket atom is split into '[', its
// isotope digits, element, chirality, H, count, charge and ']' (brackets=split always splits, as
// the Chem-xLSTM / S4DD tokenizer does), so tokenization is lossless for every SMILES: decode
// gives the text back byte for byte. Two-letter elements are read only inside brackets (so "Sc"
// outside is S then aromatic c); outside, only Cl and Br. Any byte that is no SMILES symbol
// becomes <unk>. encode adds <bos> and <eos>. Case-sensitive.
//
// "selfies" — fixed vocabulary: 0-4 as above, 5 [nop], 6 ".", then the semantically robust
//   alphabet of the default constraints (69 symbols, sorted) and further symbols common in
//   drug-like molecules (stereo bonds and rings, chirality, charges, explicit hydrogens, isotopes,
//   metals and halide ions; kSelfiesExtra in tokenizers.cpp). A symbol "[...]" outside the
//   vocabulary becomes one <unk>; a byte outside any symbol becomes <unk>. decode concatenates
//   the symbols (a padded [nop] decodes to nothing in the SELFIES decoder). encode adds <bos>
//   and <eos>.
// Immutable; every const member is thread-safe.
#pragma once

#include <string>
#include <unordered_map>

#include "libseq/tokenize/registry.h"
#include "libseq/tokenize/tokenizer.h"

namespace strand::chem {

/// The special ids both chemical vocabularies start with.
struct ChemSpecialIds {
  static constexpr tokenize::TokenId kPad = 0;
  static constexpr tokenize::TokenId kUnk = 1;
  static constexpr tokenize::TokenId kBos = 2;
  static constexpr tokenize::TokenId kEos = 3;
  static constexpr tokenize::TokenId kMask = 4;
};

class SmilesTokenizer final : public tokenize::Tokenizer, public ChemSpecialIds {
 public:
  /// split_brackets: never use whole bracket-atom tokens.
  explicit SmilesTokenizer(bool split_brackets = false);

  std::string type() const override { return "smiles"; }
  /// {"brackets": "atom"|"split"}
  nlohmann::json options() const override;

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  tokenize::TokenId id_of(std::string_view token) const;
  bool split_brackets_;
  std::unordered_map<std::string, tokenize::TokenId> ids_;
};

class SelfiesTokenizer final : public tokenize::Tokenizer, public ChemSpecialIds {
 public:
  static constexpr tokenize::TokenId kNop = 5;
  static constexpr tokenize::TokenId kDot = 6;

  SelfiesTokenizer();

  std::string type() const override { return "selfies"; }
  nlohmann::json options() const override { return nlohmann::json::object(); }

 protected:
  void encode_content(std::string_view text, tokenize::TokenWriter& out) const override;

 private:
  std::unordered_map<std::string, tokenize::TokenId> ids_;
};

/// Adds "smiles" and "selfies" to `registry`. Throws ConfigError when either is already there.
void register_tokenizers(tokenize::TokenizerRegistry& registry);

}  // namespace strand::chem
