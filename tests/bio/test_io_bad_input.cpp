// Bad-input corpus: one regression test per kind of breakage, its file in tests/data/io/bad/
// (how each file was made is in tests/data/io/PROVENANCE.md). Every error must name the file and
// the line or record; with skip_invalid malformed records are skipped and counted, while damage to
// the container (truncated compressed data or BAM) still throws.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "tests/bio/test_io_common.h"

namespace io = strand::bio::io;
using io::test::data;
using io::test::parse_error;
using io::test::read_all;

namespace {

io::ReadOptions skipping() {
  io::ReadOptions o;
  o.skip_invalid = true;
  return o;
}

std::vector<std::string> names(const std::vector<io::SequenceRecord>& records) {
  std::vector<std::string> out;
  for (const auto& r : records) out.push_back(r.name);
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// awk 'NR%4==1{print substr($1,2)}' r1.fq
const std::vector<std::string> kR1 = {"HS25_09827:2:1201:1505:59795#49/1", "HS25_09827:2:1201:1559:70726#49/1",
                                      "HS25_09827:2:1201:1564:39627#49/1", "HS25_09827:2:1201:1565:91731#49/1",
                                      "HS25_09827:2:1201:1624:69925#49/1"};

}  // namespace

TEST(BadInput, TruncatedGzip) {
  // The first 4000 bytes of ce_small.fa.gz.
  const std::string path = data("bad/truncated.fa.gz");
  for (const bool skip : {false, true}) {
    io::ReadOptions o;
    o.skip_invalid = skip;
    const std::string message = parse_error(path, o);
    EXPECT_TRUE(contains(message, path + ":")) << message;
    EXPECT_TRUE(contains(message, "truncated or corrupt")) << message;
  }
}

TEST(BadInput, FastqQualityLengthMismatch) {
  // r1.fq with the quality line of read 3 (line 12) 5 bytes short: 95 qualities for 100 bases.
  const std::string path = data("bad/quality_length_mismatch.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":12:")) << message;
  EXPECT_TRUE(contains(message, "'" + kR1[2] + "'")) << message;
  EXPECT_TRUE(contains(message, "quality length 95 differs from sequence length 100")) << message;

  io::ReadSummary summary;
  const auto records = read_all(path, skipping(), &summary);
  EXPECT_EQ(names(records), (std::vector<std::string>{kR1[0], kR1[1], kR1[3], kR1[4]}));
  EXPECT_EQ(summary.skipped.at("quality length mismatch"), 1);
  EXPECT_EQ(summary.total_skipped(), 1);
  EXPECT_EQ(summary.records, 4);
  EXPECT_EQ(records[2].index, 4);  // record numbers count the skipped read
}

TEST(BadInput, MissingFastaHeader) {
  // Lines 2-4 of ce_small.fa (sequence) put in front of the whole file.
  const std::string path = data("bad/missing_header.fa");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":1:")) << message;
  EXPECT_TRUE(contains(message, "expected a FASTA header line starting with '>', found 'C'")) << message;

  io::ReadSummary summary;
  const auto records = read_all(path, skipping(), &summary);
  EXPECT_EQ(records.size(), 6u);
  EXPECT_EQ(records[0].name, "CHROMOSOME_II");
  EXPECT_EQ(records[0].seq.size(), 5000u);
  EXPECT_EQ(summary.skipped.at("missing header"), 1);
}

TEST(BadInput, MissingFastqHeader) {
  // r1.fq with the '@' of the first header removed.
  const std::string path = data("bad/missing_header.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":1:")) << message;
  EXPECT_TRUE(contains(message, "expected a FASTQ header line starting with '@', found 'H'")) << message;

  io::ReadSummary summary;
  const auto records = read_all(path, skipping(), &summary);
  EXPECT_EQ(names(records), (std::vector<std::string>{kR1[1], kR1[2], kR1[3], kR1[4]}));
  EXPECT_EQ(summary.skipped.at("missing header"), 1);
}

TEST(BadInput, BinaryGarbage) {
  struct Case {
    const char* file;
    const char* found;
  };
  const Case cases[] = {
      {"bad/random.bin", "binary data"},    // 4096 bytes of /dev/urandom
      {"bad/image.png", "a PNG image"},     // a 1x1 PNG
      {"bad/program.elf", "an ELF executable"},  // an x86-64 ELF header
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    const std::string path = data(c.file);
    for (const bool skip : {false, true}) {
      io::ReadOptions o;
      o.skip_invalid = skip;
      const std::string message = parse_error(path, o);
      EXPECT_TRUE(contains(message, path + ":")) << message;
      EXPECT_TRUE(contains(message, "expected FASTA ('>'), FASTQ ('@'), SAM, BAM or CRAM")) << message;
      EXPECT_TRUE(contains(message, std::string("found ") + c.found)) << message;
    }
    EXPECT_THROW(io::detect_format(path), strand::ParseError);
  }
}

TEST(BadInput, EmptyFile) {
  // empty.fa has no bytes; empty.fa.gz is `gzip -n` of it.
  for (const char* file : {"bad/empty.fa", "bad/empty.fa.gz"}) {
    SCOPED_TRACE(file);
    const std::string path = data(file);
    const std::string message = parse_error(path);
    EXPECT_TRUE(contains(message, path + ":")) << message;
    EXPECT_TRUE(contains(message, "no records")) << message;
    io::ReadOptions o;
    o.allow_empty = true;
    io::ReadSummary summary;
    EXPECT_TRUE(read_all(path, o, &summary).empty());
    EXPECT_EQ(summary.records, 0);
  }
}

TEST(BadInput, CrlfLineEndings) {
  // sed 's/$/\r/' of ce_small.fa and r1.fq.
  io::test::expect_same_records(read_all(data("bad/crlf.fa")), read_all(data("ce_small.fa")));
  io::test::expect_same_records(read_all(data("bad/crlf.fq")), read_all(data("r1.fq")));
}

TEST(BadInput, InvalidCharacterInFastaSequence) {
  // ce_small.fa with column 10 of line 3 (CHROMOSOME_II) changed to '7'.
  const std::string path = data("bad/invalid_character.fa");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":3:")) << message;
  EXPECT_TRUE(contains(message, "'CHROMOSOME_II'")) << message;
  EXPECT_TRUE(contains(message, "unexpected '7' at column 10")) << message;

  io::ReadSummary summary;
  const auto records = read_all(path, skipping(), &summary);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].name, "CHROMOSOME_III");
  EXPECT_EQ(summary.skipped.at("invalid character"), 1);
}

TEST(BadInput, InvalidCharacterInFastqSequence) {
  // r1.fq with column 20 of line 6 (read 2) changed to a space.
  const std::string path = data("bad/invalid_character.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":6:")) << message;
  EXPECT_TRUE(contains(message, "'" + kR1[1] + "'")) << message;
  EXPECT_TRUE(contains(message, "byte 0x20 at column 20")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{kR1[0], kR1[2], kR1[3], kR1[4]}));
  EXPECT_EQ(summary.skipped.at("invalid character"), 1);
}

TEST(BadInput, TruncatedFastqRecordAtEndOfFile) {
  // head -n 18 r1.fq: read 5 has its header (line 17) and sequence, no '+' and quality lines.
  const std::string path = data("bad/truncated_record.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":17:")) << message;
  EXPECT_TRUE(contains(message, "'" + kR1[4] + "'")) << message;
  EXPECT_TRUE(contains(message, "ends inside this FASTQ record")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{kR1[0], kR1[1], kR1[2], kR1[3]}));
  EXPECT_EQ(summary.skipped.at("truncated record"), 1);
}

TEST(BadInput, PlusLineNamesAnotherRead) {
  // r1.fq with the '+' line of read 2 (line 7) naming read 1.
  const std::string path = data("bad/plus_line_mismatch.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":7:")) << message;
  EXPECT_TRUE(contains(message, "'" + kR1[1] + "'")) << message;
  EXPECT_TRUE(contains(message, "names a different read")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{kR1[0], kR1[2], kR1[3], kR1[4]}));
  EXPECT_EQ(summary.skipped.at("malformed '+' line"), 1);
}

TEST(BadInput, TruncatedBam) {
  // head -c 7000 range.bam: the file ends inside the BGZF block holding the records.
  const std::string path = data("bad/truncated_mid_block.bam");
  for (const bool skip : {false, true}) {
    io::ReadOptions o;
    o.skip_invalid = skip;
    const std::string message = parse_error(path, o);
    EXPECT_TRUE(contains(message, path + ":")) << message;
    EXPECT_TRUE(contains(message, "truncated")) << message;
  }
}

TEST(BadInput, BamWithoutEndOfFileMarker) {
  // head -c 13309 range.bam: every block but the 28-byte BGZF end-of-file marker, as a copy
  // cut at a block boundary looks; samtools warns "EOF marker is absent".
  const std::string path = data("bad/missing_eof_marker.bam");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":")) << message;
  EXPECT_TRUE(contains(message, "end-of-file marker")) << message;
}

TEST(BadInput, CorruptBamBlock) {
  // range.bam with byte 6000 (inside the compressed records) inverted: the block's CRC fails.
  const std::string path = data("bad/corrupt_block.bam");
  for (const bool skip : {false, true}) {
    io::ReadOptions o;
    o.skip_invalid = skip;
    const std::string message = parse_error(path, o);
    EXPECT_TRUE(contains(message, path + ": record 1:")) << message;
    EXPECT_TRUE(contains(message, "truncated or corrupt")) << message;
  }
}

TEST(BadInput, BgzipFastaWithoutEndOfFileMarker) {
  // ce_small.fa.bgz without its last 28 bytes (the BGZF end-of-file marker).
  const std::string path = data("bad/missing_eof_marker.fa.bgz");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":")) << message;
  EXPECT_TRUE(contains(message, "end-of-file marker is missing")) << message;
}

TEST(BadInput, BinaryBytesInFastaSequence) {
  // Contigs 1-3 of any2fasta's test.fna.gz with bytes 00 ff 01 at columns 11-13 of line 17.
  const std::string path = data("bad/binary_in_sequence.fa");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":17:")) << message;
  EXPECT_TRUE(contains(message, "'NZ_CHER02000073'")) << message;
  EXPECT_TRUE(contains(message, "byte 0x00 at column 11")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)),
            (std::vector<std::string>{"NZ_CHER02000075", "NZ_CHER02000072"}));
  EXPECT_EQ(summary.skipped.at("invalid character"), 1);
}

TEST(BadInput, FastaHeaderWithoutName) {
  // A record ">" + "ACGT" before contig 1.
  const std::string path = data("bad/empty_name.fa");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":1: record 1:")) << message;
  EXPECT_TRUE(contains(message, "no sequence name")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{"NZ_CHER02000075"}));
  EXPECT_EQ(summary.skipped.at("missing name"), 1);
}

TEST(BadInput, FastqMissingPlusLine) {
  // Reads 1-3 of any2fasta's test.fq.gz without read 2's '+' line (line 7 is its quality line).
  // Reading resumes at read 3's header: losing one line costs one record, not two.
  const std::string path = data("bad/missing_plus_line.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":7:")) << message;
  EXPECT_TRUE(contains(message, "'ERR1163317.2'")) << message;
  EXPECT_TRUE(contains(message, "expected the '+' separator line")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{"ERR1163317.1", "ERR1163317.3"}));
  EXPECT_EQ(summary.skipped, (std::map<std::string, int64_t>{{"malformed '+' line", 1}}));
}

TEST(BadInput, FastqSpaceInQuality) {
  // Reads 1-3 with quality byte 6 of read 1 replaced by a space.
  const std::string path = data("bad/space_in_quality.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":4:")) << message;
  EXPECT_TRUE(contains(message, "'ERR1163317.1'")) << message;
  EXPECT_TRUE(contains(message, "quality byte 0x20 at column 6")) << message;

  io::ReadSummary summary;
  EXPECT_EQ(names(read_all(path, skipping(), &summary)), (std::vector<std::string>{"ERR1163317.2", "ERR1163317.3"}));
  EXPECT_EQ(summary.skipped.at("invalid quality"), 1);
}

TEST(BadInput, MultiLineFastqRejected) {
  // Reads 1-2 with read 1's sequence and qualities wrapped at 80 columns.
  const std::string path = data("bad/wrapped_sequence.fq");
  const std::string message = parse_error(path);
  EXPECT_TRUE(contains(message, path + ":3:")) << message;
  EXPECT_TRUE(contains(message, "multi-line FASTQ is not supported")) << message;

  io::ReadSummary summary;
  const auto records = read_all(path, skipping(), &summary);
  EXPECT_EQ(names(records), (std::vector<std::string>{"ERR1163317.2"}));
  EXPECT_EQ(summary.skipped.at("malformed '+' line"), 1);
}

TEST(BadInput, CorruptSecondBamRecord) {
  // range.bam with the second record's block_size set to 10 (recompressed, so every BGZF block is
  // valid): the first record is read, then the error names record 2.
  const std::string path = data("bad/corrupt_second_record.bam");
  auto reader = io::open_sequences(path);
  io::SequenceRecord r;
  ASSERT_TRUE(reader->next(r));
  try {
    reader->next(r);
    FAIL() << "expected a ParseError";
  } catch (const strand::ParseError& e) {
    EXPECT_TRUE(contains(e.what(), path + ": record 2:")) << e.what();
    EXPECT_TRUE(contains(e.what(), "truncated or corrupt")) << e.what();
  }
}
