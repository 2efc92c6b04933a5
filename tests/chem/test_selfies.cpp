// The SELFIES codec against the selfies 2.2.0 conformance data (tests/data/selfies, see its
// PROVENANCE.md) and hand-written cases.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "chem/selfies/py_set.h"
#include "chem/selfies/selfies.h"
#include "chem/smiles.h"

namespace sf = strand::chem::selfies;

namespace {

const std::string kDir = std::string(STRAND_TEST_DATA) + "/selfies/";

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
  std::string text;
  gzFile f = gzopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  char buf[1 << 16];
  int n = 0;
  while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  gzclose(f);
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  bool header = true;
  while (std::getline(in, line)) {
    if (header) {
      header = false;
      continue;
    }
    std::vector<std::string> fields;
    size_t start = 0;
    while (true) {
      const size_t tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

}  // namespace

TEST(SelfiesDecoder, MatchesTheReferenceOnEveryGoldenDecodeRow) {
  const auto rows = read_tsv(kDir + "golden_decode.tsv");
  ASSERT_EQ(rows.size(), 2000u);
  int mismatches = 0;
  for (const auto& r : rows) {
    const std::string expected = r.size() > 1 ? r[1] : "";
    const std::string got = sf::decode(r[0], sf::Options::reference());
    if (got != expected && ++mismatches <= 5) ADD_FAILURE() << r[0] << "\n  expected " << expected << "\n  got      " << got;
  }
  EXPECT_EQ(mismatches, 0);
}

TEST(SelfiesCodec, MatchesEverySpecificCaseOfTheReferenceTests) {
  const auto rows = read_tsv(kDir + "specific_cases.tsv");
  ASSERT_EQ(rows.size(), 105u);
  for (const auto& r : rows) {
    ASSERT_GE(r.size(), 4u);
    const std::string& direction = r[0];
    const std::string& input = r[1];
    const std::string& expected = r[2];
    const sf::Constraints constraints = sf::Constraints::parse(r[3]);
    sf::Options o = sf::Options::reference();
    o.constraints = &constraints;
    o.compatible = direction == "selfies2smiles_compatible";
    SCOPED_TRACE(direction + " '" + input + "' (" + r[4] + ")");
    const auto run = [&]() -> std::string {
      if (direction == "smiles2selfies") return sf::encode(input, o);
      if (direction == "smiles2selfies2smiles") return sf::decode(sf::encode(input, o), o);
      return sf::decode(input, o);
    };
    if (expected == "ERROR:DecoderError") {
      EXPECT_THROW(run(), sf::DecoderError);
    } else if (expected == "ERROR:EncoderError") {
      EXPECT_THROW(run(), sf::EncoderError);
    } else {
      EXPECT_EQ(run(), expected);
    }
  }
}

TEST(SelfiesCodec, RoundTripsEveryGoldenMoleculeLikeTheReference) {
  const auto rows = read_tsv(kDir + "golden_roundtrip.tsv.gz");
  ASSERT_EQ(rows.size(), 16706u);
  int decode_mismatch = 0;
  int encode_mismatch = 0;
  int errors_expected = 0;
  int canonical_checked = 0;
  for (const auto& r : rows) {
    ASSERT_EQ(r.size(), 7u);
    const std::string& smiles = r[1];
    const std::string& selfies = r[2];
    if (selfies == "ERROR") {
      ++errors_expected;
      EXPECT_THROW(sf::encode(smiles), sf::EncoderError) << smiles;
      continue;
    }
    const std::string decoded = sf::decode(selfies, sf::Options::reference());
    if (decoded != r[3] && ++decode_mismatch <= 5)
      ADD_FAILURE() << "decode " << selfies << "\n  expected " << r[3] << "\n  got      " << decoded;
    std::string encoded;
    try {
      encoded = sf::encode(smiles);
    } catch (const std::exception& e) {
      ADD_FAILURE() << smiles << ": " << e.what();
      continue;
    }
    if (encoded != selfies) {
      if (++encode_mismatch <= 5) ADD_FAILURE() << "encode " << smiles << "\n  expected " << selfies << "\n  got      " << encoded;
      // Whatever the string, it must decode to the same molecule.
      EXPECT_EQ(strand::chem::canonical_smiles(sf::decode(encoded)), strand::chem::canonical_smiles(smiles)) << smiles;
      ++canonical_checked;
    }
  }
  EXPECT_EQ(errors_expected, 67);
  EXPECT_EQ(decode_mismatch, 0);
  EXPECT_EQ(encode_mismatch, 0);
}

TEST(SelfiesConstraints, PresetsAndTablesFollowTheReference) {
  const sf::Constraints d;
  for (const auto& r : read_tsv(kDir + "bond_constraints_default.tsv")) {
    ASSERT_EQ(r.size(), 4u);
    EXPECT_EQ(d.table().at(r[0]), std::stoi(r[3])) << r[0];
    if (r[0] != "?") {
      EXPECT_EQ(d.capacity(r[1], std::stoi(r[2])), std::stoi(r[3])) << r[0];
    }
  }
  EXPECT_EQ(d.table().size(), 24u);
  EXPECT_EQ(d.capacity("Si", 0), 8);  // not in the table: '?'
  EXPECT_EQ(d.capacity("N", 2), 8);
  const auto octet = sf::Constraints::preset("octet_rule");
  EXPECT_EQ(octet.capacity("S", 0), 2);
  EXPECT_EQ(octet.capacity("P", -1), 2);
  EXPECT_EQ(sf::Constraints::preset("hypervalent").capacity("Cl", 0), 7);
  EXPECT_EQ(sf::Constraints::parse("default;?=2;Sn+4=1").capacity("Sn", 4), 1);
  EXPECT_EQ(sf::Constraints::parse("default;?=2").capacity("Xe", 0), 2);
  EXPECT_THROW(sf::Constraints::preset("octet"), strand::ConfigError);
  EXPECT_THROW(sf::Constraints::from_table({{"C", 4}}), strand::ConfigError);        // no '?'
  EXPECT_THROW(sf::Constraints::from_table({{"?", 8}, {"Xx", 1}}), strand::ConfigError);
  EXPECT_THROW(sf::Constraints::from_table({{"?", 8}, {"N+", 1}}), strand::ConfigError);
  EXPECT_THROW(sf::Constraints::parse("default;C=four"), strand::ConfigError);
  EXPECT_EQ(sf::Constraints::from_table({{"?", 3}, {"Fe+2", 6}}).capacity("Fe", 2), 6);
}

TEST(SelfiesConstraints, ChangingTheTableChangesTheDecoding) {
  const sf::Constraints one_bond_carbon = sf::Constraints().with("C", 1);
  sf::Options o;
  o.constraints = &one_bond_carbon;
  EXPECT_EQ(sf::decode("[C][#C]"), "C#C");
  EXPECT_EQ(sf::decode("[C][#C]", o), "CC");
}

TEST(SelfiesSymbols, RobustAlphabetMatchesTheReference) {
  std::vector<std::string> expected;
  std::ifstream in(kDir + "robust_alphabet.txt");
  for (std::string line; std::getline(in, line);) expected.push_back(line);
  const auto got = sf::robust_alphabet();
  EXPECT_EQ(std::vector<std::string>(got.begin(), got.end()), expected);
  EXPECT_EQ(sf::robust_alphabet(sf::Constraints::preset("octet_rule")).size(), 65u);
  EXPECT_EQ(sf::robust_alphabet(sf::Constraints::preset("hypervalent")).size(), 75u);
}

TEST(SelfiesSymbols, SplitLengthAlphabetAndIndexSymbols) {
  using V = std::vector<std::string>;
  EXPECT_EQ(sf::split_selfies("[C][=C].[O][nop]"), (V{"[C]", "[=C]", ".", "[O]", "[nop]"}));
  EXPECT_EQ(sf::split_selfies("x[C][O]"), (V{"[C]", "[O]"}));
  EXPECT_EQ(sf::split_selfies("[C]x[O]"), (V{"[C]", "x[O]"}));
  EXPECT_THROW(sf::split_selfies("[C][O"), sf::DecoderError);
  EXPECT_THROW(sf::decode("[C][O]x"), sf::DecoderError);
  EXPECT_EQ(sf::decode("x[C][O]"), "CO");
  EXPECT_EQ(sf::len_selfies("[C][=C].[O]"), 4);
  EXPECT_EQ(sf::alphabet({"[C][=C].[O]", "[C][F]"}), (std::set<std::string>{"[C]", "[=C]", "[O]", "[F]"}));
  EXPECT_EQ(sf::symbols_of_index(0), (V{"[C]"}));
  EXPECT_EQ(sf::symbols_of_index(15), (V{"[P]"}));
  EXPECT_EQ(sf::symbols_of_index(16), (V{"[Ring1]", "[C]"}));
  EXPECT_EQ(sf::symbols_of_index(255), (V{"[P]", "[P]"}));
  EXPECT_EQ(sf::symbols_of_index(4096), (V{"[Ring1]", "[C]", "[C]", "[C]"}));
  EXPECT_EQ(sf::index_of_symbols({"[Ring1]", "[C]"}), 16);
  EXPECT_EQ(sf::index_of_symbols({"[Xyz]", "[P]"}), 15);  // unknown symbols count as 0
  for (int64_t q : {0, 1, 17, 300, 4095}) EXPECT_EQ(sf::index_of_symbols(sf::symbols_of_index(q)), q);
  EXPECT_EQ(sf::decode("[C][nop][=C][nop]"), "C=C");
  EXPECT_EQ(sf::decode("[C]..[O]"), "C.O");
  EXPECT_EQ(sf::decode(""), "");
}

TEST(SelfiesDecoder, InvalidSymbolsAreErrorsOnlyWhereTheyAreRead) {
  EXPECT_EQ(sf::decode("[C][F][Xyz]"), "CF");             // after the derivation ended
  EXPECT_EQ(sf::decode("[C][Branch1][Xyz][C]"), "CC");    // read as an index digit
  try {
    sf::decode("[C][O][Branch1][Xyz][C]");  // the branch is skipped at X1, [Xyz] is read
    FAIL() << "no error";
  } catch (const sf::DecoderError& e) {
    EXPECT_NE(std::string(e.what()).find("'[Xyz]' (symbol 4)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(sf::decode("[C][c]"), sf::DecoderError);   // no aromatic symbols in SELFIES
  EXPECT_THROW(sf::decode("[C][Ring4]"), sf::DecoderError);
  EXPECT_THROW(sf::decode("[OH9]"), sf::DecoderError);
}

TEST(SelfiesEncoder, SmilesErrorsNameThePositionAndTheProblem) {
  const auto message = [](const std::string& smiles) {
    try {
      sf::encode(smiles);
    } catch (const sf::EncoderError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message("C(CCOC").find("position 1: '(' that is never closed"), std::string::npos) << message("C(CCOC");
  EXPECT_NE(message("CC*CC").find("position 2: the wildcard atom"), std::string::npos);
  EXPECT_NE(message("C1CCCCC").find("position 1: ring bond 1 is opened but never closed"), std::string::npos);
  EXPECT_NE(message("CC[Xx]").find("position 2: invalid atom '[Xx]'"), std::string::npos);
  EXPECT_NE(message("C=").find("position 1: a bond character"), std::string::npos);
  EXPECT_NE(message("C1.C1").find("never closed"), std::string::npos);  // no ring closure across '.'
  EXPECT_NE(message("c1cccc1").find("kekulization failed"), std::string::npos);
  EXPECT_NE(message("O=N(=O)c1ccccc1").find("N (atom 2) has 5 bonds, at most 3 allowed"), std::string::npos)
      << message("O=N(=O)c1ccccc1");
  EXPECT_NE(message("C11").find("closes on the atom that opened it"), std::string::npos);
  EXPECT_NE(message("C12CC12").find("already bonded"), std::string::npos);
  sf::Options lenient;
  lenient.strict = false;
  EXPECT_EQ(sf::decode(sf::encode("O=N(=O)c1ccccc1", lenient)), "O=NC=O");  // the reference's behaviour
}

TEST(SelfiesCodec, HandWrittenMoleculesRoundTripToTheSameMolecule) {
  // Charges, isotopes, tetrahedral and double-bond stereo (also on ring bonds), aromatic rings
  // with heteroatoms, fused and large rings, several fragments.
  const std::vector<std::string> molecules = {
      "[NH4+].[Cl-]",
      "C[N+](C)(C)C.[O-]C(=O)C",
      "[13CH3]C(=O)[18OH]",
      "[2H]C([2H])([2H])Cl",
      "N[C@@H](C)C(=O)O",
      "N[C@H](Cc1ccccc1)C(=O)O",
      "C[C@@H]1CC[C@H](O)CC1",
      "[C@@H]12CCC2CCNC1",
      "F/C=C/F",
      "F/C=C\\Cl",
      "F/C=C/1CNCCC\\1=C\\F",
      "c1ccc2ccccc2c1",
      "c1ccc2[nH]ccc2c1",
      "c1cc[nH]c1",
      "Cc1ncc[n+]([O-])c1",
      "o1cccc1",
      "c1ccsc1",
      "C1CCCCCCCCCCCCCCCCCCCCCCCCCCCCCC1",
      "C1CC2CCC3CCC4CCC5CCC(C1)C2C345",
      "[Na+].[Na+].[O-]S(=O)(=O)[O-]",
      "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
      "CN1C=NC2=C1C(=O)N(C(=O)N2C)C",
  };
  for (const auto& smiles : molecules) {
    const std::string selfies = sf::encode(smiles);
    const std::string back = sf::decode(selfies);
    EXPECT_EQ(strand::chem::canonical_smiles(back), strand::chem::canonical_smiles(smiles))
        << smiles << " -> " << selfies << " -> " << back;
  }
  EXPECT_EQ(sf::encode("CC(=O)O"), "[C][C][=Branch1][C][=O][O]");
  EXPECT_EQ(sf::encode("C(Cl)(F)Br"), "[C][Branch1][C][Cl][Branch1][C][F][Br]");
  EXPECT_EQ(sf::encode("C1CC2CC1CC2"), "[C][C][C][C][C][Ring1][Branch1][C][C][Ring1][Branch1]");
  EXPECT_EQ(sf::encode("F/C=C/1CNCCC\\1=C\\F"), "[F][/C][=C][C][N][C][C][C][/\\Ring1][=Branch1][=C][\\F]");
  EXPECT_EQ(sf::encode("[C@@H]12CCC2CCNC1"), "[C@H1][C][C][C][Ring1][Ring2][C][C][N][C][Ring1][Branch2]");
  EXPECT_EQ(sf::decode(sf::encode("[C@@H]12CCC2CCNC1")), "[C@H1]12CCC1CCNC2");
  EXPECT_EQ(sf::encode("[CH3:1]C"), "[CH3][C]");  // atom classes are dropped
}

TEST(SelfiesCodec, RingNumbersFrom100AreValidSmiles) {
  // A chain of 105 cyclopropanes needs 105 ring-closure numbers in the decoder's output.
  std::string smiles;
  for (int i = 0; i < 105; ++i) smiles += "C1CC1";
  const std::string selfies = sf::encode(smiles);
  const std::string fixed = sf::decode(selfies);
  EXPECT_NE(fixed.find("%(100)"), std::string::npos);
  EXPECT_NE(fixed.find("%99"), std::string::npos);
  EXPECT_EQ(strand::chem::canonical_smiles(fixed), strand::chem::canonical_smiles(smiles));
  const std::string reference = sf::decode(selfies, sf::Options::reference());
  EXPECT_NE(reference.find("%100"), std::string::npos);
  EXPECT_FALSE(strand::chem::is_valid_smiles(reference));  // why the default differs
}

TEST(SelfiesCodec, SpansBeyondThreeIndexSymbolsAreRejected) {
  const std::string ring = "C1" + std::string(5000, 'C') + "C1";
  EXPECT_THROW(sf::encode(ring), sf::EncoderError);
  const std::string reference = sf::encode(ring, sf::Options::reference());
  EXPECT_NE(reference.find("[Ring4]"), std::string::npos);
  EXPECT_THROW(sf::decode(reference), sf::DecoderError);  // the reference's own decoder rejects it
  const std::string branch = "C(" + std::string(5000, 'C') + ")C";
  EXPECT_THROW(sf::encode(branch), sf::EncoderError);
  EXPECT_NO_THROW(sf::encode("C(" + std::string(4000, 'C') + ")C"));
}

TEST(SelfiesDecoder, RingsDoNotCrossFragmentsUnlessAsked) {
  EXPECT_EQ(sf::decode("[C][Ring1][C].[C][Ring1][Ring1]"), "C.C");
  EXPECT_EQ(sf::decode("[C][Ring1][C].[C][Ring1][Ring1]", sf::Options::reference()), "C1.C1");
  EXPECT_EQ(sf::decode("[C].[C][C][C][Ring1][Ring2]"), "C.C1CC1");  // clamped to the fragment's first atom
}

TEST(SelfiesCodec, AttributionLinksOutputTokensToInputTokens) {
  std::vector<sf::AttributionMap> maps;
  const std::string smiles = sf::decode("[C][N][C][Branch1][C][P][C][C][Ring1][=Branch1]", {}, &maps);
  EXPECT_EQ(smiles, "C1NC(P)CC1");
  bool found = false;
  for (const auto& m : maps)
    if (m.token == "P") {
      found = true;
      EXPECT_EQ(m.index, 5);
      EXPECT_EQ(m.attribution, (std::vector<sf::Attribution>{{3, "[Branch1]"}, {5, "[P]"}}));
    }
  EXPECT_TRUE(found);
  std::vector<sf::AttributionMap> enc;
  EXPECT_EQ(sf::encode("C=CF", {}, &enc), "[C][=C][F]");
  ASSERT_EQ(enc.size(), 3u);
  EXPECT_EQ(enc[1].index, 1);
  EXPECT_EQ(enc[1].token, "[=C]");
  EXPECT_EQ(enc[1].attribution, (std::vector<sf::Attribution>{{1, "="}, {2, "C"}}));
}

TEST(SelfiesCodec, DeepNestingUsesNoRecursion) {
  // 20,000 nested branches: a recursive decoder or encoder would overflow a thread's stack.
  std::string smiles = "C";
  for (int i = 0; i < 20000; ++i) smiles += "(C";
  smiles += std::string(20000, ')') + "C";
  std::string selfies;
  ASSERT_NO_THROW(selfies = sf::encode(smiles, sf::Options::reference()));
  std::string deep;
  for (int i = 0; i < 20000; ++i) deep += "[C][Branch3][P][P][P]";
  EXPECT_NO_THROW(sf::decode(deep + "[C]"));
}

TEST(SelfiesKekulization, UnmatchedAtomsAreVisitedInCPythonSetOrder) {
  // The reference takes unmatched atoms from a Python set of ints: in an 8-slot table 9 lands in
  // slot 1, before 3; 17 collides with it and, with no room for a linear probe run that close to
  // the end of the table, jumps to slot (1 * 5 + 1) & 7 = 6.
  strand::chem::selfies::detail::PySet set;
  for (int64_t k : {3, 9, 17}) set.add(k);
  std::vector<int64_t> order;
  while (!set.empty()) order.push_back(set.pop());
  EXPECT_EQ(order, (std::vector<int64_t>{9, 3, 17}));
  // Five keys fill the table past 3/5: it grows to 32 slots and every key sits in its own slot;
  // pop() continues after the last slot it emptied and wraps around.
  strand::chem::selfies::detail::PySet grown;
  for (int64_t k : {20, 7, 30, 2, 11}) grown.add(k);
  order.clear();
  order.push_back(grown.pop());
  grown.discard(11);
  grown.add(1);  // lands in the empty slot 1, before the finger
  while (!grown.empty()) order.push_back(grown.pop());
  EXPECT_EQ(order, (std::vector<int64_t>{2, 7, 20, 30, 1}));
}
