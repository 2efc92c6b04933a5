// Annotation parsers (bio/annotation): GFF3, GenBank, Stockholm, NCBI taxonomy, near-identity
// groups. The real-file tests read files of the Debian packages any2fasta-examples, augustus-doc,
// infernal and emboss-data (scripts/setup.sh installs them) and fail naming the package when one
// is missing; the biology is checked where it is cheap (CDS translations, family sizes, lineages).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "bio/annotation/genbank.h"
#include "bio/annotation/gff.h"
#include "bio/annotation/near_identity.h"
#include "bio/annotation/stockholm.h"
#include "bio/annotation/taxonomy.h"
#include "libseq/io/text_lines.h"
#include "bio/central_dogma.h"
#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "tests/bio/test_io_common.h"

namespace strand::bio::annotation {
namespace {

using io::test::installed;
using io::test::message_of;
using strand::io::TextLines;

const std::string kGff = "/usr/share/doc/any2fasta/examples/test.gff.gz";
const std::string kGbk = "/usr/share/doc/any2fasta/examples/test.gbk.gz";
const std::string kFlyTrain = "/usr/share/doc/augustus/tutorial/results/genes.gb.train";
const std::string kFlyTest = "/usr/share/doc/augustus/tutorial/results/genes.gb.test";
const std::string kInfernal = "/usr/share/doc/infernal/examples/testsuite/";
const std::string kTaxonomy = "/usr/share/EMBOSS/data/TAXONOMY/";

Gff3 gff_from(const std::string& text) {
  TextLines lines = TextLines::from_string(text, "mem.gff");
  return parse_gff3(lines);
}
std::vector<GenBankRecord> genbank_from(const std::string& text) {
  TextLines lines = TextLines::from_string(text, "mem.gb");
  return parse_genbank(lines);
}
std::vector<StockholmAlignment> stockholm_from(const std::string& text) {
  TextLines lines = TextLines::from_string(text, "mem.sto");
  return parse_stockholm(lines);
}

TEST(TextLines, CrlfAndLastLineWithoutNewline) {
  TextLines t = TextLines::from_string("a\r\n\nb c\r\nlast", "mem");
  std::string_view line;
  std::vector<std::string> got;
  while (t.next(line)) got.emplace_back(line);
  EXPECT_EQ(got, (std::vector<std::string>{"a", "", "b c", "last"}));
  EXPECT_EQ(t.line_number(), 4);
}

TEST(TextLines, GzipFileAcrossBlocks) {
  ASSERT_TRUE(installed(kGff, "any2fasta-examples"));
  TextLines t = TextLines::open(kGff);
  std::string_view line;
  int64_t n = 0, longest = 0;
  while (t.next(line)) {
    ++n;
    longest = std::max<int64_t>(longest, static_cast<int64_t>(line.size()));
  }
  EXPECT_GT(n, 80000);  // 4,929 GFF lines + 4.93 Mbp of FASTA at 60 per line
  EXPECT_EQ(t.line_number(), n);
  EXPECT_GT(longest, 60);
}

TEST(TextLines, MissingFileIsIoError) {
  EXPECT_THROW(TextLines::open("/nonexistent/strand/file.gff"), IoError);
}

// The Prokka annotation of E. coli: every CDS, cut from the embedded FASTA and translated with
// the bacterial code, is a complete ORF (start codon, one stop at the end, no internal stop).
TEST(Gff3, ProkkaEcoliCdsTranslate) {
  ASSERT_TRUE(installed(kGff, "any2fasta-examples"));
  const Gff3 gff = read_gff3(kGff);
  std::map<std::string, int> types;
  for (const auto& f : gff.features) ++types[f.type];
  EXPECT_EQ(types["CDS"], 4611);
  EXPECT_EQ(types["tRNA"], 77);
  EXPECT_EQ(types["rRNA"], 12);
  EXPECT_EQ(types["tmRNA"], 1);
  ASSERT_EQ(gff.sequences.size(), 226u);
  ASSERT_EQ(gff.regions.size(), 226u);
  int64_t total = 0;
  for (const auto& r : gff.regions) {
    const GffSequence* s = gff.sequence(r.seqid);
    ASSERT_NE(s, nullptr) << r.seqid;
    EXPECT_EQ(static_cast<int64_t>(s->seq.size()), r.end - r.begin) << r.seqid;
    total += r.end - r.begin;
  }
  EXPECT_EQ(total, 4930819);
  int checked = 0;
  for (const auto& f : gff.features) {
    if (f.type != "CDS") continue;
    SCOPED_TRACE(f.attribute("ID"));
    EXPECT_EQ(f.phase, 0);
    const std::string_view contig = gff.sequence(f.seqid)->seq;
    std::string dna(contig.substr(static_cast<size_t>(f.begin), static_cast<size_t>(f.end - f.begin)));
    TranslateOptions t;
    t.table = 11;
    t.strand = f.strand == '-' ? Strand::Minus : Strand::Plus;
    t.first_codon_as_start = true;
    const std::string protein = translate(dna, t);
    ASSERT_EQ(dna.size() % 3, 0u);
    EXPECT_EQ(protein.front(), 'M');
    EXPECT_EQ(protein.back(), '*');
    EXPECT_EQ(protein.find('*'), protein.size() - 1);
    ++checked;
  }
  EXPECT_EQ(checked, 4611);
  const auto& first = gff.features.front();
  EXPECT_EQ(first.seqid, "BAC_00001");
  EXPECT_EQ(first.begin, 325);
  EXPECT_EQ(first.end, 1240);
  EXPECT_EQ(first.strand, '-');
  EXPECT_EQ(first.attribute("gene"), "dmlR_1");
  EXPECT_EQ(first.attribute("product"), "HTH-type transcriptional regulator DmlR");
}

TEST(Gff3, AttributesDecodedAndDirectives) {
  const Gff3 g = gff_from(
      "##gff-version 3\n##sequence-region c1 1 20\n"
      "c1\tsrc\tgene\t2\t10\t.\t+\t.\tID=g1;Note=a%3Bb%2Cc;Empty=\n"
      "c1\tsrc\tCDS\t2\t10\t0.5\t-\t2\tID=c1;Parent=g1;\n"
      "##FASTA\n>c1 desc\nACGTACGTAC\nGTACGTACGT\n");
  ASSERT_EQ(g.features.size(), 2u);
  EXPECT_EQ(g.features[0].attribute("Note"), "a;b,c");
  EXPECT_EQ(g.features[0].attribute("Empty"), "");
  EXPECT_EQ(g.features[0].begin, 1);
  EXPECT_EQ(g.features[0].end, 10);
  EXPECT_EQ(g.features[1].phase, 2);
  EXPECT_EQ(g.features[1].strand, '-');
  EXPECT_EQ(g.features[1].score, "0.5");
  ASSERT_EQ(g.sequences.size(), 1u);
  EXPECT_EQ(g.sequences[0].description, "desc");
  EXPECT_EQ(g.sequences[0].seq.size(), 20u);
  ASSERT_EQ(g.regions.size(), 1u);
  EXPECT_EQ(g.regions[0].end, 20);
}

TEST(Gff3, BadLinesNameLineAndProblem) {
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"c1\tsrc\tgene\t2\t10\t.\t+\t.\n", "expected 9 tab-separated columns"},
      {"c1\tsrc\tgene\t10\t2\t.\t+\t.\t.\n", "is after end"},
      {"c1\tsrc\tgene\t0\t2\t.\t+\t.\t.\n", "positive integer"},
      {"c1\tsrc\tgene\tx\t2\t.\t+\t.\t.\n", "positive integer"},
      {"c1\tsrc\tgene\t1\t2\t.\t*\t.\t.\n", "strand"},
      {"c1\tsrc\tCDS\t1\t2\t.\t+\t3\t.\n", "phase"},
      {"c1\tsrc\tgene\t1\t2\t.\t+\t.\tID=a%zz\n", "percent escape"},
      {"c1\tsrc\tgene\t1\t2\t.\t+\t.\tnovalue\n", "tag=value"},
      {"c1\tsrc\tgene\t1\t2\t.\t+\t.\tID=a;ID=b\n", "appears twice"},
      {"c1\tsrc\tgene\t1\t2\t.\t+\t.\t.\n##FASTA\n>c2\nACGT\n", "does not contain"},
      {"##FASTA\nACGT\n", "before the first '>'"},
      {"##FASTA\n>c1\nAC GT\n", "unexpected character"},
      {">c1\nACGT\n", "##FASTA"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string msg = message_of<ParseError>([&] { gff_from(c.text); });
    EXPECT_NE(msg.find("mem.gff:"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(GenBankLocation, Operators) {
  auto p = parse_location("complement(join(1..10,20..30))", "x", 1);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].begin, 19);
  EXPECT_EQ(p[0].end, 30);
  EXPECT_EQ(p[0].strand, '-');
  EXPECT_EQ(p[1].begin, 0);
  EXPECT_EQ(p[1].end, 10);
  p = parse_location("join(complement(5..8), 1..2)", "x", 1);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0].strand, '-');
  EXPECT_EQ(p[1].strand, '+');
  p = parse_location("<1..>50", "x", 1);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_TRUE(p[0].partial_begin);
  EXPECT_TRUE(p[0].partial_end);
  p = parse_location("7", "x", 1);
  EXPECT_EQ(p[0].begin, 6);
  EXPECT_EQ(p[0].end, 7);
  p = parse_location("5^6", "x", 1);
  EXPECT_EQ(p[0].begin, 5);
  EXPECT_EQ(p[0].end, 5);
  EXPECT_EQ(location_sequence(parse_location("complement(join(1..2,5..6))", "x", 1), "AACCGGTT"), "CCTT");
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "complement(";
  deep += "1..2" + std::string(40, ')');
  EXPECT_NE(message_of<ParseError>([&] { parse_location(deep, "f.gb", 3); }).find("nested"), std::string::npos);
  for (const char* bad : {"J00194.1:100..202", "join(1..10", "10..5", "", "join(1..2,,3..4)", "1..2x", "0..5", "5^7"}) {
    SCOPED_TRACE(bad);
    const std::string msg = message_of<ParseError>([&] { parse_location(bad, "f.gb", 12); });
    EXPECT_NE(msg.find("f.gb:12"), std::string::npos) << msg;
  }
}

// The AUGUSTUS tutorial's fly gene loci: 486 + 100 records, one CDS each; every CDS translates
// without an internal stop in its frame (length % 3 bases are a 5'-partial first codon).
TEST(GenBank, AugustusFlyLociTranslate) {
  ASSERT_TRUE(installed(kFlyTrain, "augustus-doc"));
  ASSERT_TRUE(installed(kFlyTest, "augustus-doc"));
  const auto train = read_genbank(kFlyTrain);
  const auto test = read_genbank(kFlyTest);
  EXPECT_EQ(train.size(), 486u);
  EXPECT_EQ(test.size(), 100u);
  EXPECT_EQ(train.front().name, "chr2R_23932-26830");
  EXPECT_EQ(train.front().length, 2899);
  ASSERT_EQ(train.front().features.size(), 2u);  // source + CDS
  EXPECT_EQ(train.front().features[1].location, "join(1001..1387,1563..1839,1892..1899)");
  EXPECT_EQ(train.front().features[1].qualifier("gene"), "38");
  int64_t cds = 0, complement = 0;
  for (const auto* set : {&train, &test}) {
    for (const auto& r : *set) {
      EXPECT_EQ(static_cast<int64_t>(r.sequence.size()), r.length);
      for (const auto& f : r.features) {
        if (f.key != "CDS") continue;
        SCOPED_TRACE(r.name + " " + f.location);
        ++cds;
        complement += f.parts.front().strand == '-';
        const std::string dna = location_sequence(f.parts, r.sequence);
        TranslateOptions t;
        t.frame = static_cast<int>(dna.size() % 3);
        const std::string protein = translate(dna, t);
        const size_t stop = protein.find('*');
        EXPECT_TRUE(stop == std::string::npos || stop == protein.size() - 1) << protein;
      }
    }
  }
  EXPECT_EQ(cds, 586);
  EXPECT_GT(complement, 200);
}

// NCBI RefSeq GenBank (Leptospira contigs): multi-line qualifiers, partial locations, /pseudo.
// Our translation of each CDS location equals the record's own /translation.
TEST(GenBank, RefSeqTranslationsMatch) {
  ASSERT_TRUE(installed(kGbk, "any2fasta-examples"));
  const auto records = read_genbank(kGbk);
  EXPECT_EQ(records.size(), 75u);
  int64_t cds = 0, compared = 0;
  for (const auto& r : records) {
    EXPECT_FALSE(r.definition.empty());
    for (const auto& f : r.features) {
      if (f.key != "CDS") continue;
      ++cds;
      if (!f.has_qualifier("translation") || f.has_qualifier("transl_except")) continue;
      SCOPED_TRACE(r.name + " " + f.location);
      const std::string dna = location_sequence(f.parts, r.sequence);
      const auto& first = f.parts.front();
      const bool partial5 = first.strand == '+' ? first.partial_begin : first.partial_end;
      TranslateOptions t;
      t.table = std::stoi(f.qualifier("transl_table"));
      t.frame = f.has_qualifier("codon_start") ? std::stoi(f.qualifier("codon_start")) - 1 : 0;
      t.first_codon_as_start = !partial5;
      t.to_stop = true;
      EXPECT_EQ(translate(dna, t), f.qualifier("translation"));
      ++compared;
    }
  }
  EXPECT_EQ(cds, 4162);
  EXPECT_GT(compared, 3600);
}

TEST(GenBank, BadRecordsNameLine) {
  const std::string head = "LOCUS       x   10 bp    DNA\nFEATURES             Location/Qualifiers\n";
  struct Case {
    std::string text;
    const char* expect;
  };
  const Case cases[] = {
      {"FOO bar\n", "LOCUS"},
      {"LOCUS\n//\n", "LOCUS name length"},
      {head + "     CDS             1..20\nORIGIN\n        1 acgtacgtac\n//\n", "past the record length"},
      {head + "     CDS             1..5\n                     /note=\"open\nORIGIN\n", "unterminated quoted value"},
      {head + "     CDS             1..5\nORIGIN\n        1 acgtacgt\n//\n", "ORIGIN holds 8"},
      {head + "     CDS             1..5\nORIGIN\n        1 acgt#cgtac\n//\n", "unexpected character"},
      {head + "     CDS             1..5\n", "ends inside record"},
      {head + "     CDS             x..5\nORIGIN\n        1 acgtacgtac\n//\n", "bad location"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string msg = message_of<ParseError>([&] { genbank_from(c.text); });
    EXPECT_NE(msg.find("mem.gb:"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
  // A quoted value spanning lines, a value with "" and a /flag qualifier.
  const auto r = genbank_from(head +
                              "     CDS             complement(2..\n                     5)\n"
                              "                     /note=\"a \"\"quoted\"\"\n                     word\"\n"
                              "                     /pseudo\nORIGIN\n        1 acgtacgtac\n//\n");
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].features.size(), 1u);
  EXPECT_EQ(r[0].features[0].location, "complement(2..5)");
  EXPECT_EQ(r[0].features[0].qualifier("note"), "a \"quoted\" word");
  EXPECT_TRUE(r[0].features[0].has_qualifier("pseudo"));
  EXPECT_EQ(location_sequence(r[0].features[0].parts, r[0].sequence), "tacg");
}

TEST(Stockholm, InfernalFamilies) {
  ASSERT_TRUE(installed(kInfernal + "4.sto", "infernal"));
  const auto four = read_stockholm(kInfernal + "4.sto");
  ASSERT_EQ(four.size(), 4u);
  const std::pair<const char*, size_t> expect[] = {{"tRNA", 967}, {"Vault", 75}, {"snR75", 62}, {"Plant_SRP", 64}};
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(four[i].gf_value("ID"), expect[i].first);
    EXPECT_EQ(four[i].names.size(), expect[i].second);
    ASSERT_EQ(four[i].gc.count("SS_cons"), 1u);
    EXPECT_EQ(static_cast<int64_t>(four[i].gc.at("SS_cons").size()), four[i].columns());
  }
  EXPECT_EQ(four[0].gf_value("AC"), "RF00005");
  // tRNAs are about 70-95 nt once the gaps are removed.
  for (const auto& row : four[0].rows) {
    const auto n = ungapped_upper(row).size();
    EXPECT_GE(n, 50u);
    EXPECT_LE(n, 120u);
  }
  const auto u = read_stockholm(kInfernal + "3.4.12.rf.stk");
  ASSERT_EQ(u.size(), 3u);
  size_t total = 0;
  for (const auto& a : u) total += a.names.size();
  EXPECT_EQ(total, 198u);
  EXPECT_EQ(u[2].gf_value("ID"), "U3");
  const auto p = read_stockholm(kInfernal + "rnaseP-eubact.sto");
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].names.size(), 340u);
}

TEST(Stockholm, InterleavedBlocksAndErrors) {
  const auto a = stockholm_from(
      "# STOCKHOLM 1.0\n#=GF ID fam\n#=GS s1 AC X1\ns1 AC-G\ns2 A.UG\n#=GC SS_cons <..>\n\n"
      "s1 UU\ns2 UU\n#=GC SS_cons ..\n//\n");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0].rows[0], "AC-GUU");
  EXPECT_EQ(a[0].rows[1], "A.UGUU");
  EXPECT_EQ(a[0].gc.at("SS_cons"), "<..>..");
  EXPECT_EQ(a[0].gs.at("s1").at("AC"), "X1");
  EXPECT_EQ(ungapped_upper(a[0].rows[1]), "AUGUU");
  struct Case {
    const char* text;
    const char* expect;
  };
  const Case cases[] = {
      {"s1 ACGU\n//\n", "STOCKHOLM"},
      {"# STOCKHOLM 1.0\ns1 ACGU\ns2 ACG\n//\n", "columns"},
      {"# STOCKHOLM 1.0\ns1 ACGU\n", "ends inside"},
      {"# STOCKHOLM 1.0\n//\n", "without sequences"},
      {"# STOCKHOLM 1.0\ns1\n//\n", "no aligned row"},
      {"# STOCKHOLM 1.0\ns1 ACGU\n#=GC SS_cons ..\n//\n", "#=GC SS_cons"},
      {"# STOCKHOLM 1.0\ns1 ACGU\n# STOCKHOLM 1.0\n", "missing '//'"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    const std::string msg = message_of<ParseError>([&] { stockholm_from(c.text); });
    EXPECT_NE(msg.find("mem.sto:"), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
  }
}

TEST(NcbiTaxonomy, SuperkingdomsOfKnownOrganisms) {
  ASSERT_TRUE(installed(kTaxonomy + "nodes.dmp", "emboss-data"));
  TaxonomyLoadOptions o;
  o.names = {"Homo sapiens", "Escherichia coli", "Dengue virus 3", "Methanocaldococcus jannaschii", "Bacillus"};
  const NcbiTaxonomy t = NcbiTaxonomy::load(kTaxonomy + "nodes.dmp", kTaxonomy + "names.dmp", o);
  EXPECT_GT(t.node_count(), 1000000);
  const std::pair<const char*, const char*> expect[] = {{"Homo sapiens", "Eukaryota"},
                                                         {"Escherichia coli", "Bacteria"},
                                                         {"Dengue virus 3", "Viruses"},
                                                         {"Methanocaldococcus jannaschii", "Archaea"}};
  for (const auto& [name, kingdom] : expect) {
    SCOPED_TRACE(name);
    const auto ids = t.lookup(name);
    ASSERT_FALSE(ids.empty());
    const int64_t sk = t.ancestor_with_rank(ids.front(), "superkingdom");
    ASSERT_GT(sk, 0);
    EXPECT_EQ(t.scientific_name(sk), kingdom);
  }
  EXPECT_EQ(t.lookup("Homo sapiens"), std::vector<int64_t>{9606});
  EXPECT_EQ(t.rank(9606), "species");
  EXPECT_EQ(t.parent(9606), 9605);
  EXPECT_EQ(t.ancestor_with_rank(9606, "genus"), 9605);
  EXPECT_EQ(t.ancestor_with_rank(1, "superkingdom"), -1);
  // "Bacillus" names both a bacterial genus and a stick-insect genus.
  std::set<std::string> kingdoms;
  for (const int64_t id : t.lookup("Bacillus")) kingdoms.insert(t.scientific_name(t.ancestor_with_rank(id, "superkingdom")));
  EXPECT_EQ(kingdoms, (std::set<std::string>{"Bacteria", "Eukaryota"}));
  EXPECT_TRUE(t.lookup("Not an organism").empty());
  EXPECT_THROW(t.rank(999999999), InputError);
}

TEST(NcbiTaxonomy, MalformedDumpNamesLine) {
  io::test::TempDir dir;
  {
    std::FILE* f = std::fopen(dir.file("nodes.dmp").c_str(), "w");
    std::fputs("1\t|\t1\t|\tno rank\t|\n2\t|\t1\t|\tsuperkingdom\t|\n3\t|\t7\t|\tspecies\t|\n", f);
    std::fclose(f);
    f = std::fopen(dir.file("names.dmp").c_str(), "w");
    std::fputs("1\t|\troot\t|\t\t|\tscientific name\t|\n", f);
    std::fclose(f);
  }
  std::string msg = message_of<ParseError>(
      [&] { NcbiTaxonomy::load(dir.file("nodes.dmp"), dir.file("names.dmp")); });
  EXPECT_NE(msg.find("parent 7"), std::string::npos) << msg;
  {
    std::FILE* f = std::fopen(dir.file("nodes.dmp").c_str(), "w");
    std::fputs("1\t|\t1\t|\tno rank\t|\nx\t|\t1\t|\tspecies\t|\n", f);
    std::fclose(f);
  }
  msg = message_of<ParseError>([&] { NcbiTaxonomy::load(dir.file("nodes.dmp"), dir.file("names.dmp")); });
  EXPECT_NE(msg.find("nodes.dmp:2"), std::string::npos) << msg;
}

std::string random_protein(Rng& rng, size_t n) {
  static const char kAa[] = "ACDEFGHIKLMNPQRSTVWY";
  std::string s;
  for (size_t i = 0; i < n; ++i) s.push_back(kAa[rng.uniform(20)]);
  return s;
}

TEST(NearIdentity, GroupsIdenticalAndNearIdenticalOnly) {
  Rng rng(7);
  const std::string a = random_protein(rng, 300);
  std::string a_mut = a;
  a_mut[100] = a[100] == 'W' ? 'Y' : 'W';  // one substitution: 290/300 5-mers shared
  std::string a_far = a;
  for (size_t i = 0; i < a_far.size(); i += 6) a_far[i] = a_far[i] == 'W' ? 'Y' : 'W';  // 83 % identity
  const std::string b = random_protein(rng, 300);
  std::string a_lower = a;
  for (char& c : a_lower) c = static_cast<char>(c + 32);
  const std::vector<std::string> seqs = {b, a, a_mut, a_far, a_lower, "MK", "MK", "MKV"};
  const auto g = near_identity_groups(seqs);
  EXPECT_EQ(g[0], 0);
  EXPECT_EQ(g[1], 1);
  EXPECT_EQ(g[2], 1);
  EXPECT_EQ(g[3], 3);  // 83 % identity is not near-identical
  EXPECT_EQ(g[4], 1);  // case-insensitive
  EXPECT_EQ(g[5], 5);
  EXPECT_EQ(g[6], 5);  // shorter than k: identical only
  EXPECT_EQ(g[7], 7);
  EXPECT_NEAR(kmer_jaccard(a, a_mut, 5), 291.0 / 301.0, 0.02);
  EXPECT_LT(kmer_jaccard(a, a_far, 5), 0.2);
  EXPECT_EQ(kmer_jaccard("ACGT", "ACGT", 5), 1.0);
  EXPECT_EQ(kmer_jaccard("ACGT", "ACGA", 5), 0.0);
  EXPECT_EQ(near_identity_groups(seqs), g);  // deterministic
  EXPECT_THROW(near_identity_groups(seqs, NearIdentityOptions{0, 0.5, 16, 2}), InputError);
  EXPECT_THROW(near_identity_groups(seqs, NearIdentityOptions{5, 0.0, 16, 2}), InputError);
}

// A chain of point mutants: each is near-identical to the previous one, so all join one group
// even where the first and last are not near-identical to each other.
TEST(NearIdentity, ChainsAreConnectedComponents) {
  Rng rng(11);
  std::vector<std::string> seqs = {random_protein(rng, 400)};
  for (int i = 0; i < 40; ++i) {
    std::string next = seqs.back();
    next[rng.uniform(next.size())] = 'W';
    next[rng.uniform(next.size())] = 'C';
    seqs.push_back(next);
  }
  for (int i = 0; i < 20; ++i) seqs.push_back(random_protein(rng, 400));
  const auto g = near_identity_groups(seqs);
  for (size_t i = 0; i <= 40; ++i) EXPECT_EQ(g[i], 0) << i;
  for (size_t i = 41; i < seqs.size(); ++i) EXPECT_EQ(g[i], static_cast<int64_t>(i)) << i;
}

}  // namespace
}  // namespace strand::bio::annotation
