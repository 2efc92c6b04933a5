// Golden ids for each bio tokenizer. Oracles, named per test: the Nucleotide Transformer v2
// tokenizer rules and its documented example, the Caduceus release tokenizer and config, the
// ESM-2 alphabet, NCBI genetic codes, and for strand's own vocabularies the id formulas stated in
// their headers, with the arithmetic written out by hand here.
#include <gtest/gtest.h>

#include <cctype>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "bio/alphabet.h"
#include "bio/tokenizers/codon.h"
#include "bio/tokenizers/kmer.h"
#include "bio/tokenizers/ntv2.h"
#include "bio/tokenizers/nucleotide.h"
#include "bio/tokenizers/protein.h"
#include "libseq/core/error.h"

namespace sb = strand::bio;
namespace tk = strand::tokenize;
using tk::Offset;
using tk::TokenId;
using Ids = std::vector<TokenId>;

namespace {

std::vector<std::string> tokens_of(const tk::Tokenizer& t, const Ids& ids) {
  std::vector<std::string> out;
  for (TokenId id : ids) out.push_back(t.token(id));
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Nucleotide Transformer v2. Oracle: nucleotide-transformer's compute_tokens_to_ids_v2(k=6) and
// NucleotidesKmersTokenizer (split on N, 6-mers left to right, leftovers single, <cls> first).

TEST(Ntv2Golden, DocumentedExample) {
  const sb::Ntv2KmerTokenizer t;
  const std::string seq = "ACGTGTACNTGCACGGANCGACTAGTCTGA";
  const auto e = t.encode(seq);
  EXPECT_EQ(tokens_of(t, e.ids), (std::vector<std::string>{"<cls>", "ACGTGT", "A", "C", "N", "TGCACG", "G", "A", "N",
                                                             "CGACTA", "GTCTGA"}));
  // id = 6 + base-4 number with A=0 T=1 C=2 G=3, first base most significant:
  //   ACGTGT = 0,2,3,1,3,1 -> 0*1024 + 2*256 + 3*64 + 1*16 + 3*4 + 1 = 733 -> 739
  //   TGCACG = 1,3,2,0,2,3 -> 1024 + 768 + 128 + 0 + 8 + 3           = 1931 -> 1937
  //   CGACTA = 2,3,0,2,1,0 -> 2048 + 768 + 0 + 32 + 4 + 0            = 2852 -> 2858
  //   GTCTGA = 3,1,2,1,3,0 -> 3072 + 256 + 128 + 16 + 12 + 0         = 3484 -> 3490
  // single bases: A 4102, T 4103, C 4104, G 4105, N 4106; <cls> 3.
  EXPECT_EQ(e.ids, (Ids{3, 739, 4102, 4104, 4106, 1937, 4105, 4102, 4106, 2858, 3490}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{tk::kNoSpan, {0, 6}, {6, 7}, {7, 8}, {8, 9}, {9, 15}, {15, 16}, {16, 17},
                                            {17, 18}, {18, 24}, {24, 30}}));
  EXPECT_EQ(t.decode(e.ids), seq);
}

TEST(Ntv2Golden, IdFormulaAndSpecials) {
  const sb::Ntv2KmerTokenizer t;
  EXPECT_EQ(t.vocab_size(), 4107);
  EXPECT_EQ(t.token_id("AAAAAA"), 6);
  EXPECT_EQ(t.token_id("AAAAAT"), 7);
  EXPECT_EQ(t.token_id("AAAAAC"), 8);
  EXPECT_EQ(t.token_id("GGGGGG"), 6 + 4095);
  EXPECT_EQ(t.token_id("A"), 4102);
  EXPECT_EQ(t.token_id("N"), 4106);
  const auto& s = t.special_tokens();
  EXPECT_EQ(s.unk, 0);
  EXPECT_EQ(s.pad, 1);
  EXPECT_EQ(s.mask, 2);
  EXPECT_EQ(s.cls, 3);
  EXPECT_EQ(s.eos, 4);
  EXPECT_EQ(s.bos, 5);
  EXPECT_EQ(s.prefix, 3);
  EXPECT_FALSE(s.suffix.has_value());  // NT adds no EOS
}

TEST(Ntv2Golden, VocabularyMatchesTheReferenceListing) {
  std::ifstream in(std::string(STRAND_TEST_DATA) + "/tokenizers/ntv2_6mer_vocab.txt");
  ASSERT_TRUE(in) << "missing tests/data/tokenizers/ntv2_6mer_vocab.txt";
  std::vector<std::string> expected;
  for (std::string line; std::getline(in, line);) expected.push_back(line);
  EXPECT_EQ(sb::Ntv2KmerTokenizer().vocabulary(), expected);
}

TEST(Ntv2Golden, EdgeCases) {
  const sb::Ntv2KmerTokenizer t;
  EXPECT_EQ(t.encode_ids(""), (Ids{3}));
  EXPECT_EQ(t.encode_ids("NNN"), (Ids{3, 4106, 4106, 4106}));
  EXPECT_EQ(t.encode_ids("ANNA"), (Ids{3, 4102, 4106, 4106, 4102}));
  EXPECT_EQ(t.encode_ids("NACGTGTN"), (Ids{3, 4106, 739, 4106}));
  // Length 5: all leftovers. A C G T A.
  EXPECT_EQ(t.encode_ids("ACGTA"), (Ids{3, 4102, 4104, 4105, 4103, 4102}));
  // Length 7: ACGTAC = 0,2,3,1,0,2 -> 512 + 192 + 16 + 0 + 2 = 722 -> 728, then G.
  EXPECT_EQ(t.encode_ids("ACGTACG"), (Ids{3, 728, 4105}));
  // 14 As: AAAAAA AAAAAA A A.
  EXPECT_EQ(t.encode_ids(std::string(14, 'A')), (Ids{3, 6, 6, 4102, 4102}));
  EXPECT_EQ(t.encode_ids("ACGTGT", false), (Ids{739}));
}

TEST(Ntv2Golden, NormalisationOfCaseRnaAmbiguityAndForeignBytes) {
  const sb::Ntv2KmerTokenizer t;
  EXPECT_EQ(t.encode_ids("acgtgt"), (Ids{3, 739}));
  EXPECT_EQ(t.encode_ids("ACGUGU"), (Ids{3, 739}));
  EXPECT_EQ(t.encode_ids("ACGTGTR"), (Ids{3, 739, 4106}));
  // A foreign byte is one <unk> and ends the piece like N.
  EXPECT_EQ(t.encode_ids("ACG-ACGTGT"), (Ids{3, 4102, 4104, 4105, 0, 739}));
}

TEST(Ntv2Golden, PiecesLongerThanOneEncodeBlock) {
  const sb::Ntv2KmerTokenizer t;
  // 4097 = 6 * 682 + 5.
  Ids expected = {3};
  expected.insert(expected.end(), 682, 6);
  expected.insert(expected.end(), 5, 4102);
  EXPECT_EQ(t.encode_ids(std::string(4097, 'A')), expected);
  // An N first: the piece of 4096 As starts at byte 1; 4096 = 6 * 682 + 4.
  Ids after_n = {3, 4106};
  after_n.insert(after_n.end(), 682, 6);
  after_n.insert(after_n.end(), 4, 4102);
  EXPECT_EQ(t.encode_ids("N" + std::string(4096, 'A')), after_n);
}

// ---------------------------------------------------------------------------------------------
// Caduceus. Oracle: CaduceusTokenizer of the released caduceus-ps/ph 131k models and their
// config.json (vocab_size 16, complement_map {7:10, 8:9, 9:8, 10:7}, others identity).

TEST(CaduceusGolden, VocabularyAndSpecials) {
  const sb::CaduceusTokenizer t;
  EXPECT_EQ(t.vocabulary(), (std::vector<std::string>{"[CLS]", "[SEP]", "[BOS]", "[MASK]", "[PAD]", "[RESERVED]",
                                                      "[UNK]", "A", "C", "G", "T", "N", "[UNUSED12]", "[UNUSED13]",
                                                      "[UNUSED14]", "[UNUSED15]"}));
  const auto& s = t.special_tokens();
  EXPECT_EQ(s.cls, 0);
  EXPECT_EQ(s.eos, 1);
  EXPECT_EQ(s.bos, 2);
  EXPECT_EQ(s.mask, 3);
  EXPECT_EQ(s.pad, 4);
  EXPECT_EQ(s.unk, 6);
  EXPECT_FALSE(s.prefix.has_value());
  EXPECT_EQ(s.suffix, 1);
  for (TokenId id : {5, 12, 13, 14, 15}) EXPECT_TRUE(t.is_special(id)) << id;
}

TEST(CaduceusGolden, EncodeAndComplement) {
  const sb::CaduceusTokenizer t;
  EXPECT_EQ(t.encode_ids("ACGTN"), (Ids{7, 8, 9, 10, 11, 1}));
  EXPECT_EQ(t.encode_ids("acgtn"), (Ids{7, 8, 9, 10, 11, 1}));
  // Only A C G T N are characters; U and ambiguity codes are [UNK].
  EXPECT_EQ(t.encode_ids("ACGU"), (Ids{7, 8, 9, 6, 1}));
  EXPECT_EQ(t.encode_ids("R-", false), (Ids{6, 6}));
  EXPECT_EQ(*t.complement_ids(), (Ids{0, 1, 2, 3, 4, 5, 6, 10, 9, 8, 7, 11, 12, 13, 14, 15}));
  // RCPS convention: flip, then map; [SEP] moves to the front.
  EXPECT_EQ(t.reverse_complement_ids(t.encode_ids("AACG")), (Ids{1, 8, 9, 10, 10}));
}

// ---------------------------------------------------------------------------------------------
// Overlapping k-mers. Oracle: the layout in kmer.h, id = 5 + base-4 number with A=0 C=1 G=2 T=3.

TEST(KmerGolden, IdsByHand) {
  const sb::OverlappingKmerTokenizer t(3);
  EXPECT_EQ(t.vocab_size(), 5 + 64);
  EXPECT_EQ(t.token_id("AAA"), 5);
  EXPECT_EQ(t.token_id("TTT"), 5 + 63);
  // ACG = 0*16 + 1*4 + 2 = 6 -> 11;  CGT = 1*16 + 2*4 + 3 = 27 -> 32;  GTA = 2*16 + 3*4 + 0 = 44 -> 49.
  EXPECT_EQ(t.encode_ids("ACGTA"), (Ids{2, 11, 32, 49, 3}));
  EXPECT_EQ(t.encode_ids("acgta"), (Ids{2, 11, 32, 49, 3}));
  EXPECT_EQ(t.encode_ids("ACGUA"), (Ids{2, 11, 32, 49, 3}));
  EXPECT_EQ(t.encode("ACGTA").offsets, (std::vector<Offset>{tk::kNoSpan, {0, 3}, {1, 4}, {2, 5}, tk::kNoSpan}));
  EXPECT_EQ(sb::OverlappingKmerTokenizer(6).vocab_size(), 5 + 4096);
  EXPECT_EQ(sb::OverlappingKmerTokenizer(6).token_id("TTTTTT"), 4100);
  EXPECT_EQ(sb::OverlappingKmerTokenizer(8).vocab_size(), 5 + 65536);
}

TEST(KmerGolden, ShortTextsAndUnknownWindows) {
  const sb::OverlappingKmerTokenizer t(3);
  EXPECT_EQ(t.encode_ids(""), (Ids{2, 3}));
  EXPECT_EQ(t.encode_ids("AC"), (Ids{2, 3}));
  EXPECT_EQ(t.encode_ids("ACG"), (Ids{2, 11, 3}));
  // Every window holds the N: ACN CNG NGT.
  EXPECT_EQ(t.encode_ids("ACNGT"), (Ids{2, 1, 1, 1, 3}));
  EXPECT_THROW(sb::OverlappingKmerTokenizer(2), strand::ConfigError);
  EXPECT_THROW(sb::OverlappingKmerTokenizer(9), strand::ConfigError);
}

TEST(KmerGolden, DecodeRebuildsFromOverlaps) {
  const sb::OverlappingKmerTokenizer t(3);
  EXPECT_EQ(t.decode(t.encode_ids("ACGNACGTA")), "ACGNACGTA");
  EXPECT_EQ(t.decode(t.encode_ids("NACGTN")), "NACGTN");
  EXPECT_EQ(t.decode(t.encode_ids("ACGRACGTA")), "ACGNACGTA");
  // The A and the last A are covered by no all-ACGT window: they come back as N.
  EXPECT_EQ(t.decode(t.encode_ids("ANA")), "NNN");
  // A [MASK] keeps its position; its bases come from the neighbours.
  EXPECT_EQ(t.decode(Ids{2, 11, 4, 49, 3}), "ACGTA");
  EXPECT_EQ(t.decode(Ids{2, 11, 32, 3, 0}, false), "[CLS]ACGT[SEP][PAD]");
}

TEST(KmerGolden, TokenReverseComplementIsTheReverseComplementsTokens) {
  const sb::OverlappingKmerTokenizer t(5);
  std::mt19937 rng(5);
  const char* letters = "ACGTACGTACGTN";
  for (size_t n : {5, 6, 40, 300, 5000}) {
    std::string s(n, 'A');
    for (auto& c : s) c = letters[rng() % 13];
    EXPECT_EQ(t.reverse_complement_ids(t.encode_ids(s, false)), t.encode_ids(sb::reverse_complement(s), false)) << n;
  }
  // ACG (11) and CGT (32) are each other's reverse complement for k = 3.
  const auto comp = *sb::OverlappingKmerTokenizer(3).complement_ids();
  EXPECT_EQ(comp[11], 32);
  EXPECT_EQ(comp[32], 11);
}

// ---------------------------------------------------------------------------------------------
// Codons. Oracle: the layout in codon.h (codon id = 5 + 16a + 4b + c with A=0 C=1 G=2 T=3,
// singles A C G T N = 69..73) and NCBI's genetic codes 1 and 2 for translation.

TEST(CodonGolden, IdsByHand) {
  const sb::CodonTokenizer t;
  EXPECT_EQ(t.vocab_size(), 74);
  EXPECT_EQ(t.token_id("AAA"), 5);
  EXPECT_EQ(t.token_id("TTT"), 68);
  EXPECT_EQ(t.token_id("N"), 73);
  // ATG = 0*16 + 3*4 + 2 = 14 -> 19;  GCC = 2*16 + 1*4 + 1 = 37 -> 42.
  EXPECT_EQ(t.encode_ids("ATGGCC"), (Ids{2, 19, 42, 3}));
  EXPECT_EQ(t.encode_ids("AUGGCC"), (Ids{2, 19, 42, 3}));
  EXPECT_EQ(t.encode_ids("atggcc"), (Ids{2, 19, 42, 3}));
  EXPECT_EQ(t.encode_ids(""), (Ids{2, 3}));
}

TEST(CodonGolden, FramesAndFallbackToSingleBases) {
  const sb::CodonTokenizer f0;
  const sb::CodonTokenizer f1({1, 1});
  const sb::CodonTokenizer f2({2, 1});
  EXPECT_EQ(f1.encode_ids("AATGGCC"), (Ids{2, 69, 19, 42, 3}));
  // C A | ATG GCC | T
  EXPECT_EQ(f2.encode_ids("CAATGGCCT"), (Ids{2, 70, 69, 19, 42, 72, 3}));
  EXPECT_EQ(f2.encode_ids("A"), (Ids{2, 69, 3}));
  // NCC holds an N: N C C singly, then the trailing T.
  const auto e = f0.encode("ATGNCCT");
  EXPECT_EQ(e.ids, (Ids{2, 19, 73, 70, 70, 72, 3}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{tk::kNoSpan, {0, 3}, {3, 4}, {4, 5}, {5, 6}, {6, 7}, tk::kNoSpan}));
  // A gap is <unk> (1); an ambiguity code is N.
  EXPECT_EQ(f0.encode_ids("AT-", false), (Ids{69, 72, 1}));
  EXPECT_EQ(f0.encode_ids("ATR", false), (Ids{69, 72, 73}));
  EXPECT_EQ(f0.decode(f0.encode_ids("AUGNCC")), "ATGNCC");
}

TEST(CodonGolden, AminoAcidView) {
  const sb::CodonTokenizer standard;
  EXPECT_EQ(standard.amino_acid(19), 'M');
  EXPECT_FALSE(standard.amino_acid(69).has_value());
  EXPECT_FALSE(standard.amino_acid(2).has_value());
  EXPECT_EQ(standard.translate(standard.encode_ids("ATGGCCTAA")), "MA*");
  // NCC is T, P, A or S: X.  GCN is always Ala.
  EXPECT_EQ(standard.translate(standard.encode_ids("ATGNCCGCN")), "MXA");
  EXPECT_EQ(standard.translate(standard.encode_ids("ATGAGATGA")), "MR*");
  // Vertebrate mitochondrial code (table 2): AGA is a stop, TGA is Trp.
  const sb::CodonTokenizer mito({0, 2});
  EXPECT_EQ(mito.translate(mito.encode_ids("ATGAGATGA")), "M*W");
  const sb::CodonTokenizer f1({1, 1});
  EXPECT_EQ(f1.translate(f1.encode_ids("AATGGCCT")), "MA");
  EXPECT_THROW(standard.translate(Ids{2, 19, 4, 3}), strand::InputError);
  EXPECT_THROW(sb::CodonTokenizer({0, 7}), strand::ConfigError);
  EXPECT_THROW(sb::CodonTokenizer({3, 1}), strand::ConfigError);
}

TEST(CodonGolden, Complement) {
  const auto comp = *sb::CodonTokenizer().complement_ids();
  // ATG (19) <-> CAT = 1*16 + 0*4 + 3 = 19 -> 24.
  EXPECT_EQ(comp[19], 24);
  EXPECT_EQ(comp[24], 19);
  EXPECT_EQ(comp[69], 72);  // A <-> T
  EXPECT_EQ(comp[70], 71);  // C <-> G
  EXPECT_EQ(comp[73], 73);  // N
}

// ---------------------------------------------------------------------------------------------
// Protein. Oracle: the ESM-2 alphabet (fair-esm Alphabet.from_architecture("ESM-1b"):
// prepend <cls> <pad> <eos> <unk>, the 27 proteinseq_toks, <null_1> to a multiple of 8, <mask>).

TEST(ProteinGolden, Esm2Alphabet) {
  const sb::ProteinTokenizer t;
  EXPECT_EQ(t.vocabulary(),
            (std::vector<std::string>{"<cls>", "<pad>", "<eos>", "<unk>", "L", "A", "G", "V", "S", "E", "R",
                                      "T", "I", "D", "P", "K", "Q", "N", "F", "Y", "M", "H", "W", "C", "X", "B",
                                      "U", "Z", "O", ".", "-", "<null_1>", "<mask>"}));
  EXPECT_EQ(t.special_tokens().prefix, 0);
  EXPECT_EQ(t.special_tokens().suffix, 2);
  EXPECT_EQ(t.special_tokens().mask, 32);
  EXPECT_TRUE(t.is_special(31));
  EXPECT_FALSE(t.is_special(29));
}

TEST(ProteinGolden, EncodeAndStopPolicies) {
  const sb::ProteinTokenizer t;
  // M 20, K 15, T 11, V 7.
  EXPECT_EQ(t.encode_ids("MKTV"), (Ids{0, 20, 15, 11, 7, 2}));
  EXPECT_EQ(t.encode_ids("mktv"), (Ids{0, 20, 15, 11, 7, 2}));
  EXPECT_EQ(t.encode_ids("MJ-."), (Ids{0, 20, 3, 30, 29, 2}));
  EXPECT_EQ(t.encode_ids("MK*"), (Ids{0, 20, 15, 3, 2}));

  const sb::ProteinTokenizer skip({sb::StopPolicy::Skip});
  const auto e = skip.encode("M*K*");
  EXPECT_EQ(e.ids, (Ids{0, 20, 15, 2}));
  EXPECT_EQ(e.offsets, (std::vector<Offset>{tk::kNoSpan, {0, 1}, {2, 3}, tk::kNoSpan}));

  const sb::ProteinTokenizer strict({sb::StopPolicy::Error});
  EXPECT_EQ(strict.encode_ids("MKT"), (Ids{0, 20, 15, 11, 2}));
  try {
    strict.encode("MK*");
    ADD_FAILURE() << "no InputError";
  } catch (const strand::InputError& err) {
    EXPECT_NE(std::string(err.what()).find("'*' at byte 2"), std::string::npos) << err.what();
  }
}

// ---------------------------------------------------------------------------------------------
// "char". Oracle: the layout in nucleotide.h; complements from NC-IUB 1985.

TEST(CharGolden, DefaultVocabulary) {
  const sb::CharTokenizer t;
  EXPECT_EQ(t.vocabulary(),
            (std::vector<std::string>{"<pad>", "<unk>", "<cls>", "<eos>", "<mask>", "A", "C", "G", "T", "N"}));
  EXPECT_EQ(t.encode_ids("ACGTN"), (Ids{2, 5, 6, 7, 8, 9, 3}));
  EXPECT_EQ(t.encode_ids("acgun"), (Ids{2, 5, 6, 7, 8, 9, 3}));
  EXPECT_EQ(t.encode_ids("RYKMbdhv", false), (Ids(8, 9)));
  EXPECT_EQ(t.encode_ids("-.*7", false), (Ids(4, 1)));
  EXPECT_EQ(*t.complement_ids(), (Ids{0, 1, 2, 3, 4, 8, 7, 6, 5, 9}));
}

TEST(CharGolden, AmbiguityAndUracilPolicies) {
  const sb::CharTokenizer unk({sb::AmbiguityPolicy::Unknown, false, false});
  EXPECT_EQ(unk.encode_ids("ARN", false), (Ids{5, 1, 9}));

  const sb::CharTokenizer keep({sb::AmbiguityPolicy::Keep, false, false});
  // R 10, Y 11, S 12, W 13, K 14, M 15, B 16, D 17, H 18, V 19.
  EXPECT_EQ(keep.vocab_size(), 20);
  EXPECT_EQ(keep.encode_ids("RYKMv", false), (Ids{10, 11, 14, 15, 19}));
  EXPECT_EQ(keep.decode(keep.reverse_complement_ids(keep.encode_ids("ACRKB"))), "VMYGT");

  const sb::CharTokenizer rna({sb::AmbiguityPolicy::Keep, true, false});
  EXPECT_EQ(rna.token_id("U"), 10);
  EXPECT_EQ(rna.token_id("R"), 11);
  EXPECT_EQ(rna.encode_ids("ACGUT", false), (Ids{5, 6, 7, 10, 8}));
  EXPECT_EQ(rna.decode(rna.encode_ids("acgu")), "ACGU");
  // A would pair with T and U: no complement map.
  EXPECT_FALSE(rna.complement_ids().has_value());
  EXPECT_THROW(rna.reverse_complement_ids(rna.encode_ids("AU")), strand::UnsupportedError);
}

TEST(CharGolden, SoftMask) {
  const sb::CharTokenizer t({sb::AmbiguityPolicy::ToN, false, true});
  const auto e = t.encode("ACgt");
  EXPECT_EQ(e.ids, (Ids{2, 5, 6, 7, 8, 3}));
  EXPECT_EQ(e.soft_mask, (std::vector<uint8_t>{0, 0, 0, 1, 1, 0}));
  EXPECT_TRUE(sb::CharTokenizer().encode("ACgt").soft_mask.empty());
}

// ---------------------------------------------------------------------------------------------
// The block-wise, vectorised encoders against plain implementations of the documented rules,
// on long random texts with ambiguity codes, gaps and foreign bytes placed around the 4096-byte
// encode blocks.

namespace {

bool is_base(char c) { return std::string_view("ACGTUacgtu").find(c) != std::string_view::npos; }

int base_code(char c, const char* order) {
  char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (u == 'U') u = 'T';
  return static_cast<int>(std::string_view(order).find(u));
}

std::string dirty_dna(size_t n, std::mt19937& rng) {
  const std::string bases = "ACGTacgtU";
  const std::string others = "NnRy-#*";
  std::string s(n, 'A');
  for (auto& c : s) c = rng() % 60 == 0 ? others[rng() % others.size()] : bases[rng() % bases.size()];
  for (size_t at : {4090, 4095, 4096, 4097, 4101, 8191, 8192}) {
    if (at < n && rng() % 2 == 0) s[at] = others[rng() % others.size()];
  }
  return s;
}

std::vector<std::string> dirty_samples() {
  std::mt19937 rng(21);
  std::vector<std::string> v;
  for (size_t n : {0, 1, 5, 6, 7, 100, 4095, 4096, 4097, 4102, 8200, 12001}) v.push_back(dirty_dna(n, rng));
  for (int i = 0; i < 6; ++i) v.push_back(dirty_dna(rng() % 9000, rng));
  return v;
}

Ids kmer_reference(const std::string& s, int k) {
  Ids ids;
  for (size_t i = 0; i + static_cast<size_t>(k) <= s.size(); ++i) {
    int32_t v = 0;
    bool ok = true;
    for (int j = 0; j < k; ++j) {
      ok = ok && is_base(s[i + static_cast<size_t>(j)]);
      v = v * 4 + (ok ? base_code(s[i + static_cast<size_t>(j)], "ACGT") : 0);
    }
    ids.push_back(ok ? 5 + v : 1);
  }
  return ids;
}

Ids ntv2_reference(const std::string& s) {
  Ids ids;
  size_t i = 0;
  while (i < s.size()) {
    size_t end = i;
    while (end < s.size() && is_base(s[end])) ++end;
    size_t p = i;
    for (; p + 6 <= end; p += 6) {
      int32_t v = 0;
      for (size_t j = 0; j < 6; ++j) v = v * 4 + base_code(s[p + j], "ATCG");
      ids.push_back(6 + v);
    }
    for (; p < end; ++p) ids.push_back(4102 + base_code(s[p], "ATCG"));
    if (end < s.size()) ids.push_back(sb::is_ambiguity_code(s[end]) ? 4106 : 0);
    i = end + 1;
  }
  return ids;
}

Ids codon_reference(const std::string& s, size_t frame) {
  auto single = [](char c) -> TokenId {
    if (is_base(c)) return 69 + base_code(c, "ACGT");
    return sb::is_ambiguity_code(c) ? 73 : 1;
  };
  Ids ids;
  size_t p = 0;
  for (; p < std::min(frame, s.size()); ++p) ids.push_back(single(s[p]));
  for (; p + 3 <= s.size(); p += 3) {
    if (is_base(s[p]) && is_base(s[p + 1]) && is_base(s[p + 2])) {
      ids.push_back(5 + 16 * base_code(s[p], "ACGT") + 4 * base_code(s[p + 1], "ACGT") + base_code(s[p + 2], "ACGT"));
    } else {
      for (size_t r = 0; r < 3; ++r) ids.push_back(single(s[p + r]));
    }
  }
  for (; p < s.size(); ++p) ids.push_back(single(s[p]));
  return ids;
}

}  // namespace

TEST(TokenizerReference, OverlappingKmers) {
  for (int k : {3, 5, 6, 8}) {
    const sb::OverlappingKmerTokenizer t(k);
    for (const auto& s : dirty_samples()) ASSERT_EQ(t.encode_ids(s, false), kmer_reference(s, k)) << "k=" << k << " n=" << s.size();
  }
}

TEST(TokenizerReference, Ntv2) {
  const sb::Ntv2KmerTokenizer t;
  for (const auto& s : dirty_samples()) ASSERT_EQ(t.encode_ids(s, false), ntv2_reference(s)) << "n=" << s.size();
}

TEST(TokenizerReference, Codons) {
  for (int frame : {0, 1, 2}) {
    const sb::CodonTokenizer t({frame, 1});
    for (const auto& s : dirty_samples())
      ASSERT_EQ(t.encode_ids(s, false), codon_reference(s, static_cast<size_t>(frame))) << "frame=" << frame << " n=" << s.size();
  }
}
