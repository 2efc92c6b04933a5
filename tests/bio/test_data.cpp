// Training data over real sequence files: windows against the genome, the split, exact resume,
// the prefetch thread and bad input.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "bio/data/dataset.h"
#include "bio/tokenizers/kmer.h"
#include "bio/tokenizers/nucleotide.h"
#include "test_io_common.h"

namespace strand::bio::data {
namespace {

using io::test::data;
using io::test::installed;
using io::test::kHtslibTest;

const std::string kSmall = data("ce_small.fa");                  // six 5 kb C. elegans contigs, with .fai
const std::string kSmallGz = data("ce_small.fa.gz");             // gzip: cannot be indexed
const std::string kSmallBgz = data("ce_small.fa.bgz");           // bgzip, with .fai and .gzi
const std::string kCe = kHtslibTest + "ce.fa";                   // 1 Mb chromosome I + six 5 kb contigs
const std::string kReads = io::test::kAny2fasta + "test.fq.gz";  // 1000 reads of 39 to 251 bases

std::shared_ptr<const tokenize::Tokenizer> char_tokenizer() { return std::make_shared<CharTokenizer>(); }

// Record name -> upper-case sequence, read with the validating reader.
std::map<std::string, std::string> genome(const std::string& path) {
  std::map<std::string, std::string> out;
  for (auto& r : io::test::read_all(path)) {
    for (char& c : r.seq) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    out[r.name] = r.seq;
  }
  return out;
}

WindowDatasetOptions small_options(const std::string& path, Access access) {
  WindowDatasetOptions o;
  o.paths = {path};
  o.window = 100;
  o.batch_size = 4;
  o.access = access;
  o.prefetch = 0;
  o.shuffle_buffer = 64;
  return o;
}

std::vector<Batch> take(WindowDataset& ds, int n) {
  std::vector<Batch> out;
  Batch b;
  for (int i = 0; i < n && ds.next(b); ++i) out.push_back(std::move(b));
  return out;
}

std::vector<Batch> drain(ValidationPass pass) {
  std::vector<Batch> out;
  Batch b;
  while (pass.next(b)) out.push_back(std::move(b));
  return out;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("batch " + std::to_string(i));
    EXPECT_EQ(a[i].epoch, b[i].epoch);
    EXPECT_EQ(a[i].index, b[i].index);
    EXPECT_EQ(a[i].windows, b[i].windows);
    ASSERT_TRUE(a[i].ids.sizes() == b[i].ids.sizes());
    EXPECT_TRUE(at::equal(a[i].ids, b[i].ids));
    EXPECT_TRUE(at::equal(a[i].attention_mask, b[i].attention_mask));
    EXPECT_EQ(a[i].real_bases, b[i].real_bases);
  }
}

// Every row decodes to the genome at the window's coordinates, and the batch is shaped as documented.
void expect_rows_match_genome(const Batch& batch, const tokenize::Tokenizer& tok,
                              const std::map<std::string, std::string>& g) {
  ASSERT_EQ(batch.ids.dim(), 2);
  EXPECT_EQ(batch.ids.scalar_type(), at::kLong);
  EXPECT_EQ(batch.attention_mask.scalar_type(), at::kBool);
  EXPECT_TRUE(batch.ids.sizes() == batch.attention_mask.sizes());
  ASSERT_EQ(batch.ids.size(0), batch.size());
  for (int64_t b = 0; b < batch.size(); ++b) {
    const WindowInfo& w = batch.windows[static_cast<size_t>(b)];
    ASSERT_TRUE(g.count(w.name)) << w.name;
    const std::string& seq = g.at(w.name);
    ASSERT_LE(w.end, static_cast<int64_t>(seq.size()));
    ASSERT_LT(w.begin, w.end);
    std::vector<tokenize::TokenId> ids;
    const auto row = batch.ids[b];
    const auto mask = batch.attention_mask[b];
    for (int64_t t = 0; t < batch.ids.size(1); ++t)
      if (mask[t].item<bool>()) ids.push_back(static_cast<tokenize::TokenId>(row[t].item<int64_t>()));
    EXPECT_EQ(tok.decode(ids), seq.substr(static_cast<size_t>(w.begin), static_cast<size_t>(w.end - w.begin)))
        << w.name << ":" << w.begin << "-" << w.end;
  }
}

// --- Windows against the genome ----------------------------------------------------------------

TEST(WindowDataset, RegionsWindowsAreGenomeSubstrings) {
  auto tok = char_tokenizer();
  WindowDataset ds(small_options(kSmall, Access::Auto), tok);
  EXPECT_EQ(ds.access(), Access::Regions);
  ASSERT_EQ(ds.records().size(), 6u);
  EXPECT_EQ(ds.records()[0].name, "CHROMOSOME_II");
  EXPECT_EQ(ds.records()[5].length, 5000);
  EXPECT_EQ(ds.batches_per_epoch(), 6 * 50 / 4);  // 50 tiles of 100 bases per 5 kb contig
  const auto g = genome(kSmall);
  for (const Batch& b : take(ds, 10)) {
    expect_rows_match_genome(b, *tok, g);
    EXPECT_EQ(b.size(), 4);
    EXPECT_EQ(b.ids.size(1), 102);  // <cls> 100 bases <eos>
    EXPECT_EQ(b.real_bases, 400);
    EXPECT_EQ(b.real_tokens, 400);
    for (const auto& w : b.windows) EXPECT_EQ(w.end - w.begin, 100);
  }
}

TEST(WindowDataset, BgzipFastaIsReadThroughItsIndex) {
  auto tok = char_tokenizer();
  WindowDataset ds(small_options(kSmallBgz, Access::Regions), tok);
  EXPECT_EQ(ds.access(), Access::Regions);
  const auto g = genome(kSmall);
  for (const Batch& b : take(ds, 5)) expect_rows_match_genome(b, *tok, g);
}

TEST(WindowDataset, GzipFastaStreamsAndTilesEachRecordOncePerEpoch) {
  auto tok = char_tokenizer();
  auto o = small_options(kSmallGz, Access::Auto);
  o.epochs = 2;
  WindowDataset ds(o, tok);
  EXPECT_EQ(ds.access(), Access::Stream);
  EXPECT_EQ(ds.batches_per_epoch(), -1);
  const auto g = genome(kSmall);
  std::map<int64_t, std::vector<WindowInfo>> per_epoch;
  Batch b;
  while (ds.next(b)) {
    expect_rows_match_genome(b, *tok, g);
    for (const auto& w : b.windows) per_epoch[b.epoch].push_back(w);
  }
  ASSERT_EQ(per_epoch.size(), 2u);
  for (auto& [epoch, windows] : per_epoch) {
    SCOPED_TRACE("epoch " + std::to_string(epoch));
    // Whole windows from a random phase: 49 or 50 per 5 kb contig, never overlapping.
    std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> by_name;
    for (const auto& w : windows) by_name[w.name].push_back({w.begin, w.end});
    ASSERT_EQ(by_name.size(), 6u);
    for (auto& [name, spans] : by_name) {
      std::sort(spans.begin(), spans.end());
      EXPECT_GE(spans.size(), 49u);
      EXPECT_LE(spans.size(), 50u);
      for (size_t i = 1; i < spans.size(); ++i) EXPECT_EQ(spans[i].first, spans[i - 1].second) << name;
    }
  }
  EXPECT_NE(per_epoch[0], per_epoch[1]);  // a new shuffle (and phase) every epoch
}

TEST(WindowDataset, RegionsEpochsEndWithTheShortBatch) {
  auto o = small_options(kSmall, Access::Regions);
  o.windows_per_epoch = 10;
  o.epochs = 2;
  WindowDataset ds(o, char_tokenizer());
  EXPECT_EQ(ds.batches_per_epoch(), 3);
  std::vector<std::pair<int64_t, int64_t>> seen;
  Batch b;
  while (ds.next(b)) seen.push_back({b.epoch, b.size()});
  const std::vector<std::pair<int64_t, int64_t>> expected = {{0, 4}, {0, 4}, {0, 2}, {1, 4}, {1, 4}, {1, 2}};
  EXPECT_EQ(seen, expected);
  EXPECT_FALSE(ds.next(b));

  o.drop_last = true;
  WindowDataset dropped(o, char_tokenizer());
  EXPECT_EQ(dropped.batches_per_epoch(), 2);
  int n = 0;
  while (dropped.next(b)) {
    EXPECT_EQ(b.size(), 4);
    ++n;
  }
  EXPECT_EQ(n, 4);
}

TEST(WindowDataset, FixedLengthPaddingAndRealBasesOfOverlappingKmers) {
  auto tok = std::make_shared<OverlappingKmerTokenizer>(3);
  auto o = small_options(kSmall, Access::Regions);
  o.padding = tokenize::Padding::MaxLength;
  o.max_tokens = 128;
  WindowDataset ds(o, tok);
  Batch b;
  ASSERT_TRUE(ds.next(b));
  EXPECT_EQ(b.ids.size(1), 128);
  const auto g = genome(kSmall);
  for (int64_t r = 0; r < b.size(); ++r) {
    const auto& w = b.windows[static_cast<size_t>(r)];
    const std::string seq = g.at(w.name).substr(static_cast<size_t>(w.begin), 100);
    // 98 overlapping 3-mers cover all 100 bases, unless an N makes some of them [UNK].
    if (seq.find_first_not_of("ACGT") != std::string::npos) continue;
    EXPECT_EQ(b.tokens[static_cast<size_t>(r)], 98);
    EXPECT_EQ(b.bases[static_cast<size_t>(r)], 100);
    EXPECT_EQ(b.attention_mask[r].sum().item<int64_t>(), 100);  // [CLS] + 98 + [SEP]
  }

  // Truncated rows: 40 tokens keep [CLS] + 38 3-mers + [SEP], covering 40 bases.
  o.max_tokens = 40;
  WindowDataset cut(o, tok);
  ASSERT_TRUE(cut.next(b));
  EXPECT_EQ(b.ids.size(1), 40);
  for (int64_t r = 0; r < b.size(); ++r) {
    const auto& w = b.windows[static_cast<size_t>(r)];
    if (g.at(w.name).substr(static_cast<size_t>(w.begin), 40).find_first_not_of("ACGT") != std::string::npos) continue;
    EXPECT_EQ(b.tokens[static_cast<size_t>(r)], 38);
    EXPECT_EQ(b.bases[static_cast<size_t>(r)], 40);
  }
}

TEST(WindowDataset, ReadsAreBucketedByLength) {
  ASSERT_TRUE(installed(kReads, "any2fasta-examples"));
  auto tok = char_tokenizer();
  auto o = small_options(kReads, Access::Auto);
  o.window = 300;  // longer than every read: one window per read
  o.batch_size = 8;
  o.epochs = 1;
  const auto padding_and_reads = [&](int64_t bucket) {
    o.bucket_batches = bucket;
    WindowDataset ds(o, tok);
    EXPECT_EQ(ds.access(), Access::Stream);
    int64_t padding = 0;
    std::multiset<int64_t> reads;
    Batch b;
    while (ds.next(b)) {
      padding += b.attention_mask.numel() - b.attention_mask.sum().item<int64_t>();
      for (int64_t r = 0; r < b.size(); ++r) {
        const auto& w = b.windows[static_cast<size_t>(r)];
        EXPECT_EQ(w.begin, 0);
        reads.insert(w.record);
        if (bucket > 1 && r > 0) {
          EXPECT_LE(b.windows[static_cast<size_t>(r - 1)].end, w.end);  // sorted by length
        }
      }
    }
    return std::make_pair(padding, reads);
  };
  const auto [plain_padding, plain_reads] = padding_and_reads(0);
  const auto [bucket_padding, bucket_reads] = padding_and_reads(32);
  EXPECT_EQ(plain_reads, bucket_reads);
  std::multiset<int64_t> every_read;  // each read exactly once per epoch
  const auto n_reads = static_cast<int64_t>(io::test::read_all(kReads).size());
  for (int64_t i = 0; i < n_reads; ++i) every_read.insert(i);
  EXPECT_EQ(plain_reads, every_read);
  // Measured: 16926 padding tokens without bucketing, 2750 with pools of 32 batches.
  EXPECT_LT(bucket_padding * 4, plain_padding);
}

TEST(WindowDataset, AlignedReadsStream) {
  auto tok = char_tokenizer();
  auto o = small_options(data("range.bam"), Access::Auto);
  WindowDataset ds(o, tok);
  EXPECT_EQ(ds.access(), Access::Stream);
  // Pairs share a read name: key the reads by their position in the file.
  std::map<std::string, std::string> reads;
  for (auto& r : io::test::read_all(data("range.bam"))) reads[std::to_string(r.index - 1)] = r.seq;
  for (Batch& b : take(ds, 3)) {
    for (auto& w : b.windows) w.name = std::to_string(w.record);
    expect_rows_match_genome(b, *tok, reads);
  }

  o.access = Access::Regions;
  const std::string msg = io::test::message_of<InputError>([&] { WindowDataset bad(o, tok); });
  EXPECT_NE(msg.find("not FASTA"), std::string::npos) << msg;
}

// --- Split -------------------------------------------------------------------------------------

bool overlaps(const WindowInfo& a, const WindowInfo& b) {
  return a.file == b.file && a.name == b.name && a.begin < b.end && b.begin < a.end;
}

// Trains for one epoch and runs the validation pass; no validation window may overlap a training
// window, every validation window must lie in a validation segment, and together they tile them.
void check_split(const WindowDatasetOptions& o, int64_t expected_validation_bases) {
  auto tok = char_tokenizer();
  WindowDataset ds(o, tok);
  std::vector<WindowInfo> train;
  Batch b;
  while (ds.next(b))
    for (const auto& w : b.windows) train.push_back(w);
  ASSERT_FALSE(train.empty());
  std::vector<WindowInfo> validation;
  int64_t bases = 0;
  for (const Batch& vb : drain(ds.validation())) {
    EXPECT_EQ(vb.epoch, -1);
    for (const auto& w : vb.windows) {
      validation.push_back(w);
      bases += w.end - w.begin;
    }
  }
  EXPECT_EQ(bases, expected_validation_bases);
  // Sort training windows by (name, begin) and look up around each validation window.
  std::map<std::string, std::vector<WindowInfo>> by_name;
  for (const auto& w : train) by_name[w.name].push_back(w);
  for (auto& [name, ws] : by_name)
    std::sort(ws.begin(), ws.end(), [](const WindowInfo& a, const WindowInfo& c) { return a.begin < c.begin; });
  int64_t clashes = 0;
  for (const auto& v : validation) {
    const auto it = by_name.find(v.name);
    if (it == by_name.end()) continue;
    for (const auto& t : it->second) clashes += overlaps(v, t) ? 1 : 0;
  }
  EXPECT_EQ(clashes, 0) << "validation windows overlapping training windows";
  if (ds.access() == Access::Regions) {
    for (const auto& v : validation) {
      bool inside = false;
      for (const auto& s : ds.validation_segments()) {
        const auto& r = ds.records()[static_cast<size_t>(s.record)];
        inside |= r.name == v.name && s.begin <= v.begin && v.end <= s.end;
      }
      EXPECT_TRUE(inside) << v.name << ":" << v.begin << "-" << v.end;
    }
  }
}

TEST(WindowDatasetSplit, LastFractionOfTheChromosomeNeverOverlapsTraining) {
  ASSERT_TRUE(installed(kCe, "htslib-test"));
  WindowDatasetOptions o;
  o.paths = {kCe};
  o.window = 1000;
  o.batch_size = 32;
  o.epochs = 1;
  o.split.by = SplitBy::Region;
  o.split.validation_fraction = 0.1;
  // Held out: floor(0.1 * length) of every record: 100980 + 6 * 500.
  for (const Access access : {Access::Regions, Access::Stream}) {
    SCOPED_TRACE(access_name(access));
    o.access = access;
    o.shuffle_buffer = 256;
    check_split(o, 100980 + 6 * 500);
  }
}

TEST(WindowDatasetSplit, HashedBlocksNeverOverlapTraining) {
  ASSERT_TRUE(installed(kCe, "htslib-test"));
  WindowDatasetOptions o;
  o.paths = {kCe};
  o.window = 700;
  o.batch_size = 32;
  o.epochs = 1;
  o.split.by = SplitBy::Region;
  o.split.block = 10000;
  o.split.validation_fraction = 0.2;
  o.split.seed = 7;
  o.access = Access::Regions;
  auto tok = char_tokenizer();
  int64_t held = 0;
  {
    WindowDataset ds(o, tok);
    for (const auto& s : ds.validation_segments()) held += s.end - s.begin;
    // Roughly the fraction of the 101 blocks of chromosome I (plus whole 5 kb contigs, one block each).
    EXPECT_GT(held, 100000);
    EXPECT_LT(held, 400000);
    // Segments of one kind never touch: adjacent blocks were merged.
    const auto& v = ds.validation_segments();
    for (size_t i = 1; i < v.size(); ++i)
      if (v[i].record == v[i - 1].record) {
        EXPECT_LT(v[i - 1].end, v[i].begin);
      }
  }
  check_split(o, held);
}

TEST(WindowDatasetSplit, ByRecordHoldsOutWholeRecords) {
  WindowDatasetOptions o = small_options(kSmall, Access::Regions);
  o.epochs = 1;
  o.split.validation_fraction = 0.5;
  o.split.seed = 3;
  WindowDataset ds(o, char_tokenizer());
  std::set<std::string> held;
  for (const auto& s : ds.validation_segments()) {
    EXPECT_EQ(s.begin, 0);
    EXPECT_EQ(s.end, 5000);
    held.insert(ds.records()[static_cast<size_t>(s.record)].name);
  }
  ASSERT_FALSE(held.empty());
  ASSERT_LT(held.size(), 6u);
  Batch b;
  while (ds.next(b))
    for (const auto& w : b.windows) EXPECT_EQ(held.count(w.name), 0u) << w.name;
  check_split(o, static_cast<int64_t>(held.size()) * 5000);
}

TEST(WindowDatasetSplit, HashIsDeterministicAndNearTheFraction) {
  SplitOptions s;
  s.validation_fraction = 0.2;
  s.seed = 11;
  int held = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<Segment> train, validation, train2, validation2;
    const std::string name = "read" + std::to_string(i);
    split_record(s, name, 150, i, train, validation);
    split_record(s, name, 150, i, train2, validation2);
    ASSERT_EQ(train.size() + validation.size(), 1u);
    EXPECT_EQ(validation.size(), validation2.size());
    held += static_cast<int>(validation.size());
  }
  // Binomial(20000, 0.2): standard deviation 57; 6 of them either side.
  EXPECT_NEAR(held, 4000, 340);
  std::vector<Segment> t, v;
  s.validation_fraction = 1.0;
  EXPECT_THROW(split_record(s, "x", 10, 0, t, v), ConfigError);
}

TEST(WindowDatasetSplit, ValidationPassIsTheSameInBothModesAndRepeatable) {
  auto tok = char_tokenizer();
  auto o = small_options(kSmall, Access::Regions);
  o.split.by = SplitBy::Region;
  o.split.validation_fraction = 0.25;  // the last 1250 bases of each contig: 12 full windows + 50
  o.min_length = 60;                   // drops the 50-base tail windows
  WindowDataset regions(o, tok);
  o.access = Access::Stream;
  WindowDataset stream(o, tok);
  const auto a = drain(regions.validation());
  const auto b = drain(stream.validation());
  expect_same_batches(a, b);
  expect_same_batches(a, drain(regions.validation()));
  int64_t windows = 0;
  for (const auto& batch : a) windows += batch.size();
  EXPECT_EQ(windows, 6 * 12);
  expect_rows_match_genome(a.front(), *tok, genome(kSmall));
  EXPECT_EQ(a.front().windows.front().begin, 3750);

  auto limited = regions.validation(10);
  const auto c = drain(std::move(limited));
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c.back().size(), 2);
}

// --- Resume and the prefetch thread -------------------------------------------------------------

struct ResumeCase {
  Access access;
  int64_t bucket;
  int prefetch;
};

class WindowDatasetResume : public ::testing::TestWithParam<ResumeCase> {};

TEST_P(WindowDatasetResume, RestoreContinuesWithTheIdenticalBatches) {
  const ResumeCase p = GetParam();
  auto tok = char_tokenizer();
  auto o = small_options(kSmallGz, p.access);
  if (p.access == Access::Regions) {
    o.paths = {kSmall};
    o.windows_per_epoch = 22;  // 6 batches, the last of 2 windows
  } else {
    o.window = 1200;  // 4 or 5 windows per contig, < 30 per epoch
    o.shuffle_buffer = 7;
  }
  o.bucket_batches = p.bucket;
  o.prefetch = p.prefetch;
  const int total = 16;  // crosses epoch boundaries
  WindowDataset reference(o, tok);
  const auto expected = take(reference, total);
  ASSERT_EQ(expected.size(), static_cast<size_t>(total));
  ASSERT_GT(expected.back().epoch, 0);

  for (const int cut : {0, 3, 6, 11}) {
    SCOPED_TRACE("interrupted after " + std::to_string(cut) + " batches");
    std::string saved;
    std::vector<Batch> got;
    {
      WindowDataset first(o, tok);
      got = take(first, cut);
      saved = first.state().dump();
    }
    WindowDataset second(o, tok);
    second.restore(nlohmann::json::parse(saved));
    EXPECT_EQ(second.state()["step"], cut);
    for (auto& b : take(second, total - cut)) got.push_back(std::move(b));
    expect_same_batches(got, expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Modes, WindowDatasetResume,
                         ::testing::Values(ResumeCase{Access::Regions, 0, 0}, ResumeCase{Access::Regions, 0, 4},
                                           ResumeCase{Access::Regions, 3, 2}, ResumeCase{Access::Stream, 0, 0},
                                           ResumeCase{Access::Stream, 0, 4}, ResumeCase{Access::Stream, 2, 3}),
                         [](const auto& info) {
                           return std::string(access_name(info.param.access)) + "_bucket" +
                                  std::to_string(info.param.bucket) + "_prefetch" + std::to_string(info.param.prefetch);
                         });

TEST(WindowDatasetPrefetch, StateCountsOnlyTheBatchesReceived) {
  auto tok = char_tokenizer();
  auto o = small_options(kSmall, Access::Regions);
  o.prefetch = 4;
  WindowDataset ds(o, tok);
  const auto received = take(ds, 3);
  // Wait until the thread has filled the queue: it is 4 batches ahead of the consumer.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ds.prefetched() < 4 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_EQ(ds.prefetched(), 4);
  const nlohmann::json s = ds.state();
  EXPECT_EQ(s["epoch"], 0);
  EXPECT_EQ(s["batch"], 3);
  EXPECT_EQ(s["step"], 3);

  // Restoring that state elsewhere gives the batch this dataset delivers next, not a later one.
  o.prefetch = 0;
  WindowDataset other(o, tok);
  other.restore(s);
  expect_same_batches(take(other, 2), take(ds, 2));
}

TEST(WindowDatasetPrefetch, DestructorStopsABlockedThread) {
  auto o = small_options(kSmall, Access::Regions);
  o.prefetch = 2;
  for (int consumed = 0; consumed < 3; ++consumed) {
    WindowDataset ds(o, char_tokenizer());
    take(ds, consumed);
  }  // each destructor joins a thread that is blocked on a full queue or mid-batch
  SUCCEED();
}

TEST(WindowDatasetPrefetch, RestoreRejectsAStateOfOtherSettings) {
  auto tok = char_tokenizer();
  auto o = small_options(kSmall, Access::Regions);
  WindowDataset a(o, tok);
  take(a, 2);
  const auto s = a.state();
  o.window = 200;
  WindowDataset b(o, tok);
  const std::string msg = io::test::message_of<ConfigError>([&] { b.restore(s); });
  EXPECT_NE(msg.find("window"), std::string::npos) << msg;
  EXPECT_THROW(b.restore(nlohmann::json{{"format", "other"}}), ConfigError);
  auto bad = s;
  bad["batch"] = -1;
  EXPECT_THROW(a.restore(bad), ConfigError);
}

// --- Bad input -----------------------------------------------------------------------------------

TEST(WindowDatasetBadInput, MissingFileIsAnIoError) {
  auto o = small_options(data("no_such_file.fa"), Access::Auto);
  const std::string msg = io::test::message_of<IoError>([&] { WindowDataset ds(o, char_tokenizer()); });
  EXPECT_NE(msg.find("no_such_file.fa"), std::string::npos) << msg;
}

TEST(WindowDatasetBadInput, InconsistentOptionsAreConfigErrors) {
  auto o = small_options(kSmall, Access::Auto);
  o.window = 0;
  EXPECT_THROW(WindowDataset(o, char_tokenizer()), ConfigError);
  o = small_options(kSmall, Access::Auto);
  o.padding = tokenize::Padding::MaxLength;
  EXPECT_THROW(WindowDataset(o, char_tokenizer()), ConfigError);
  o = small_options(kSmall, Access::Auto);
  EXPECT_THROW(WindowDataset(o, nullptr), ConfigError);
}

// A real FASTA followed by a record with digits in its sequence.
std::string write_damaged_fasta(const io::test::TempDir& dir) {
  const std::string path = dir.file("damaged.fa");
  std::ifstream in(kSmall);
  std::ofstream out(path);
  out << in.rdbuf() << ">broken\nACGT0123ACGT\n";
  return path;
}

TEST(WindowDatasetBadInput, MalformedRecordReachesTheConsumerThroughThePrefetchThread) {
  io::test::TempDir dir;
  const std::string path = write_damaged_fasta(dir);
  auto o = small_options(path, Access::Stream);
  o.prefetch = 3;
  o.shuffle_buffer = 4;
  WindowDataset ds(o, char_tokenizer());
  Batch b;
  int delivered = 0;
  const std::string msg = io::test::message_of<ParseError>([&] {
    while (ds.next(b)) ++delivered;
  });
  EXPECT_GT(delivered, 0);  // the good records before it came through first
  EXPECT_NE(msg.find("damaged.fa"), std::string::npos) << msg;
  EXPECT_NE(msg.find("broken"), std::string::npos) << msg;
  EXPECT_THROW(ds.next(b), ParseError);  // and again: the dataset stays failed

  // Regions mode reads every record once at construction and fails there.
  o.access = Access::Auto;
  const std::string at_open = io::test::message_of<ParseError>([&] { WindowDataset r(o, char_tokenizer()); });
  EXPECT_NE(at_open.find("broken"), std::string::npos) << at_open;
}

TEST(WindowDatasetBadInput, StaleIndexIsDetected) {
  io::test::TempDir dir;
  const std::string path = dir.file("stale.fa");
  {
    std::ifstream in(kSmall);
    std::ofstream out(path);
    out << in.rdbuf();
    std::ifstream fai(kSmall + ".fai");
    std::ofstream stale(path + ".fai");
    std::string line;
    std::getline(fai, line);
    stale << line << "\n";  // lists only the first record
  }
  const std::string msg = io::test::message_of<ParseError>(
      [&] { WindowDataset ds(small_options(path, Access::Regions), char_tokenizer()); });
  EXPECT_NE(msg.find("stale index"), std::string::npos) << msg;
}

}  // namespace
}  // namespace strand::bio::data
