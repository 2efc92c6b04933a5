// Indexed FASTA regions (open_regions on FASTA, bio/io/fasta_regions.cpp). Expected sequences are
// the output of the samtools 1.16 faidx command written beside each, run in tests/data/io.
#include <gtest/gtest.h>
#include <htslib/bgzf.h>

#include <filesystem>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"
#include "tests/bio/test_io_common.h"

namespace io = strand::bio::io;
namespace fs = std::filesystem;
using io::test::data;
using io::test::installed;
using io::test::kHtslibTest;
using io::test::read_all;
using io::test::read_regions;

namespace {

std::string region_error(const std::string& path, const std::string& region) {
  return io::test::message_of<strand::InputError>([&] { read_regions(path, {region}); });
}

}  // namespace

TEST(Faidx, RegionsMatchSamtoolsFaidx) {
  const auto records = read_regions(data("ce_small.fa"), {"CHROMOSOME_II:1-60", "CHROMOSOME_V:1,001-1,030",
                                                          "CHROMOSOME_MtDNA:5000", "CHROMOSOME_II"});
  ASSERT_EQ(records.size(), 4u);
  // samtools faidx ce_small.fa CHROMOSOME_II:1-60
  EXPECT_EQ(records[0].seq, "CCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAG");
  EXPECT_EQ(records[0].name, "CHROMOSOME_II:1-60");
  EXPECT_EQ(records[0].source, "CHROMOSOME_II");
  EXPECT_EQ(records[0].begin, 0);
  EXPECT_EQ(records[0].end, 60);
  EXPECT_EQ(records[0].strand, '+');
  EXPECT_TRUE(records[0].qual.empty());
  // samtools faidx ce_small.fa CHROMOSOME_V:1,001-1,030
  EXPECT_EQ(records[1].seq, "CGAAGCTAAAATGTGGCTGTTATAATACAG");
  EXPECT_EQ(records[1].begin, 1000);
  EXPECT_EQ(records[1].end, 1030);
  // samtools faidx ce_small.fa CHROMOSOME_MtDNA:5000 (from 5000 to the end)
  EXPECT_EQ(records[2].seq, "G");
  EXPECT_EQ(records[2].begin, 4999);
  EXPECT_EQ(records[2].end, 5000);
  // A whole sequence equals the record read from the file.
  EXPECT_EQ(records[3].seq, read_all(data("ce_small.fa"))[0].seq);
  EXPECT_EQ(records[3].end, 5000);
}

TEST(Faidx, EndPastTheSequenceIsClipped) {
  // samtools faidx ce_small.fa CHROMOSOME_X:4990-6000  ->  "Truncated sequence", TTCCGGGTCTC
  const auto records = read_regions(data("ce_small.fa"), {"CHROMOSOME_X:4990-6000"});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seq, "TTCCGGGTCTC");
  EXPECT_EQ(records[0].begin, 4989);
  EXPECT_EQ(records[0].end, 5000);
}

TEST(Faidx, UnknownNameIsInputError) {
  const std::string path = data("ce_small.fa");
  const std::string message = region_error(path, "CHROMOSOME_XX:1-10");
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("'CHROMOSOME_XX:1-10'"), std::string::npos) << message;
  EXPECT_NE(message.find("unknown sequence name"), std::string::npos) << message;
}

TEST(Faidx, StartAfterEndIsInputError) {
  const std::string path = data("ce_small.fa");
  const std::string reversed = region_error(path, "CHROMOSOME_II:200-100");
  EXPECT_NE(reversed.find("'CHROMOSOME_II:200-100'"), std::string::npos) << reversed;
  EXPECT_NE(reversed.find("starts after its end"), std::string::npos) << reversed;
  // samtools faidx ce_small.fa CHROMOSOME_II:6000-7000  ->  "Zero length sequence"; here an error.
  const std::string past = region_error(path, "CHROMOSOME_II:6000-7000");
  EXPECT_NE(past.find("starts after the end of 'CHROMOSOME_II' (length 5000)"), std::string::npos) << past;
  const std::string malformed = region_error(path, "CHROMOSOME_II:1-10x");
  EXPECT_NE(malformed.find("'CHROMOSOME_II:1-10x'"), std::string::npos) << malformed;
}

TEST(Faidx, BgzipWithCommittedGziIndex) {
  // ce_small.fa.bgz.gzi and .fai were written by bgzip -i and samtools faidx.
  // samtools faidx ce_small.fa.bgz CHROMOSOME_IV:2501-2550
  const auto records = read_regions(data("ce_small.fa.bgz"), {"CHROMOSOME_IV:2501-2550"});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seq, "AACGTTATTATTATGCATTCCCTCATATAAAAGTTTGTTCAATTTTTTTA");
}

TEST(Faidx, BgzipAcrossBlocksBuildsItsIndexes) {
  // ce.fa recompressed with BGZF blocks of 65280 bytes: CHROMOSOME_I:63970-64010 straddles the
  // first block boundary (byte 65280 of the text). The .fai and .gzi are built on first use.
  const std::string source = kHtslibTest + "ce.fa";
  ASSERT_TRUE(installed(source, "htslib-test"));
  io::test::TempDir dir;
  const std::string path = dir.file("ce.fa.gz");
  const std::string text = strand::io::read_file(source);
  BGZF* out = bgzf_open(path.c_str(), "w");
  ASSERT_NE(out, nullptr);
  ASSERT_EQ(bgzf_write(out, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  ASSERT_EQ(bgzf_close(out), 0);

  const auto records = read_regions(path, {"CHROMOSOME_I:63970-64010", "CHROMOSOME_I:1009751-1009800"});
  ASSERT_EQ(records.size(), 2u);
  // samtools faidx ce.fa CHROMOSOME_I:63970-64010
  EXPECT_EQ(records[0].seq, "TTCCTGGAAGACAGAAGAAATTCGGAACGAAAATAAAAATC");
  // samtools faidx ce.fa CHROMOSOME_I:1009751-1009800
  EXPECT_EQ(records[1].seq, "TACGAGGTGAGTTCGGTGGGGCGCGTTTGCATTTATGAATTCGAAAATTT");
  EXPECT_TRUE(fs::is_regular_file(path + ".fai"));
  EXPECT_TRUE(fs::is_regular_file(path + ".gzi"));
}

TEST(Faidx, BuildsMissingFaiNextToThePlainFasta) {
  io::test::TempDir dir;
  const std::string path = dir.file("ce_small.fa");
  fs::copy_file(data("ce_small.fa"), path);
  const auto records = read_regions(path, {"CHROMOSOME_II:1-60"});
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].seq, "CCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAGCCTAAG");
  // The built index equals the one samtools faidx wrote (tests/data/io/ce_small.fa.fai).
  EXPECT_EQ(strand::io::read_file(path + ".fai"), strand::io::read_file(data("ce_small.fa.fai")));
}

TEST(Faidx, GzipFastaCannotBeQueried) {
  // Random access needs BGZF; plain gzip is rejected with advice (and no index file is left).
  io::test::TempDir dir;
  const std::string path = dir.file("ce_small.fa.gz");
  fs::copy_file(data("ce_small.fa.gz"), path);
  const std::string message = region_error(path, "CHROMOSOME_II:1-10");
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(path + ".fai"));
  EXPECT_NE(message.find("bgzip"), std::string::npos) << message;
}
