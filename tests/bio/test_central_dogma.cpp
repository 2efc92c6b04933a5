// Transcription, translation and reverse translation. Oracles: the NCBI genetic codes, the
// Biopython tutorial's worked translation example (section "Translation"), and the CDS features
// of two real RefSeq records whose /translation qualifiers NCBI computed
// (tests/data/bio/leptospira_kirschneri_H1.gbk).
#include <gtest/gtest.h>

#include <cctype>
#include <functional>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bio/alphabet.h"
#include "bio/central_dogma.h"
#include "bio/codon_usage.h"
#include "bio/genetic_code.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace sb = strand::bio;

namespace {

const std::string kData = std::string(STRAND_TEST_DATA) + "/bio/";

// Biopython tutorial: this coding DNA translates to "MAIVMGR*KGAR*" with the standard table,
// "MAIVMGRWKGAR*" with table 2, and "MAIVMGR" when stopping at the first stop.
const std::string kCodingDna = "ATGGCCATTGTAATGGGCCGCTGAAAGGGTGCCCGATAG";

std::string random_sequence(const std::string& letters, size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<size_t> pick(0, letters.size() - 1);
  std::string s(n, ' ');
  for (char& c : s) c = letters[pick(rng)];
  return s;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const strand::InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected InputError";
  return "";
}

// A coding sequence from a GenBank record, with the protein NCBI wrote for it.
struct Cds {
  std::string record;
  std::string location;
  size_t begin = 0;  // 0-based, half open, plus-strand coordinates
  size_t end = 0;
  bool minus = false;
  int table = 1;
  std::string translation;
};

// Reads the complete, single-span CDS features of every record (enough of GenBank for this test:
// features whose location is "a..b" or "complement(a..b)", and the ORIGIN block).
std::vector<std::pair<std::string, std::vector<Cds>>> read_genbank_cds(const std::string& path,
                                                                       std::vector<std::string>& sequences) {
  std::istringstream in(strand::io::read_file(path));
  std::vector<std::pair<std::string, std::vector<Cds>>> records;
  const std::regex span(R"(^(complement\()?(\d+)\.\.(\d+)\)?$)");
  std::string line, record, sequence;
  std::vector<Cds> cds;
  Cds* current = nullptr;
  std::string* open_qualifier = nullptr;
  bool in_origin = false;
  while (std::getline(in, line)) {
    if (line.rfind("LOCUS", 0) == 0) {
      std::istringstream fields(line.substr(5));
      fields >> record;
      sequence.clear();
      cds.clear();
      in_origin = false;
      current = nullptr;
    } else if (line.rfind("ORIGIN", 0) == 0) {
      in_origin = true;
      current = nullptr;
    } else if (line == "//") {
      records.emplace_back(record, cds);
      sequences.push_back(sequence);
    } else if (in_origin) {
      for (const char c : line) {
        if (std::isalpha(static_cast<unsigned char>(c))) sequence += c;
      }
    } else if (line.size() > 21 && line.compare(0, 21, std::string(21, ' ')) != 0 && line[5] != ' ') {
      // A new feature key at column 6.
      current = nullptr;
      open_qualifier = nullptr;
      std::istringstream fields(line);
      std::string key, location;
      fields >> key >> location;
      std::smatch m;
      if (key == "CDS" && std::regex_match(location, m, span)) {
        cds.push_back(Cds{record, location, std::stoul(m[2]) - 1, std::stoul(m[3]), m[1].matched, 1, ""});
        current = &cds.back();
      }
    } else if (current != nullptr && line.size() > 21 && line.compare(0, 21, std::string(21, ' ')) == 0) {
      const std::string q = line.substr(21);
      if (q.rfind("/transl_table=", 0) == 0) {
        current->table = std::stoi(q.substr(14));
        open_qualifier = nullptr;
      } else if (q.rfind("/translation=\"", 0) == 0) {
        current->translation = q.substr(14);
        open_qualifier = &current->translation;
      } else if (q.rfind("/pseudo", 0) == 0 || q.rfind("/transl_except", 0) == 0 ||
                 (q.rfind("/codon_start=", 0) == 0 && q != "/codon_start=1")) {
        cds.pop_back();
        current = nullptr;
        open_qualifier = nullptr;
      } else if (q[0] == '/') {
        open_qualifier = nullptr;
      } else if (open_qualifier != nullptr) {
        *open_qualifier += q;
      }
      if (open_qualifier != nullptr && !open_qualifier->empty() && open_qualifier->back() == '"') {
        open_qualifier->pop_back();
        open_qualifier = nullptr;
      }
    }
  }
  return records;
}

}  // namespace

TEST(Transcription, TToU) {
  EXPECT_EQ(sb::transcribe("ATGCtagc"), "AUGCuagc");
  EXPECT_EQ(sb::transcribe("ATNRYT-."), "AUNRYU-.");
  EXPECT_EQ(sb::reverse_transcribe("AUGCuagc"), "ATGCtagc");
  EXPECT_EQ(sb::transcribe(""), "");
}

TEST(Transcription, RejectsTheOtherAlphabet) {
  EXPECT_NE(message_of([] { sb::transcribe("ACGU"); }).find("position 3"), std::string::npos);
  EXPECT_THROW(sb::transcribe("ACGu"), strand::InputError);
  EXPECT_THROW(sb::reverse_transcribe("ACGT"), strand::InputError);
  EXPECT_THROW(sb::transcribe("ACGX"), strand::InputError);
  EXPECT_THROW(sb::reverse_transcribe("AC GU"), strand::InputError);
}

TEST(Transcription, RoundTrips) {
  const std::string dna = random_sequence("ACGTRYSWKMBDHVNacgtn-", 5000, 11);
  EXPECT_EQ(sb::reverse_transcribe(sb::transcribe(dna)), dna);
  const std::string rna = random_sequence("ACGURYSWKMBDHVNacgun.", 5000, 12);
  EXPECT_EQ(sb::transcribe(sb::reverse_transcribe(rna)), rna);
  // Transcription commutes with reverse complement.
  EXPECT_EQ(sb::transcribe(sb::reverse_complement(dna)), sb::reverse_complement(sb::transcribe(dna), true));
}

TEST(Translation, BiopythonTutorialExample) {
  EXPECT_EQ(sb::translate(kCodingDna), "MAIVMGR*KGAR*");
  sb::TranslateOptions mito;
  mito.table = 2;
  EXPECT_EQ(sb::translate(kCodingDna, mito), "MAIVMGRWKGAR*");
  sb::TranslateOptions to_stop;
  to_stop.to_stop = true;
  EXPECT_EQ(sb::translate(kCodingDna, to_stop), "MAIVMGR");
  // The messenger RNA translates the same.
  EXPECT_EQ(sb::translate(sb::transcribe(kCodingDna)), "MAIVMGR*KGAR*");
}

TEST(Translation, FramesAndStrands) {
  sb::TranslateOptions o;
  o.frame = 1;  // TGG CCA TTG TAA TGG GCC GCT GAA AGG GTG CCC GAT (AG)
  EXPECT_EQ(sb::translate(kCodingDna, o), "WPL*WAAERVPD");
  o.frame = 2;  // GGC CAT TGT AAT GGG CCG CTG AAA GGG TGC CCG ATA (G)
  EXPECT_EQ(sb::translate(kCodingDna, o), "GHCNGPLKGCPI");
  const std::string minus = sb::reverse_complement(kCodingDna);
  for (int frame = 0; frame < 3; ++frame) {
    sb::TranslateOptions plus_opts, minus_opts;
    plus_opts.frame = minus_opts.frame = frame;
    minus_opts.strand = sb::Strand::Minus;
    EXPECT_EQ(sb::translate(kCodingDna, minus_opts), sb::translate(minus, plus_opts)) << frame;
    EXPECT_EQ(sb::translate(minus, minus_opts), sb::translate(kCodingDna, plus_opts)) << frame;
  }
  sb::TranslateOptions rc;
  rc.strand = sb::Strand::Minus;  // reverse complement: CTA TCG GGC ACC CTT TCA GCG GCC CAT TAC AAT GGC CAT
  EXPECT_EQ(sb::translate(kCodingDna, rc), "LSGTLSAAHYNGH");
}

TEST(Translation, SixFrames) {
  const auto frames = sb::six_frame_translate(kCodingDna, 1);
  const char* expected[] = {"MAIVMGR*KGAR*", "WPL*WAAERVPD", "GHCNGPLKGCPI"};
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(frames[k].frame, k % 3);
    EXPECT_EQ(frames[k].strand, k < 3 ? sb::Strand::Plus : sb::Strand::Minus);
    sb::TranslateOptions o;
    o.frame = k % 3;
    o.strand = frames[k].strand;
    EXPECT_EQ(frames[k].protein, sb::translate(kCodingDna, o)) << k;
    if (k < 3) {
      EXPECT_EQ(frames[k].protein, expected[k]);
    }
  }
  EXPECT_EQ(frames[3].protein, "LSGTLSAAHYNGH");
}

TEST(Translation, TrailingPartialCodon) {
  sb::TranslateOptions o;
  EXPECT_EQ(sb::translate("ATGGC", o), "M");
  o.partial = sb::PartialCodon::PadN;
  EXPECT_EQ(sb::translate("ATGGC", o), "MA");  // GCN is Ala
  EXPECT_EQ(sb::translate("ATGG", o), "MX");   // GNN is undetermined
  EXPECT_EQ(sb::translate("ATGTA", o), "MX");  // TAN: Tyr or stop
  o.partial = sb::PartialCodon::Error;
  EXPECT_EQ(sb::translate("ATGGCC", o), "MA");
  const std::string what = message_of([&] { sb::translate("ATGGC", o); });
  EXPECT_NE(what.find("leaves 2 bases 'GC'"), std::string::npos) << what;
  // A stop ends translation before the leftover is reached.
  o.to_stop = true;
  EXPECT_EQ(sb::translate("ATGTAAG", o), "M");
}

TEST(Translation, FirstCodonAsStart) {
  sb::TranslateOptions o;
  o.table = 11;
  EXPECT_EQ(sb::translate("GTGAAATAA", o), "VK*");
  o.first_codon_as_start = true;
  EXPECT_EQ(sb::translate("GTGAAATAA", o), "MK*");
  EXPECT_EQ(sb::translate("GTGGTGTAA", o), "MV*");  // only the first codon
  EXPECT_EQ(sb::translate("AAAGTG", o), "KV");      // not a start codon: unchanged
  o.table = 1;
  EXPECT_EQ(sb::translate("GTGAAATAA", o), "VK*");  // GTG does not initiate in table 1
  EXPECT_EQ(sb::translate("TTGAAATAA", o), "MK*");
}

TEST(Translation, AmbiguousBasesAndCase) {
  EXPECT_EQ(sb::translate("atgGCNtar"), "MA*");
  EXPECT_EQ(sb::translate("NNNYTN"), "XX");
}

TEST(Translation, BadInput) {
  sb::TranslateOptions o;
  o.frame = 3;
  EXPECT_THROW(sb::translate("ATG", o), strand::InputError);
  o.frame = -1;
  EXPECT_THROW(sb::translate("ATG", o), strand::InputError);
  o.frame = 2;
  EXPECT_EQ(sb::translate("AT", o), "");
  o.frame = 0;
  o.table = 7;
  EXPECT_THROW(sb::translate("ATG", o), strand::InputError);
  const std::string what = message_of([] { sb::translate("ATGXTG"); });
  EXPECT_NE(what.find("'X' at position 3"), std::string::npos) << what;
  EXPECT_THROW(sb::translate("ATG-TG"), strand::InputError);
  EXPECT_THROW(sb::six_frame_translate("ATG*", 1), strand::InputError);
}

// Every complete CDS of two real RefSeq records translates to NCBI's /translation followed by the
// stop codon, on both strands, with alternative start codons read as Met.
TEST(Translation, RealGenBankCdsMatchNcbiTranslation) {
  std::vector<std::string> sequences;
  const auto records = read_genbank_cds(kData + "leptospira_kirschneri_H1.gbk", sequences);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].first, "NZ_AHMY02000061");
  EXPECT_EQ(sequences[0].size(), 15886u);
  EXPECT_EQ(sequences[1].size(), 3065u);
  int checked = 0, minus = 0;
  std::set<std::string> starts;
  for (size_t r = 0; r < records.size(); ++r) {
    for (const Cds& cds : records[r].second) {
      ASSERT_FALSE(cds.translation.empty()) << cds.record << " " << cds.location;
      ASSERT_LE(cds.end, sequences[r].size());
      const std::string_view span = std::string_view(sequences[r]).substr(cds.begin, cds.end - cds.begin);
      sb::TranslateOptions o;
      o.table = cds.table;
      o.strand = cds.minus ? sb::Strand::Minus : sb::Strand::Plus;
      o.first_codon_as_start = true;
      o.partial = sb::PartialCodon::Error;
      EXPECT_EQ(sb::translate(span, o), cds.translation + "*") << cds.record << " " << cds.location;
      o.to_stop = true;
      EXPECT_EQ(sb::translate(span, o), cds.translation) << cds.record << " " << cds.location;
      const std::string oriented = cds.minus ? sb::reverse_complement(span) : std::string(span);
      starts.insert(sb::normalize_acgtn(oriented.substr(0, 3)));
      ++checked;
      minus += cds.minus;
    }
  }
  EXPECT_EQ(checked, 14);
  EXPECT_GE(minus, 5);
  // The records use alternative initiators, so the start rule is exercised.
  EXPECT_TRUE(starts.count("GTG"));
  EXPECT_TRUE(starts.count("TTG"));
  EXPECT_TRUE(starts.count("ATT") || starts.count("ATC") || starts.count("ATA"));
}

TEST(ReverseTranslation, DegenerateRule) {
  EXPECT_EQ(sb::reverse_translate("MLS*"), "ATGYTNWSNTRR");
  EXPECT_EQ(sb::reverse_translate("mkx"), "ATGAARNNN");
  sb::ReverseTranslateOptions o;
  o.rna = true;
  EXPECT_EQ(sb::reverse_translate("MF", o), "AUGUUY");
}

TEST(ReverseTranslation, MostFrequentRuleFollowsUsageAndTable) {
  const sb::CodonUsage human = sb::CodonUsage::read_emboss(kData + "Ehuman.cut");
  sb::ReverseTranslateOptions o;
  o.rule = sb::ReverseTranslationRule::MostFrequent;
  o.usage = &human;
  // Ehuman.cut: CTG is the most used Leu codon (1295575), CGG the most used Arg codon (376554 vs
  // AGG 375881), TGA the most used stop (36263).
  EXPECT_EQ(sb::reverse_translate("MLRW*", o), "ATGCTGCGGTGGTGA");
  // Table 2: AGA/AGG are stops, and AGG (375881) outnumbers TAA, TAG and AGA.
  o.table = 2;
  EXPECT_EQ(sb::reverse_translate("R*", o), "CGGAGG");
  o.rna = true;
  o.table = 1;
  EXPECT_EQ(sb::reverse_translate("L", o), "CUG");
}

TEST(ReverseTranslation, RoundTripsForEveryTable) {
  const sb::CodonUsage human = sb::CodonUsage::read_emboss(kData + "Ehuman.cut");
  const sb::CodonUsage ecoli = sb::CodonUsage::read_emboss(kData + "Eecoli.cut");
  for (const int id : sb::GeneticCode::ncbi_ids()) {
    const sb::GeneticCode& code = sb::GeneticCode::ncbi(id);
    std::set<char> letters(code.ncbieaa().begin(), code.ncbieaa().end());
    std::string protein(letters.begin(), letters.end());
    protein += "X" + protein;
    sb::TranslateOptions back;
    back.table = id;
    sb::ReverseTranslateOptions o;
    o.table = id;
    for (const sb::CodonUsage* usage : {&human, &ecoli}) {
      o.rule = sb::ReverseTranslationRule::MostFrequent;
      o.usage = usage;
      EXPECT_EQ(sb::translate(sb::reverse_translate(protein, o), back), protein) << id << " " << usage->source();
    }
    o.rule = sb::ReverseTranslationRule::ExactDegenerate;
    EXPECT_EQ(sb::translate(sb::reverse_translate(protein, o), back), protein) << id;
    // The lossless rule: every synonymous codon is an expansion of the emitted codon, and the
    // codon translates back exactly when the residue's codons fill the product set.
    o.rule = sb::ReverseTranslationRule::Degenerate;
    const std::string dna = sb::reverse_translate(protein, o);
    const std::string again = sb::translate(dna, back);
    ASSERT_EQ(dna.size(), protein.size() * 3);
    for (size_t i = 0; i < protein.size(); ++i) {
      const std::string codon = dna.substr(i * 3, 3);
      if (protein[i] == 'X') {
        EXPECT_EQ(codon, "NNN");
        continue;
      }
      for (const std::string& syn : code.codons_for(protein[i])) {
        for (int p = 0; p < 3; ++p) {
          EXPECT_TRUE(sb::base_mask(codon[p]) & sb::base_mask(syn[p])) << id << " " << protein[i] << " " << codon;
        }
      }
      EXPECT_TRUE(again[i] == protein[i] || again[i] == 'X') << id << " " << protein[i];
      EXPECT_EQ(again[i] == protein[i], codon == code.exact_degenerate_codon(protein[i])) << id << " " << protein[i];
    }
  }
}

TEST(ReverseTranslation, BadInput) {
  EXPECT_NE(message_of([] { sb::reverse_translate("MKB"); }).find("position 2"), std::string::npos);
  EXPECT_THROW(sb::reverse_translate("MK-"), strand::InputError);
  EXPECT_THROW(sb::reverse_translate("MK1"), strand::InputError);
  sb::ReverseTranslateOptions o;
  o.table = 27;  // no codon translates to '*' in table 27
  EXPECT_THROW(sb::reverse_translate("M*", o), strand::InputError);
  o.table = 1;
  o.rule = sb::ReverseTranslationRule::MostFrequent;
  EXPECT_NE(message_of([&] { sb::reverse_translate("M", o); }).find("codon usage"), std::string::npos);
  o.table = 99;
  EXPECT_THROW(sb::reverse_translate("M", o), strand::InputError);
}
