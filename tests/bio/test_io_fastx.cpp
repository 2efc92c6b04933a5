// FASTA and FASTQ reading (bio/io/fastx.cpp through open_sequences) on real files. Expected
// numbers come from independent tools (grep, awk, samtools, md5sum); the command is written beside
// each one.
#include <gtest/gtest.h>
#include <htslib/hts.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "tests/bio/test_io_common.h"

namespace io = strand::bio::io;
using io::test::data;
using io::test::installed;
using io::test::kAny2fasta;
using io::test::kHtslibTest;
using io::test::read_all;

namespace {

std::string md5_hex(const std::string& s) {
  hts_md5_context* ctx = hts_md5_init();
  hts_md5_update(ctx, s.data(), static_cast<unsigned long>(s.size()));
  unsigned char digest[16];
  hts_md5_final(digest, ctx);
  hts_md5_destroy(ctx);
  char hex[33];
  hts_md5_hex(hex, digest);
  return hex;
}

}  // namespace

TEST(Fasta, CeGenomeFromHtslibTest) {
  const std::string path = kHtslibTest + "ce.fa";
  ASSERT_TRUE(installed(path, "htslib-test"));
  io::ReadSummary summary;
  const auto records = read_all(path, {}, &summary);
  // grep -c '>' ce.fa  ->  7
  ASSERT_EQ(records.size(), 7u);
  // grep -v '>' ce.fa | tr -d '\n' | wc -c  ->  1039800
  EXPECT_EQ(io::test::total_bases(records), 1039800);
  EXPECT_EQ(summary.records, 7);
  EXPECT_EQ(summary.total_skipped(), 0);
  // Oracle for every base: the M5 tags of `samtools view -H range.bam` (MD5 of each upper-case
  // sequence, SAM spec 1.3), which also equal `samtools faidx ce.fa NAME | grep -v '>' | tr -d '\n' | md5sum`.
  const std::vector<std::pair<std::string, std::string>> m5 = {
      {"CHROMOSOME_I", "8ede36131e0dbf3417807e48f77f3ebd"},  {"CHROMOSOME_II", "8e7993f7a93158587ee897d7287948ec"},
      {"CHROMOSOME_III", "3adcb065e1cf74fafdbba1e8c352b323"}, {"CHROMOSOME_IV", "251af66a69ee589c9f3757340ec2de6f"},
      {"CHROMOSOME_V", "cf200a65fb754836dcc56b24b3170ee8"},  {"CHROMOSOME_X", "6f9368fd2192c89c613718399d2d31fc"},
      {"CHROMOSOME_MtDNA", "cd05857ece6411f40257a565ccfe15bb"}};
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].name, m5[i].first);
    EXPECT_EQ(md5_hex(records[i].seq), m5[i].second) << records[i].name;
    EXPECT_EQ(records[i].source, records[i].name);
    EXPECT_EQ(records[i].begin, 0);
    EXPECT_EQ(records[i].end, static_cast<int64_t>(records[i].seq.size()));
    EXPECT_EQ(records[i].strand, '+');
    EXPECT_EQ(records[i].index, static_cast<int64_t>(i + 1));
    EXPECT_TRUE(records[i].qual.empty());
  }
  // cut -f1,2 ce.fa.fai
  EXPECT_EQ(records[0].seq.size(), 1009800u);
  // samtools faidx ce.fa CHROMOSOME_I:1-50
  EXPECT_EQ(records[0].seq.substr(0, 50), "GCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGC");
  // samtools faidx ce.fa CHROMOSOME_MtDNA:4951-5000
  EXPECT_EQ(records[6].seq.substr(4950), "ATTCCAATTTGAGGGCCAACTATTGTTACTTGAATTTGAAGAGGTTTTGG");
}

TEST(Fasta, GzipFromAny2fastaExamples) {
  const std::string path = kAny2fasta + "test.fna.gz";
  ASSERT_TRUE(installed(path, "any2fasta-examples"));
  const auto records = read_all(path);
  // zcat test.fna.gz | grep -c '>'  ->  24
  ASSERT_EQ(records.size(), 24u);
  // zcat test.fna.gz | grep -v '>' | tr -d '\n' | wc -c  ->  57687
  EXPECT_EQ(io::test::total_bases(records), 57687);
  // zcat test.fna.gz | grep '>' | sed -n '1p;24p'
  EXPECT_EQ(records[0].name, "NZ_CHER02000075");
  EXPECT_EQ(records[0].comment, "Leptospira kirschneri ctg7180000004940");
  EXPECT_EQ(records[23].name, "NZ_CHER02000001");
  // zcat test.fna.gz | sed -n 2p | cut -c1-12
  EXPECT_EQ(records[0].seq.substr(0, 12), "AACRYANTCTCG");
}

TEST(Fasta, PlainGzipAndBgzipGiveIdenticalRecords) {
  // ce_small.fa.gz = gzip -9 -n, ce_small.fa.bgz = bgzip (tests/data/io/PROVENANCE.md).
  const auto plain = read_all(data("ce_small.fa"));
  // grep -c '>' ce_small.fa  ->  6;  grep -v '>' ce_small.fa | tr -d '\n' | wc -c  ->  30000
  ASSERT_EQ(plain.size(), 6u);
  EXPECT_EQ(io::test::total_bases(plain), 30000);
  EXPECT_EQ(plain[0].name, "CHROMOSOME_II");
  EXPECT_EQ(plain[5].name, "CHROMOSOME_MtDNA");
  // sed -n 2p ce_small.fa
  EXPECT_EQ(plain[0].seq.substr(0, 50), "CCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCC");
  EXPECT_EQ(md5_hex(plain[5].seq), "cd05857ece6411f40257a565ccfe15bb");  // M5 of CHROMOSOME_MtDNA, as above
  io::test::expect_same_records(read_all(data("ce_small.fa.gz")), plain);
  io::test::expect_same_records(read_all(data("ce_small.fa.bgz")), plain);
}

TEST(Fasta, DetectsFormatFromContent) {
  EXPECT_EQ(io::detect_format(data("ce_small.fa")), io::SequenceFormat::Fasta);
  EXPECT_EQ(io::detect_format(data("ce_small.fa.gz")), io::SequenceFormat::Fasta);
  EXPECT_EQ(io::detect_format(data("ce_small.fa.bgz")), io::SequenceFormat::Fasta);
  EXPECT_EQ(io::detect_format(data("r1.fq")), io::SequenceFormat::Fastq);
  EXPECT_EQ(io::detect_format(data("range.bam")), io::SequenceFormat::Bam);
  EXPECT_EQ(io::detect_format(data("range.cram")), io::SequenceFormat::Cram);
  EXPECT_EQ(io::detect_format(data("ce_unmap2.sam")), io::SequenceFormat::Sam);
  EXPECT_STREQ(io::format_name(io::SequenceFormat::Cram), "CRAM");
}

TEST(Fasta, MissingFileIsIoError) {
  const std::string path = data("no_such_file.fa");
  const std::string message = io::test::message_of<strand::IoError>([&] { read_all(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
}

TEST(Fasta, HtslibFaidxLayouts) {
  // htslib's faidx.fa: a header without a name, blank lines after records, CRLF lines in one
  // record, blanks between '>' and the name. Its samtools index (samtools faidx faidx.fa;
  // cut -f1,2 faidx.fa.fai) lists: "" 4, trailingblank1 33, trailingblank2 72, trailingblank3 5,
  // foo 8, bar 8.
  const std::string path = data("faidx.fa");
  const std::string message = io::test::parse_error(path);
  EXPECT_NE(message.find(path + ":1:"), std::string::npos) << message;
  EXPECT_NE(message.find("no sequence name"), std::string::npos) << message;

  io::ReadOptions skip;
  skip.skip_invalid = true;
  io::ReadSummary summary;
  const auto records = read_all(path, skip, &summary);
  ASSERT_EQ(records.size(), 5u);
  const std::vector<std::pair<std::string, size_t>> expected = {
      {"trailingblank1", 33}, {"trailingblank2", 72}, {"trailingblank3", 5}, {"foo", 8}, {"bar", 8}};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(records[i].name, expected[i].first);
    EXPECT_EQ(records[i].seq.size(), expected[i].second) << records[i].name;
    EXPECT_EQ(records[i].index, static_cast<int64_t>(i + 2));
  }
  EXPECT_EQ(records[1].comment, "with last dna line the same length");
  EXPECT_EQ(records[2].seq, "ACGTA");  // samtools faidx faidx.fa trailingblank3 (CRLF lines)
  EXPECT_EQ(records[3].seq, "TGCATGCA");  // samtools faidx faidx.fa foo
  EXPECT_EQ(records[4].comment, "description");
  EXPECT_EQ(summary.skipped.at("missing name"), 1);
  EXPECT_EQ(summary.records, 5);
}

// Sequence lines are validated and copied 32 bytes at a time where the CPU allows, falling back
// to the line-by-line parser for anything unusual. Both must agree for every line length around
// the vector width, blank lines, CRLF lines and records spanning the 256 KiB read blocks, and an
// invalid byte anywhere must be reported at its exact line and column.
TEST(Fasta, LineLayoutsAndInvalidBytePositions) {
  std::mt19937 rng(20261129);
  const std::string alphabet = "ACGTNacgtnRYKM*-.";
  std::string text;
  std::vector<std::pair<std::string, std::string>> expected;
  std::vector<int64_t> line_of_record;  // header line number of each record
  int64_t line = 0;
  for (int rec = 0; rec < 60; ++rec) {
    const std::string name = "r" + std::to_string(rec);
    text += ">" + name + " comment\n";
    line_of_record.push_back(++line);
    std::string seq;
    const int lines = static_cast<int>(rng() % 400);
    for (int l = 0; l < lines; ++l) {
      const int width = static_cast<int>(rng() % 100);  // 0 gives a blank line
      std::string chunk;
      for (int i = 0; i < width; ++i) chunk += alphabet[rng() % alphabet.size()];
      text += chunk + ((rng() % 10 == 0) ? "\r\n" : "\n");
      ++line;
      seq += chunk;
    }
    expected.emplace_back(name, seq);
  }
  io::test::TempDir dir;
  const std::string path = dir.file("layouts.fa");
  {
    std::ofstream(path, std::ios::binary) << text;
  }
  const auto records = read_all(path);
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].name, expected[i].first);
    EXPECT_EQ(records[i].seq, expected[i].second) << "record " << i;
  }

  // One invalid byte at a random sequence position per trial.
  for (int trial = 0; trial < 40; ++trial) {
    std::string broken = text;
    size_t pos;
    do {
      pos = rng() % broken.size();
    } while (broken[pos] == '\n' || broken[pos] == '\r' || broken[pos] == '>' ||
             (broken.rfind('\n', pos) == std::string::npos ? broken[0] == '>' : broken[broken.rfind('\n', pos) + 1] == '>'));
    broken[pos] = '7';
    const auto line_start = broken.rfind('\n', pos);
    const int64_t bad_line = 1 + std::count(broken.begin(), broken.begin() + static_cast<ptrdiff_t>(pos), '\n');
    const size_t column = pos - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    const std::string bad_path = dir.file("broken.fa");
    {
      std::ofstream(bad_path, std::ios::binary) << broken;
    }
    const std::string message = io::test::parse_error(bad_path);
    EXPECT_NE(message.find(bad_path + ":" + std::to_string(bad_line) + ":"), std::string::npos) << message;
    EXPECT_NE(message.find("'7' at column " + std::to_string(column) + " "), std::string::npos) << message;
  }
}

TEST(Fastq, ReadsFromAny2fastaExamples) {
  const std::string path = kAny2fasta + "test.fq.gz";
  ASSERT_TRUE(installed(path, "any2fasta-examples"));
  const auto records = read_all(path);
  // zcat test.fq.gz | awk 'NR%4==1' | wc -l  ->  1000
  ASSERT_EQ(records.size(), 1000u);
  // zcat test.fq.gz | awk 'NR%4==2{n+=length($0)} END{print n}'  ->  234066
  EXPECT_EQ(io::test::total_bases(records), 234066);
  // zcat test.fq.gz | sed -n '1p;3997p'
  EXPECT_EQ(records[0].name, "ERR1163317.1");
  EXPECT_EQ(records[0].comment, "M00693:45:000000000-ADCLN:1:1101:16493:1464 length=251");
  EXPECT_EQ(records[999].name, "ERR1163317.1000");
  EXPECT_EQ(records[999].seq.size(), 185u);
  // zcat test.fq.gz | sed -n 2p | cut -c1-20;  zcat test.fq.gz | sed -n 4p | cut -c1-20
  EXPECT_EQ(records[0].seq.substr(0, 20), "TTTCCCAGGCGCTGGCTTCG");
  EXPECT_EQ(records[0].qual.substr(0, 20), "-8BBAE--,C@@F7+BFED+");
  // zcat test.fq.gz | awk 'NR%4==2{print length($0)}' | sort -n | uniq -c  ->  502 reads of 251
  int full_length = 0;
  for (const auto& r : records) {
    EXPECT_EQ(r.qual.size(), r.seq.size()) << r.name;
    full_length += r.seq.size() == 251;
  }
  EXPECT_EQ(full_length, 502);
}

TEST(Fastq, HtslibReadsWithTabSeparatedComments) {
  const auto records = read_all(data("r1.fq"));
  // awk 'NR%4==1' r1.fq | wc -l  ->  5
  ASSERT_EQ(records.size(), 5u);
  // head -1 r1.fq (fields separated by tabs)
  EXPECT_EQ(records[0].name, "HS25_09827:2:1201:1505:59795#49/1");
  EXPECT_EQ(records[0].comment, "RG:Z:1#49\tBC:Z:NGTCTATC\tQT:Z:!1=BDDDF");
  // sed -n 2p r1.fq | cut -c1-20;  sed -n 4p r1.fq | cut -c1-20
  EXPECT_EQ(records[0].seq.substr(0, 20), "CCGTTAGAGCATTTGTTGAA");
  EXPECT_EQ(records[0].qual.substr(0, 20), "CABCFGDEEFFEFHGHGGFF");
  EXPECT_EQ(records[4].name, "HS25_09827:2:1201:1624:69925#49/1");
  for (const auto& r : records) EXPECT_EQ(r.qual.size(), r.seq.size());
}

TEST(Fastq, MultiLineRecordsAreRejected) {
  // htslib's multiline.fq wraps sequence and quality over several lines; the third line of the
  // first record ("CCCCCCCCCC") stands where the '+' line must be.
  const std::string path = kHtslibTest + "fastq/multiline.fq";
  ASSERT_TRUE(installed(path, "htslib-test"));
  const std::string message = io::test::parse_error(path);
  EXPECT_NE(message.find(path + ":3:"), std::string::npos) << message;
  EXPECT_NE(message.find("'seq1'"), std::string::npos) << message;
  EXPECT_NE(message.find("multi-line FASTQ"), std::string::npos) << message;
}

TEST(Fastq, ReusedRecordHoldsNoStaleFields) {
  // A record reused across files keeps nothing from the previous one (qualities, comment).
  io::SequenceRecord r;
  auto fq = io::open_sequences(data("r1.fq"));
  ASSERT_TRUE(fq->next(r));
  ASSERT_FALSE(r.qual.empty());
  auto fa = io::open_sequences(data("ce_small.fa"));
  ASSERT_TRUE(fa->next(r));
  EXPECT_EQ(r.name, "CHROMOSOME_II");
  EXPECT_TRUE(r.comment.empty());
  EXPECT_TRUE(r.qual.empty());
  EXPECT_EQ(r.seq.size(), 5000u);
}

TEST(Lines, OneSequencePerLineWithOptionalName) {
  const std::string path = std::string(STRAND_TEST_DATA) + "/chem/nci_30_bad.smi";
  EXPECT_EQ(io::detect_format(path), io::SequenceFormat::Lines);
  auto reader = io::open_sequences(path);
  io::SequenceRecord r;
  std::vector<std::string> names;
  std::string first;
  while (reader->next(r)) {
    if (names.empty()) first = r.seq;
    names.push_back(r.name);
  }
  EXPECT_EQ(names.size(), 33u);  // 30 molecules + 3 bad SMILES (text is text); the blank line is skipped
  EXPECT_EQ(first, "CC1=CC(=O)C=CC1=O");
  EXPECT_EQ(names[0], "1");
  EXPECT_EQ(names[10], "bad-ring");
  EXPECT_EQ(reader->summary().records, 33);
  EXPECT_THROW(io::open_regions(path, {"1"}), strand::InputError);
}

TEST(Lines, FastaOrFastqContentWinsOverTheFileName) {
  const std::string dir = ::testing::TempDir();
  const std::string fasta = dir + "/strand_lines_fasta.txt";
  const std::string fastq = dir + "/strand_lines_fastq.seq";
  { std::ofstream(fasta) << "\n>a desc\nACGT\n"; }
  { std::ofstream(fastq) << "@r1\nACGT\n+\nIIII\n"; }
  EXPECT_EQ(io::detect_format(fasta), io::SequenceFormat::Fasta);
  EXPECT_EQ(io::detect_format(fastq), io::SequenceFormat::Fastq);
  std::remove(fasta.c_str());
  std::remove(fastq.c_str());
}
