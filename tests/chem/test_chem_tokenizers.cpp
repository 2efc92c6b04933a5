// Golden tokenizations of the chemical tokenizers. Oracles: the SMILES regular expression of
// Schwaller et al. (ACS Cent. Sci. 2019), whose token lists for these molecules are written out
// by hand; the ids stated in chem/tokenizers.h; for SELFIES, the reference's split_selfies and its
// robust alphabet (tests/data/selfies/robust_alphabet.txt).
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "chem/selfies/selfies.h"
#include "chem/tokenizers.h"

using strand::chem::SelfiesTokenizer;
using strand::chem::SmilesTokenizer;
using V = std::vector<std::string>;

namespace {

V tokens(const strand::tokenize::Tokenizer& t, const std::string& text) {
  V out;
  for (const auto id : t.encode_ids(text, false)) out.push_back(t.token(id));
  return out;
}

}  // namespace

TEST(SmilesTokenizer, SplitsLikeTheRegexOfSchwaller2019) {
  const SmilesTokenizer t;
  EXPECT_EQ(tokens(t, "CC(=O)Oc1ccccc1C(=O)O"),
            (V{"C", "C", "(", "=", "O", ")", "O", "c", "1", "c", "c", "c", "c", "c", "1", "C", "(", "=", "O", ")", "O"}));
  EXPECT_EQ(tokens(t, "C[C@@H](N)C(=O)[O-]"), (V{"C", "[C@@H]", "(", "N", ")", "C", "(", "=", "O", ")", "[O-]"}));
  EXPECT_EQ(tokens(t, "[Na+].[Cl-]"), (V{"[Na+]", ".", "[Cl-]"}));
  EXPECT_EQ(tokens(t, "c1ccc2[nH]ccc2c1"), (V{"c", "1", "c", "c", "c", "2", "[nH]", "c", "c", "c", "2", "c", "1"}));
  EXPECT_EQ(tokens(t, "C%12CC%12Br"), (V{"C", "%12", "C", "C", "%12", "Br"}));
  EXPECT_EQ(tokens(t, "ClCCl"), (V{"Cl", "C", "Cl"}));
  EXPECT_EQ(tokens(t, "CSc1ccccc1"), (V{"C", "S", "c", "1", "c", "c", "c", "c", "c", "1"}));  // not scandium
  EXPECT_EQ(tokens(t, "F/C=C\\F"), (V{"F", "/", "C", "=", "C", "\\", "F"}));
  // A bracket atom outside the list is split into its parts, losslessly.
  EXPECT_EQ(tokens(t, "[Pt+4]"), (V{"[", "Pt", "+", "4", "]"}));
  EXPECT_EQ(tokens(t, "[15NH3+]"), (V{"[", "1", "5", "N", "H", "3", "+", "]"}));
  EXPECT_EQ(tokens(t, "[Sc]"), (V{"[", "Sc", "]"}));
  EXPECT_EQ(tokens(t, "[se]1cccc1"), (V{"[se]", "1", "c", "c", "c", "c", "1"}));
  const SmilesTokenizer split(true);
  EXPECT_EQ(tokens(split, "C[C@@H](N)[O-]"), (V{"C", "[", "C", "@@", "H", "]", "(", "N", ")", "[", "O", "-", "]"}));
  EXPECT_EQ(split.vocab_size(), 252);  // 5 + 19 + 10 + 90 + 20 + 108 other elements
  EXPECT_EQ(t.vocab_size(), 252 + 125);  // and 125 frequent bracket atoms
}

TEST(SmilesTokenizer, IdsFollowTheDocumentedLayout) {
  const SmilesTokenizer t;
  EXPECT_EQ(t.token(0), "<pad>");
  EXPECT_EQ(t.token(4), "<mask>");
  EXPECT_EQ(t.token_id("("), 5);
  EXPECT_EQ(t.token_id("~"), 23);
  EXPECT_EQ(t.token_id("0"), 24);
  EXPECT_EQ(t.token_id("%10"), 34);
  EXPECT_EQ(t.token_id("%99"), 123);
  EXPECT_EQ(t.token_id("B"), 124);
  EXPECT_EQ(t.token_id("C"), 125);
  EXPECT_EQ(t.token_id("c"), 135);
  EXPECT_EQ(t.encode_ids("CO"), (std::vector<int32_t>{2, 125, 127, 3}));
  EXPECT_EQ(t.encode_ids("C!C", false), (std::vector<int32_t>{125, 1, 125}));
  EXPECT_EQ(t.decode(t.encode_ids("C[C@@H](N)[Pt+4]")), "C[C@@H](N)[Pt+4]");
}

TEST(SelfiesTokenizer, SymbolsAndIdsFollowTheReferenceAlphabet) {
  const SelfiesTokenizer t;
  EXPECT_EQ(t.token(5), "[nop]");
  EXPECT_EQ(t.token(6), ".");
  std::ifstream in(std::string(STRAND_TEST_DATA) + "/selfies/robust_alphabet.txt");
  int32_t id = 7;
  for (std::string line; std::getline(in, line); ++id) EXPECT_EQ(t.token(id), line) << id;
  EXPECT_EQ(id, 7 + 69);
  const std::string selfies = "[C][C@@H1][Branch1][C][N][C][=Branch1][C][=O][O-1].[Na+1][nop]";
  EXPECT_EQ(tokens(t, selfies), strand::chem::selfies::split_selfies(selfies));
  EXPECT_EQ(t.decode(t.encode_ids(selfies)), selfies);
  // An unknown symbol is one <unk>; a stray byte is one <unk>.
  EXPECT_EQ(tokens(t, "[C][Xx9][O]x"), (V{"[C]", "<unk>", "[O]", "<unk>"}));
  EXPECT_EQ(t.encode_ids("[C"), (std::vector<int32_t>{2, 1, 1, 3}));
}
