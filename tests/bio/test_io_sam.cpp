// SAM/BAM/CRAM reading (bio/io/sam.cpp): record counts, samtools-style flag and MAPQ filters,
// indexed region queries, CRAM decoding and read orientation. Every expected number is the
// output of the samtools 1.16 command written beside it, run in tests/data/io.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "tests/bio/test_io_common.h"

namespace io = strand::bio::io;
using io::test::data;
using io::test::installed;
using io::test::kHtslibTest;
using io::test::read_all;
using io::test::read_regions;

namespace {

io::ReadOptions filters(int required, int excluded, int min_mapq) {
  io::ReadOptions o;
  o.required_flags = required;
  o.excluded_flags = excluded;
  o.min_mapq = min_mapq;
  return o;
}

io::ReadOptions cram_options() {
  io::ReadOptions o;
  o.reference = kHtslibTest + "ce.fa";
  return o;
}

}  // namespace

TEST(Bam, RecordCountAndFields) {
  io::ReadSummary summary;
  const auto records = read_all(data("range.bam"), {}, &summary);
  // samtools view -c range.bam  ->  112
  ASSERT_EQ(records.size(), 112u);
  EXPECT_EQ(summary.records, 112);
  EXPECT_EQ(summary.filtered, 0);
  EXPECT_EQ(summary.total_skipped(), 0);
  // samtools view range.bam | head -1 | cut -f1-6:
  //   HS18_09653:4:1315:19857:61712  145  CHROMOSOME_I  914  23  78M1D22M
  // 78M1D22M spans 101 reference bases: [913, 1014) 0-based.
  const auto& first = records[0];
  EXPECT_EQ(first.name, "HS18_09653:4:1315:19857:61712");
  EXPECT_EQ(first.source, "CHROMOSOME_I");
  EXPECT_EQ(first.begin, 913);
  EXPECT_EQ(first.end, 1014);
  EXPECT_EQ(first.strand, '-');  // 145 & 0x10
  EXPECT_EQ(first.index, 1);
  // samtools view range.bam | head -1 | cut -f10,11 | cut -c1-20 (SEQ as stored)
  EXPECT_EQ(first.seq.size(), 100u);
  EXPECT_EQ(first.seq.substr(0, 20), "AGCTAGGGCACTTTTTGTCT");
  EXPECT_EQ(first.qual.size(), 100u);
  // Third record: 83 CHROMOSOME_I 1020 10 28M72S  ->  [1019, 1047)
  EXPECT_EQ(records[2].begin, 1019);
  EXPECT_EQ(records[2].end, 1047);
  int reverse = 0;
  for (const auto& r : records) reverse += r.strand == '-';
  EXPECT_EQ(reverse, 56);  // samtools view -c -f 16 range.bam
}

TEST(Bam, FlagAndMapqFiltersMatchSamtools) {
  struct Case {
    int required, excluded, min_mapq;
    int64_t expected;  // samtools view -c [-f required] [-F excluded] [-q min_mapq] range.bam
  };
  const Case cases[] = {
      {16, 0, 0, 56},   // -f 16
      {0, 16, 0, 56},   // -F 16
      {0, 0, 30, 86},   // -q 30
      {64, 0, 0, 55},   // -f 64
      {128, 16, 0, 31}, // -f 128 -F 16
      {2, 0, 40, 80},   // -f 2 -q 40
      {0, 0x900, 0, 112}, // -F 0x900
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("-f " + std::to_string(c.required) + " -F " + std::to_string(c.excluded) + " -q " +
                 std::to_string(c.min_mapq));
    io::ReadSummary summary;
    const auto records = read_all(data("range.bam"), filters(c.required, c.excluded, c.min_mapq), &summary);
    EXPECT_EQ(static_cast<int64_t>(records.size()), c.expected);
    EXPECT_EQ(summary.records, c.expected);
    EXPECT_EQ(summary.filtered, 112 - c.expected);
  }
}

TEST(Sam, UnmappedReadsAndFilters) {
  const std::string path = data("ce_unmap2.sam");
  const auto all = read_all(path);
  // samtools view -c ce_unmap2.sam  ->  19
  ASSERT_EQ(all.size(), 19u);
  EXPECT_EQ(read_all(path, filters(0, 4, 0)).size(), 10u);  // samtools view -c -F 4 ce_unmap2.sam
  EXPECT_EQ(read_all(path, filters(4, 0, 0)).size(), 9u);   // samtools view -c -f 4 ce_unmap2.sam
  // samtools view ce_unmap2.sam | awk '$2==4' | head -1 | cut -f1-4:  SRR065390.33808391 4 * 0
  const io::SequenceRecord* unmapped = nullptr;
  for (const auto& r : all)
    if (r.name == "SRR065390.33808391") unmapped = &r;
  ASSERT_NE(unmapped, nullptr);
  EXPECT_EQ(unmapped->source, "*");
  EXPECT_EQ(unmapped->strand, '+');
  EXPECT_EQ(unmapped->seq.size(), 100u);
}

TEST(Sam, SupplementaryAlignmentsExcluded) {
  // samtools view -c ce_supp.sam  ->  4;  samtools view -c -F 0x900 ce_supp.sam  ->  2
  EXPECT_EQ(read_all(data("ce_supp.sam")).size(), 4u);
  EXPECT_EQ(read_all(data("ce_supp.sam"), filters(0, 0x900, 0)).size(), 2u);
}

TEST(Sam, RecordsWithoutSequenceAreCountedNotReturned) {
  // c1_noseq.sam: 9 records; samtools view c1_noseq.sam | awk '$10=="*"' | wc -l  ->  3 without
  // SEQ; awk '$10!="*" && $11=="*"'  ->  3 with a sequence but no qualities.
  io::ReadSummary summary;
  const auto records = read_all(data("c1_noseq.sam"), {}, &summary);
  ASSERT_EQ(records.size(), 6u);
  EXPECT_EQ(summary.skipped.at("no sequence stored"), 3);
  int without_qual = 0;
  for (const auto& r : records) {
    EXPECT_FALSE(r.seq.empty()) << r.name;
    without_qual += r.qual.empty();
    if (!r.qual.empty()) {
      EXPECT_EQ(r.qual.size(), r.seq.size()) << r.name;
    }
  }
  EXPECT_EQ(without_qual, 3);
  EXPECT_EQ(records[0].name, "sq1");
  EXPECT_EQ(records[0].seq, "AACCGCGGTT");
  EXPECT_EQ(records[0].qual, "**********");
}

TEST(Bam, RegionQueriesMatchSamtools) {
  struct Case {
    const char* region;
    size_t expected;  // samtools view -c range.bam REGION
  };
  const Case cases[] = {
      {"CHROMOSOME_I", 18},           {"CHROMOSOME_II:1000-2000", 19}, {"CHROMOSOME_III:1000-1100", 1},
      {"CHROMOSOME_IV:1,000-1,200", 6}, {"CHROMOSOME_III:2000", 24},     {"CHROMOSOME_V", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.region);
    const auto records = read_regions(data("range.bam"), {c.region});
    EXPECT_EQ(records.size(), c.expected);
    for (const auto& r : records) EXPECT_EQ(r.source, std::string(c.region).substr(0, std::string(c.region).find(':')));
  }
  // Regions are queried one after the other, so overlapping regions return shared reads twice:
  // samtools view -c range.bam CHROMOSOME_II:1000-2000 CHROMOSOME_II:1500-2500  ->  38
  EXPECT_EQ(read_regions(data("range.bam"), {"CHROMOSOME_II:1000-2000", "CHROMOSOME_II:1500-2500"}).size(), 38u);
  // Filters apply to region queries too: samtools view -c -f 16 range.bam CHROMOSOME_I  ->  12
  io::ReadOptions reverse_only = filters(16, 0, 0);
  EXPECT_EQ(read_regions(data("range.bam"), {"CHROMOSOME_I"}, reverse_only).size(), 12u);
}

TEST(Bam, RegionErrors) {
  const std::string path = data("range.bam");
  const std::string unknown =
      io::test::message_of<strand::InputError>([&] { read_regions(path, {"CHROMOSOME_XXI:1-10"}); });
  EXPECT_NE(unknown.find("CHROMOSOME_XXI"), std::string::npos) << unknown;
  EXPECT_NE(unknown.find(path), std::string::npos) << unknown;
  // ce_unmap2.sam has no index.
  const std::string no_index =
      io::test::message_of<strand::InputError>([&] { read_regions(data("ce_unmap2.sam"), {"CHROMOSOME_I"}); });
  EXPECT_NE(no_index.find("index"), std::string::npos) << no_index;
  EXPECT_THROW(io::open_regions(path, {}), strand::InputError);
  EXPECT_THROW(io::open_regions(data("r1.fq"), {"x"}), strand::InputError);
}

TEST(Cram, DecodedWithReferenceEqualsBam) {
  ASSERT_TRUE(installed(kHtslibTest + "ce.fa", "htslib-test"));
  // samtools view -T ce.fa range.cram | md5sum  equals  samtools view range.bam | md5sum
  const auto cram = read_all(data("range.cram"), cram_options());
  ASSERT_EQ(cram.size(), 112u);  // samtools view -c -T ce.fa range.cram
  io::test::expect_same_records(cram, read_all(data("range.bam")));
  // samtools view -c -T ce.fa range.cram CHROMOSOME_II:1000-2000  ->  19
  EXPECT_EQ(read_regions(data("range.cram"), {"CHROMOSOME_II:1000-2000"}, cram_options()).size(), 19u);
}

TEST(Cram, MissingReferenceFileIsInputError) {
  io::ReadOptions o;
  o.reference = data("no_such_reference.fa");
  const std::string message = io::test::message_of<strand::InputError>([&] { read_all(data("range.cram"), o); });
  EXPECT_NE(message.find("no_such_reference.fa"), std::string::npos) << message;
}

TEST(Bam, OriginalOrientationMatchesSamtoolsFastq) {
  // range.fastq = samtools fastq -n range.bam (reads in file order, reverse-strand reads turned
  // back to the orientation they were sequenced in).
  io::ReadOptions o;
  o.original_orientation = true;
  const auto reads = read_all(data("range.bam"), o);
  const auto expected = read_all(data("range.fastq"));
  ASSERT_EQ(reads.size(), expected.size());
  const auto stored = read_all(data("range.bam"));
  int reversed = 0;
  for (size_t i = 0; i < reads.size(); ++i) {
    SCOPED_TRACE(reads[i].name);
    EXPECT_EQ(reads[i].name, expected[i].name);
    EXPECT_EQ(reads[i].seq, expected[i].seq);
    EXPECT_EQ(reads[i].qual, expected[i].qual);
    EXPECT_EQ(reads[i].strand, stored[i].strand);
    if (stored[i].strand == '-') {
      ++reversed;
      EXPECT_NE(reads[i].seq, stored[i].seq);
    } else {
      EXPECT_EQ(reads[i].seq, stored[i].seq);
    }
  }
  EXPECT_EQ(reversed, 56);
  // samtools view range.bam | head -1 | cut -f10 | rev | tr ACGT TGCA | cut -c1-20
  EXPECT_EQ(reads[0].seq.substr(0, 20), "AAAAACCCAAAAAATGTTTT");
}
