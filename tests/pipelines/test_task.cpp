// Supervised task directories (pipelines/task.h): write_task -> load_task round trips, the
// Genomic Benchmarks and Nucleotide Transformer layouts, kind/alphabet inference, every listed
// input error (each message must name the file and the line or record), and the group-respecting
// fold assignment and validation split.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "pipelines/task.h"

using namespace strand;
using namespace strand::pipelines;
namespace fs = std::filesystem;

namespace {

class TaskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    root_ = fs::temp_directory_path() /
            ("strand-task-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  std::string path(const std::string& rel) const { return (root_ / rel).string(); }
  std::string write(const std::string& rel, const std::string& text) const {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string write_gz(const std::string& rel, const std::string& text) const {
    const fs::path p = root_ / rel;
    fs::create_directories(p.parent_path());
    gzFile f = gzopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
    gzclose(f);
    return p.string();
  }
  fs::path root_;
};

// Runs fn, expects exception E, and checks that the message contains every fragment.
template <typename E>
void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one mentioning " << fragments.front();
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

std::vector<std::string> ids(const std::vector<TaskExample>& xs) {
  std::vector<std::string> out;
  for (const auto& x : xs) out.push_back(x.id);
  return out;
}

TaskExample example(std::string id, std::string seq, int64_t label, std::string group = "", int fold = -1) {
  TaskExample e;
  e.id = std::move(id);
  e.sequence = std::move(seq);
  e.label = label;
  e.group = std::move(group);
  e.fold = fold;
  return e;
}

// ---------------------------------------------------------------------------------------------
// Round trips

TEST_F(TaskTest, ClassificationRoundTrip) {
  Task t;
  t.spec.name = "cds";
  t.spec.description = "coding vs intergenic";
  t.spec.alphabet = "dna";
  t.spec.classes = {"intergenic", "cds"};
  t.spec.metric = "mcc";
  t.spec.folds = 2;
  t.spec.provenance["seed"] = 7;
  t.train = {example("a", "ACGT", 0, "g1", 0), example("b", "CCGG", 1, "g1", 0), example("c", "TTAA", 1, "", 1)};
  t.valid = {example("d", "GATTACA", 0, "g2")};
  t.test = {example("e", "ACGTN", 1, "g3"), example("f", "AAAA", 1, "g3")};
  write_task(t, path("task"));
  EXPECT_EQ(t.spec.files.at("train"), "train.tsv");
  EXPECT_EQ(t.spec.provenance["counts"]["train"]["n"], 3);
  EXPECT_EQ(t.spec.provenance["counts"]["train"]["classes"]["cds"], 2);
  EXPECT_EQ(t.spec.provenance["counts"]["test"]["classes"]["intergenic"], 0);
  for (const auto& entry : fs::directory_iterator(path("task")))
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();

  const Task u = load_task(path("task"));
  EXPECT_EQ(u.dir, path("task"));
  EXPECT_EQ(u.spec.name, "cds");
  EXPECT_EQ(u.spec.description, "coding vs intergenic");
  EXPECT_EQ(u.spec.kind, TaskKind::Classification);
  EXPECT_EQ(u.spec.classes, t.spec.classes);  // order kept, not re-sorted
  EXPECT_EQ(u.spec.folds, 2);
  EXPECT_EQ(u.spec.provenance["seed"], 7);
  EXPECT_EQ(u.spec.provenance["counts"], t.spec.provenance["counts"]);
  ASSERT_EQ(u.train.size(), 3u);
  ASSERT_EQ(u.valid.size(), 1u);
  ASSERT_EQ(u.test.size(), 2u);
  const auto same = [](const TaskExample& x, const TaskExample& y) {
    return x.id == y.id && x.sequence == y.sequence && x.label == y.label && x.group == y.group && x.fold == y.fold;
  };
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(same(u.train[i], t.train[i])) << i;
  EXPECT_TRUE(same(u.valid[0], t.valid[0]));
  for (size_t i = 0; i < 2; ++i) EXPECT_TRUE(same(u.test[i], t.test[i])) << i;

  // Rewriting without a valid split drops the stale valid.tsv and its entry.
  t.valid.clear();
  write_task(t, path("task"));
  EXPECT_FALSE(fs::exists(path("task/valid.tsv")));
  EXPECT_EQ(t.spec.files.count("valid"), 0u);
  EXPECT_EQ(t.spec.provenance["counts"].count("valid"), 0u);
  EXPECT_TRUE(load_task(path("task")).valid.empty());
}

TEST_F(TaskTest, RegressionRoundTripIsExact) {
  Task t;
  t.spec.name = "tpsa";
  t.spec.kind = TaskKind::Regression;
  t.spec.alphabet = "smiles";
  const std::vector<double> values = {0.1, 34.14, -2.5e-300, 1.0 / 3.0, 106.51};
  const std::vector<std::string> smiles = {"CCO", "c1ccccc1", "CC(=O)O", "N#N", "OC1=C(Cl)C=CC=C1"};
  for (size_t i = 0; i < values.size(); ++i) {
    TaskExample e = example("m" + std::to_string(i), smiles[i], -1);
    e.value = values[i];
    t.train.push_back(e);
  }
  t.test = {t.train.back()};
  write_task(t, path("r"));
  EXPECT_EQ(t.spec.metric, "spearman");  // filled in from the kind
  const auto& c = t.spec.provenance["counts"]["train"];
  EXPECT_EQ(c["n"], 5);
  double mean = 0;
  for (double v : values) mean += v / 5;
  double ss = 0;
  for (double v : values) ss += (v - mean) * (v - mean);
  EXPECT_NEAR(c["mean"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(c["sd"].get<double>(), std::sqrt(ss / 4), 1e-9);

  const Task u = load_task(path("r"));
  EXPECT_EQ(u.spec.kind, TaskKind::Regression);
  EXPECT_TRUE(u.spec.classes.empty());
  ASSERT_EQ(u.train.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(u.train[i].value, values[i]) << i;     // bit-exact through the text file
    EXPECT_EQ(u.train[i].sequence, smiles[i]) << i;  // SMILES keep their case
  }
}

TEST_F(TaskTest, WriteTaskRejectsFieldsThatCannotRoundTrip) {
  Task t;
  t.spec.name = "x";
  t.spec.classes = {"a"};
  t.train = {example("id\twith tab", "ACGT", 0)};
  expect_error<InputError>([&] { write_task(t, path("w")); },
                           {"train example", "id 'id\twith tab' holds a tab or line break"});
  t.train = {example("a", "ACGT", 0), example("a", "ACGA", 0)};
  expect_error<InputError>([&] { write_task(t, path("w")); }, {"train example 'a'", "duplicate id"});
  t.train = {example("a", "ACGT", 3)};
  expect_error<InputError>([&] { write_task(t, path("w")); }, {"class index 3"});
  t.train = {example("a", "ACGT", 0, "g")};
  t.test = {example("b", "ACGT", 0, "g")};
  expect_error<InputError>([&] { write_task(t, path("w")); }, {"group 'g'", "test.tsv", "train"});
  EXPECT_FALSE(fs::exists(path("w/task.json")));
}

// ---------------------------------------------------------------------------------------------
// Detected layouts

TEST_F(TaskTest, GenomicBenchmarksLayout) {
  // Classes as folders; lower-case sequences are upper-cased on load; files in numeric order.
  const std::map<std::string, std::string> seqs = {{"0", "acga"}, {"1", "acgc"}, {"2", "acgg"}, {"10", "acgt"}};
  for (const auto& [id, seq] : seqs) {
    write("gb/human_nontata/train/positive/" + id + ".txt", seq + "\n");
    write("gb/human_nontata/train/negative/" + id + ".txt", "TTTT\n");
  }
  write("gb/human_nontata/test/positive/0.txt", "GGCC");  // no trailing newline
  write("gb/human_nontata/test/negative/0.txt", "\n  AATT \r\n\n");
  write("gb/human_nontata/train/.DS_Store", "junk");

  for (const std::string& dir : {path("gb/human_nontata"), path("gb")}) {  // the dataset, or the folder holding it
    const Task t = load_task(dir);
    EXPECT_EQ(t.dir, path("gb/human_nontata"));
    EXPECT_EQ(t.spec.name, "human_nontata");
    EXPECT_EQ(t.spec.kind, TaskKind::Classification);
    EXPECT_EQ(t.spec.alphabet, "dna");
    EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"negative", "positive"}));
    EXPECT_EQ(t.spec.provenance["layout"], "genomic-benchmarks");
    ASSERT_EQ(t.train.size(), 8u);
    EXPECT_TRUE(t.valid.empty());
    EXPECT_EQ(ids(t.train), (std::vector<std::string>{"negative/0", "negative/1", "negative/2", "negative/10",
                                                      "positive/0", "positive/1", "positive/2", "positive/10"}));
    EXPECT_EQ(t.train[7].sequence, "ACGT");
    EXPECT_EQ(t.train[4].sequence, "ACGA");
    EXPECT_EQ(t.train[7].label, 1);
    EXPECT_EQ(t.train[0].label, 0);
    ASSERT_EQ(t.test.size(), 2u);
    EXPECT_EQ(t.test[0].sequence, "AATT");
    EXPECT_EQ(t.test[1].sequence, "GGCC");
  }
}

TEST_F(TaskTest, GenomicBenchmarksErrors) {
  write("gb/train/positive/0.txt", "ACGT\nACGT\n");
  write("gb/test/positive/0.txt", "ACGT\n");
  expect_error<ParseError>([&] { load_task(path("gb")); }, {path("gb/train/positive/0.txt") + ":2:", "one sequence"});
  write("gb/train/positive/0.txt", "  \n");
  expect_error<ParseError>([&] { load_task(path("gb")); }, {path("gb/train/positive/0.txt"), "empty file"});
  write("gb/train/positive/0.txt", "ACGT\n");
  write("gb/train/positive/notes.md", "x");
  expect_error<InputError>([&] { load_task(path("gb")); }, {path("gb/train/positive/notes.md"), "expected only"});
  fs::remove(path("gb/train/positive/notes.md"));
  fs::remove_all(path("gb/test"));
  expect_error<InputError>([&] { load_task(path("gb")); }, {path("gb"), "test/"});
  // A class in test that train does not have.
  write("gb/test/other/0.txt", "ACGT\n");
  expect_error<ParseError>([&] { load_task(path("gb")); },
                           {path("gb/test/other/0.txt") + ":1:", "unknown class 'other'"});
}

TEST_F(TaskTest, NucleotideTransformerFasta) {
  // `>name|label`, integer labels sort numerically so class id == label (10 after 2).
  write("nt/train.fna", ">chr1:1-5|1\nacgtn\n>chr1:6-9|0\nAC\nGT\n>x|y|2\nTTTT\n>chr2:1-4|10\nGGGG\n");
  write_gz("nt/test.fna.gz", ">t1|0\nAAAA\n>t2|2\nCCCC\n");
  const Task t = load_task(path("nt"));
  EXPECT_EQ(t.spec.provenance["layout"], "nucleotide-transformer");
  EXPECT_EQ(t.spec.kind, TaskKind::Classification);
  EXPECT_EQ(t.spec.alphabet, "dna");
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"0", "1", "2", "10"}));
  EXPECT_EQ(ids(t.train), (std::vector<std::string>{"chr1:1-5", "chr1:6-9", "x|y", "chr2:1-4"}));
  EXPECT_EQ(t.train[0].label, 1);
  EXPECT_EQ(t.train[0].sequence, "ACGTN");
  EXPECT_EQ(t.train[1].sequence, "ACGT");
  EXPECT_EQ(t.train[2].label, 2);
  EXPECT_EQ(t.train[3].label, 3);
  EXPECT_EQ(ids(t.test), (std::vector<std::string>{"t1", "t2"}));
  EXPECT_EQ(t.test[1].label, 2);
}

TEST_F(TaskTest, FastaLabelWords) {
  write("f/train.fa", ">sp|P1|A label=Bac group=fam1 fold=1\nMKV\n>sp|P2|B label=Euk group=fam2 fold=0\nMKLX\n");
  write("f/test.fa", ">q label=Euk\nMAAA\n");
  const Task t = load_task(path("f"));
  EXPECT_EQ(t.spec.alphabet, "protein");
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"Bac", "Euk"}));
  EXPECT_EQ(t.train[0].id, "sp|P1|A");  // with label= the whole first word is the id
  EXPECT_EQ(t.train[0].group, "fam1");
  EXPECT_EQ(t.train[0].fold, 1);
  EXPECT_EQ(t.spec.folds, 2);
  EXPECT_EQ(t.test[0].label, 1);
}

TEST_F(TaskTest, NucleotideTransformerCsv) {
  write("ntc/train.csv", "sequence,name,label\nACGT,s1,0\nacgg,s2,1\n");
  write("ntc/test.csv", "sequence,name,label\r\nTTTT,s3,1\r\n");
  const Task t = load_task(path("ntc"));
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"0", "1"}));
  EXPECT_EQ(ids(t.train), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(t.train[1].sequence, "ACGG");
  EXPECT_EQ(t.test[0].id, "s3");
  EXPECT_EQ(t.test[0].label, 1);
}

TEST_F(TaskTest, PlainTsvWithGroupsAndFolds) {
  write("p/train.tsv",
        "id\tsequence\tlabel\tgroup\tfold\nr1\tACGU\tA\tgA\t0\nr2\tACGA\tB\tgA\t0\n\nr3\tUUUU\tB\tgB\t2\n");
  write("p/valid.tsv", "ID\tSeq\tLabel\tGroup\nv1\tACGU\tA\tgC\n");
  write("p/test.tsv", "sequence\tlabel\nGGGG\tB\n");
  const Task t = load_task(path("p"));
  EXPECT_EQ(t.spec.alphabet, "rna");
  EXPECT_EQ(t.spec.folds, 3);
  EXPECT_EQ(t.spec.provenance["layout"], "files");
  EXPECT_EQ(t.train[2].group, "gB");
  EXPECT_EQ(t.train[2].fold, 2);
  EXPECT_EQ(t.valid[0].group, "gC");
  EXPECT_EQ(t.valid[0].fold, -1);
  EXPECT_EQ(t.test[0].id, "line2");  // no id column
  // Group gA in valid as well: leakage across splits is an error naming both.
  write("p/valid.tsv", "id\tsequence\tlabel\tgroup\nv1\tACGU\tA\tgA\n");
  expect_error<InputError>([&] { load_task(path("p")); },
                           {path("p/valid.tsv"), "example 'v1'", "group 'gA'", path("p/train.tsv"), "example 'r1'"});
}

TEST_F(TaskTest, QuotedCsv) {
  // RFC 4180: quoted fields with commas, doubled quotes and a line break; CRLF; byte order mark.
  write("q/train.csv",
        "\xEF\xBB\xBFid,sequence,label,note\r\n"
        "\"a,1\",ACGT,\"class \"\"x\"\"\",plain\r\n"
        "b,\"  CCGG \",\"class, y\",\"two\r\nlines\"\r\n"
        "c , TTAA ,\"class, y\" ,\"\"\r\n");
  write("q/test.csv", "id,sequence,label\nd,GGGG,\"class \"\"x\"\"\"\n");
  const Task t = load_task(path("q"));
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"class \"x\"", "class, y"}));
  EXPECT_EQ(ids(t.train), (std::vector<std::string>{"a,1", "b", "c"}));
  EXPECT_EQ(t.train[1].sequence, "CCGG");
  EXPECT_EQ(t.train[2].label, 1);
  EXPECT_EQ(t.test[0].label, 0);

  write("bad1.csv", "id,sequence,label\na,ACGT,\"open\nb,ACGT,x\n");
  std::vector<std::string> classes;
  expect_error<ParseError>([&] { read_task_split(path("bad1.csv"), TaskKind::Classification, classes, true); },
                           {path("bad1.csv") + ":2:", "closing quote"});
  write("bad2.csv", "id,sequence,label\na,AC\"GT,x\n");
  expect_error<ParseError>([&] { read_task_split(path("bad2.csv"), TaskKind::Classification, classes, true); },
                           {path("bad2.csv") + ":2:", "quote"});
  write("bad3.csv", "id,sequence,label\na,\"ACGT\"x,x\n");
  expect_error<ParseError>([&] { read_task_split(path("bad3.csv"), TaskKind::Classification, classes, true); },
                           {path("bad3.csv") + ":2:", "after a closing quote"});
}

TEST_F(TaskTest, RegressionTsvInferred) {
  write("reg/train.tsv", "smiles\ty\nCCO\t20.23\nc1ccccc1\t0\nCC(=O)O\t37.3\n");
  write("reg/test.tsv", "smiles\ty\nN#N\t-1e-2\n");
  const Task t = load_task(path("reg"));
  EXPECT_EQ(t.spec.kind, TaskKind::Regression);
  EXPECT_EQ(t.spec.alphabet, "smiles");
  EXPECT_EQ(t.spec.metric, "spearman");
  EXPECT_EQ(t.train[1].sequence, "c1ccccc1");  // not upper-cased
  EXPECT_DOUBLE_EQ(t.train[0].value, 20.23);
  EXPECT_DOUBLE_EQ(t.test[0].value, -0.01);
  // Overrides: the same numbers as classes, or another alphabet.
  LoadTaskOptions o;
  o.kind = TaskKind::Classification;
  expect_error<ParseError>([&] { load_task(path("reg"), o); }, {path("reg/test.tsv") + ":2:", "unknown class '-1e-2'"});
  write("reg/test.tsv", "smiles\ty\nN#N\t0\n");
  const Task c = load_task(path("reg"), o);
  EXPECT_EQ(c.spec.classes, (std::vector<std::string>{"0", "20.23", "37.3"}));  // numeric order
  EXPECT_EQ(c.test[0].label, 0);
}

TEST_F(TaskTest, KindInference) {
  // Integers with at most 64 distinct values: classes. 65 distinct integers: regression.
  std::string many = "sequence\tlabel\n";
  for (int i = 0; i < 65; ++i) many += "ACGT\t" + std::to_string(i) + "\n";
  write("k65/train.tsv", many);
  write("k65/test.tsv", "sequence\tlabel\nACGT\t3\n");
  EXPECT_EQ(load_task(path("k65")).spec.kind, TaskKind::Regression);
  std::string few = "sequence\tlabel\n";
  for (int i = 0; i < 130; ++i) few += "ACGT\t" + std::to_string(i % 64) + "\n";
  write("k64/train.tsv", few);
  write("k64/test.tsv", "sequence\tlabel\nACGT\t63\n");
  const Task t = load_task(path("k64"));
  EXPECT_EQ(t.spec.kind, TaskKind::Classification);
  EXPECT_EQ(t.spec.classes.size(), 64u);
  EXPECT_EQ(t.test[0].label, 63);  // class id == integer label
  LoadTaskOptions o;
  o.kind = TaskKind::Regression;
  EXPECT_EQ(load_task(path("k64"), o).test[0].value, 63.0);
  // Non-numeric labels: classification even if some look like numbers.
  write("kn/train.tsv", "sequence\tlabel\nACGT\t1.5\nACGT\thigh\n");
  write("kn/test.tsv", "sequence\tlabel\nACGT\thigh\n");
  EXPECT_EQ(load_task(path("kn")).spec.kind, TaskKind::Classification);
}

TEST_F(TaskTest, AlphabetInference) {
  const auto alphabet_of = [&](const std::string& name, const std::vector<std::string>& seqs) {
    std::string text = "sequence\tlabel\n";
    for (const auto& s : seqs) text += s + "\ta\n";
    write(name + "/train.tsv", text);
    write(name + "/test.tsv", "sequence\tlabel\nA\ta\n");
    return load_task(path(name)).spec.alphabet;
  };
  EXPECT_EQ(alphabet_of("d", {"acgtn", "ACGT"}), "dna");
  EXPECT_EQ(alphabet_of("r", {"ACGU", "acgun"}), "rna");
  EXPECT_EQ(alphabet_of("pr", {"MKVLAAGIT", "MXXK*"}), "protein");
  EXPECT_EQ(alphabet_of("sm", {"CCO", "C1CC1"}), "smiles");
  LoadTaskOptions o;
  o.alphabet = "rna";
  EXPECT_EQ(load_task(path("d"), o).spec.alphabet, "rna");
  o.alphabet = "amino";
  expect_error<ConfigError>([&] { load_task(path("d"), o); }, {"unknown alphabet 'amino'"});
}

TEST_F(TaskTest, GzippedTsvAndTruncatedGzip) {
  std::string text = "id\tsequence\tlabel\n";
  for (int i = 0; i < 2000; ++i)
    text += "s" + std::to_string(i) + "\tACGTACGTACGTACGTACGT\t" + std::to_string(i % 2) + "\n";
  const std::string gz = write_gz("z/train.tsv.gz", text);
  write("z/test.tsv", "id\tsequence\tlabel\nt\tACGT\t1\n");
  const Task t = load_task(path("z"));
  ASSERT_EQ(t.train.size(), 2000u);
  EXPECT_EQ(t.train[1999].id, "s1999");
  EXPECT_EQ(t.train[1999].label, 1);
  // Cut the compressed file short: a ParseError, never a silently shorter split.
  const auto size = fs::file_size(gz);
  fs::resize_file(gz, size / 2);
  expect_error<ParseError>([&] { load_task(path("z")); }, {path("z/train.tsv.gz"), "truncated gzip"});
}

TEST_F(TaskTest, LongLinesAreRead) {
  const std::string seq(300000, 'A');
  write("long/train.tsv", "sequence\tlabel\n" + seq + "\tx\nC\ty\n");
  write("long/test.tsv", "sequence\tlabel\nC\tx\n");
  const Task t = load_task(path("long"));
  EXPECT_EQ(t.train[0].sequence.size(), seq.size());
  EXPECT_EQ(t.train[1].sequence, "C");
}

// ---------------------------------------------------------------------------------------------
// Errors: each names the file and the line (or record), what was expected and what was found.

TEST_F(TaskTest, SplitFileErrors) {
  std::vector<std::string> classes;
  const auto read = [&](const std::string& p, TaskKind kind = TaskKind::Classification, bool add = true) {
    return [&, p, kind, add] { read_task_split(p, kind, classes, add); };
  };
  expect_error<InputError>(read(path("missing.tsv")), {path("missing.tsv"), "does not exist"});
  expect_error<InputError>(read(write("x.txt", "a")), {path("x.txt"), "expected a split file ending in .tsv"});

  const std::string fields = write("fields.tsv", "id\tsequence\tlabel\na\tACGT\tx\nb\tACGT\n");
  expect_error<ParseError>(read(fields), {fields + ":3:", "expected 3 tab-separated fields", "found 2"});

  const std::string empty_seq = write("empty.csv", "id,sequence,label\na,ACGT,x\nb,  ,x\n");
  expect_error<ParseError>(read(empty_seq), {empty_seq + ":3:", "expected a sequence", "empty field"});

  const std::string header = write("header.tsv", "id\tseq\tclass\na\tACGT\tx\n");
  expect_error<ParseError>(read(header), {header + ":1:", "label column", "'class'"});

  classes = {"x", "y"};
  const std::string unknown = write("unknown.tsv", "id\tsequence\tlabel\na\tACGT\tx\nb\tACGT\tz\n");
  expect_error<ParseError>(read(unknown, TaskKind::Classification, false),
                           {unknown + ":3:", "unknown class 'z'", "x, y"});
  // With add_classes the new name is appended.
  read(unknown, TaskKind::Classification, true)();
  EXPECT_EQ(classes, (std::vector<std::string>{"x", "y", "z"}));

  const std::string nonnum = write("nonnum.tsv", "id\tsequence\tlabel\na\tACGT\t1.5\nb\tACGT\tNaN\n");
  expect_error<ParseError>(read(nonnum, TaskKind::Regression), {nonnum + ":3:", "expected a number", "'NaN'"});

  const std::string dup = write("dup.tsv", "id\tsequence\tlabel\na\tACGT\tx\nb\tACGT\tx\na\tACGT\tx\n");
  expect_error<ParseError>(read(dup), {dup + ":4:", "duplicate id 'a'", "first at line 2"});

  const std::string fold = write("fold.tsv", "id\tsequence\tlabel\tfold\na\tACGT\tx\tone\n");
  expect_error<ParseError>(read(fold), {fold + ":2:", "fold number", "'one'"});

  const std::string only_header = write("only.tsv", "id\tsequence\tlabel\n");
  expect_error<ParseError>(read(only_header), {only_header, "at least one example"});

  const std::string nolabel = write("nolabel.fa", ">a|x\nACGT\n>b desc\nACGT\n");
  expect_error<ParseError>(read(nolabel), {nolabel, "record 2 ('b')", ">ID|LABEL", "'>b desc'"});
  const std::string fdup = write("fdup.fa", ">a|x\nACGT\n>a|y\nACGT\n");
  expect_error<ParseError>(read(fdup), {fdup, "record 2 ('a|y')", "duplicate id 'a'", "record 1"});
  const std::string fempty = write("fempty.fa", ">a|x\n\n>b|x\nAC\n");
  expect_error<ParseError>(read(fempty), {fempty, "record 1 ('a|x')", "empty record"});

  const char raw[] = "id\tsequence\tlabel\na\tAC\0GT\tx\n";
  const std::string binary = write("bin.tsv", std::string(raw, sizeof raw - 1));
  expect_error<ParseError>(read(binary), {binary + ":2:", "NUL byte"});
}

TEST_F(TaskTest, TaskJsonErrors) {
  expect_error<InputError>([&] { load_task(path("nowhere")); }, {path("nowhere"), "does not exist"});
  fs::create_directories(path("emptydir"));
  expect_error<InputError>([&] { load_task(path("emptydir")); }, {path("emptydir"), "found none"});

  write("j/train.tsv", "id\tsequence\tlabel\tfold\na\tACGT\tx\t0\nb\tACGT\ty\t4\n");
  nlohmann::json j = {{"name", "j"}, {"kind", "classification"},         {"alphabet", "dna"}, {"classes", {"x", "y"}},
                      {"folds", 2},  {"files", {{"train", "train.tsv"}}}};
  write("j/task.json", j.dump());
  expect_error<InputError>([&] { load_task(path("j")); }, {path("j/train.tsv"), "example 'b'", "fold 4"});

  // Classes inferred from the training labels when task.json lists none.
  write("j/train.tsv", "id\tsequence\tlabel\tfold\na\tACGT\ty\t0\nb\tACGT\tx\t1\n");
  j.erase("classes");
  write("j/task.json", j.dump());
  EXPECT_EQ(load_task(path("j")).spec.classes, (std::vector<std::string>{"x", "y"}));

  LoadTaskOptions o;
  o.kind = TaskKind::Regression;
  expect_error<ConfigError>([&] { load_task(path("j"), o); }, {path("j/task.json"), "cannot be overridden"});

  const std::string where = path("j/task.json");
  auto bad = j;
  bad["kind"] = "ranking";
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "'ranking'"});
  bad = j;
  bad["split"] = "x";
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "split"});
  bad = j;
  bad["metric"] = "rmse";
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "'rmse'", "classification"});
  bad = j;
  bad["files"] = {{"test", "test.tsv"}};
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "train"});
  bad = j;
  bad["files"] = {{"train", "train.tsv"}, {"holdout", "h.tsv"}};
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "'holdout'"});
  bad = j;
  bad["format_version"] = 2;
  expect_error<ConfigError>([&] { task_spec_from_json(bad, where); }, {where, "format_version"});
  expect_error<ConfigError>([] { parse_task_kind("Classification"); }, {"'Classification'"});
  EXPECT_EQ(parse_task_kind("regression"), TaskKind::Regression);
  EXPECT_STREQ(task_kind_name(TaskKind::Classification), "classification");

  // A split file the task.json names but that is missing.
  j["files"]["test"] = "test.tsv";
  write("j/task.json", j.dump());
  expect_error<InputError>([&] { load_task(path("j")); }, {path("j/test.tsv"), "does not exist"});
}

TEST_F(TaskTest, SpecJsonRoundTrip) {
  TaskSpec s;
  s.name = "n";
  s.description = "d";
  s.kind = TaskKind::Regression;
  s.alphabet = "protein";
  s.metric = "rmse";
  s.folds = 5;
  s.files = {{"train", "a.tsv"}, {"test", "b.csv"}};
  s.provenance = {{"seed", 3}};
  const TaskSpec t = task_spec_from_json(task_spec_to_json(s), "mem");
  EXPECT_EQ(task_spec_to_json(t), task_spec_to_json(s));
}

// ---------------------------------------------------------------------------------------------
// Folds and validation split

std::vector<TaskExample> grouped_examples() {
  // 40 groups of sizes 1..4 plus 10 ungrouped examples.
  std::vector<TaskExample> xs;
  for (int g = 0; g < 40; ++g)
    for (int i = 0; i <= g % 4; ++i)
      xs.push_back(example("g" + std::to_string(g) + "_" + std::to_string(i), "ACGT", 0, "G" + std::to_string(g)));
  for (int i = 0; i < 10; ++i) xs.push_back(example("solo" + std::to_string(i), "ACGT", 0));
  return xs;
}

std::map<std::string, int> folds_by_id(const std::vector<TaskExample>& xs) {
  std::map<std::string, int> m;
  for (const auto& x : xs) m[x.id] = x.fold;
  return m;
}

TEST(TaskFolds, GroupsStayTogetherBalancedAndDeterministic) {
  auto xs = grouped_examples();
  assign_folds(xs, 5, 42);
  std::map<std::string, std::set<int>> folds_of_group;
  std::vector<int> sizes(5, 0);
  for (const auto& x : xs) {
    ASSERT_GE(x.fold, 0);
    ASSERT_LT(x.fold, 5);
    if (!x.group.empty()) folds_of_group[x.group].insert(x.fold);
    ++sizes[static_cast<size_t>(x.fold)];
  }
  for (const auto& [g, f] : folds_of_group) EXPECT_EQ(f.size(), 1u) << g;
  // 110 examples in 5 folds: largest-first greedy keeps them within one group size (4) of each other.
  EXPECT_LE(*std::max_element(sizes.begin(), sizes.end()) - *std::min_element(sizes.begin(), sizes.end()), 4);

  // Same seed: same folds, whatever the input order. Another seed: another assignment.
  auto again = grouped_examples();
  std::reverse(again.begin(), again.end());
  assign_folds(again, 5, 42);
  EXPECT_EQ(folds_by_id(again), folds_by_id(xs));
  auto other = grouped_examples();
  assign_folds(other, 5, 43);
  EXPECT_NE(folds_by_id(other), folds_by_id(xs));

  // A group's example ids never collide with ungrouped ids of the same text.
  std::vector<TaskExample> tricky = {example("G1", "A", 0), example("a", "A", 0, "G1"), example("b", "A", 0, "G1")};
  assign_folds(tricky, 2, 1);
  EXPECT_EQ(tricky[1].fold, tricky[2].fold);
  EXPECT_NE(tricky[0].fold, tricky[1].fold);

  auto few = grouped_examples();
  EXPECT_THROW(assign_folds(few, 0, 1), InputError);
  std::vector<TaskExample> two = {example("a", "A", 0, "g"), example("b", "A", 0, "g")};
  expect_error<InputError>([&] { assign_folds(two, 2, 1); }, {"2 folds from 1 group"});
}

TEST(TaskFolds, ValidationSplitRespectsGroups) {
  auto train = grouped_examples();
  const size_t n = train.size();
  const auto valid = split_off_validation(train, 0.2, 7);
  EXPECT_EQ(train.size() + valid.size(), n);
  EXPECT_NEAR(static_cast<double>(valid.size()), 0.2 * static_cast<double>(n), 4.0);
  std::set<std::string> train_groups, train_ids;
  for (const auto& x : train) {
    train_ids.insert(x.id);
    if (!x.group.empty()) train_groups.insert(x.group);
  }
  for (const auto& x : valid) {
    EXPECT_EQ(train_ids.count(x.id), 0u);
    if (!x.group.empty()) {
      EXPECT_EQ(train_groups.count(x.group), 0u) << x.group;
    }
  }
  // Input order kept within each part.
  const auto all = grouped_examples();
  std::map<std::string, size_t> pos;
  for (size_t i = 0; i < all.size(); ++i) pos[all[i].id] = i;
  for (size_t i = 1; i < train.size(); ++i) EXPECT_LT(pos[train[i - 1].id], pos[train[i].id]);
  for (size_t i = 1; i < valid.size(); ++i) EXPECT_LT(pos[valid[i - 1].id], pos[valid[i].id]);

  auto again = grouped_examples();
  EXPECT_EQ(ids(split_off_validation(again, 0.2, 7)), ids(valid));
  auto other = grouped_examples();
  EXPECT_NE(ids(split_off_validation(other, 0.2, 8)), ids(valid));

  // One big group and one small one with a tiny fraction: the small group is moved, the big kept.
  std::vector<TaskExample> lopsided;
  for (int i = 0; i < 50; ++i) lopsided.push_back(example("b" + std::to_string(i), "A", 0, "big"));
  for (int i = 0; i < 3; ++i) lopsided.push_back(example("s" + std::to_string(i), "A", 0, "small"));
  const auto moved = split_off_validation(lopsided, 0.01, 1);
  EXPECT_EQ(moved.size(), 3u);
  EXPECT_EQ(lopsided.size(), 50u);

  std::vector<TaskExample> one = {example("a", "A", 0, "g"), example("b", "A", 0, "g")};
  expect_error<InputError>([&] { split_off_validation(one, 0.5, 1); }, {"1 group"});
  expect_error<InputError>([&] { split_off_validation(train, 1.0, 1); }, {"between 0 and 1"});
}

// ---------------------------------------------------------------------------------------------
// Unlabelled input for prediction

TEST_F(TaskTest, ReadUnlabelledFasta) {
  const std::string fa = write("in.fa", ">r1 some description\nacgt\nAC\n>r2|7\nGGGG\n");
  const auto xs = read_unlabelled(fa, "dna");
  ASSERT_EQ(xs.size(), 2u);
  EXPECT_EQ(xs[0].id, "r1");
  EXPECT_EQ(xs[0].sequence, "ACGTAC");
  EXPECT_EQ(xs[1].id, "r2|7");
  EXPECT_EQ(xs[0].label, -1);
  const std::string fq = write("in.fq", "@q1\nacgt\n+\nIIII\n");
  EXPECT_EQ(read_unlabelled(fq, "dna").at(0).sequence, "ACGT");
  expect_error<InputError>([&] { read_unlabelled(path("absent.fa"), "dna"); }, {path("absent.fa"), "does not exist"});
  const std::string empty_rec = write("e.fa", ">a\n>b\nAC\n");
  expect_error<ParseError>([&] { read_unlabelled(empty_rec, "dna"); }, {empty_rec, "record 1 ('a')", "empty record"});
}

TEST_F(TaskTest, ReadUnlabelledSmiles) {
  const std::string smi = write("in.smi",
                                "SMILES\tName\n"
                                "# a comment\n"
                                "CCO ethanol\n"
                                "\n"
                                "c1ccccc1\n"
                                "  CC(=O)Oc1ccccc1C(=O)O\tacetyl salicylic acid\r\n");
  const auto xs = read_unlabelled(smi, "smiles");
  ASSERT_EQ(xs.size(), 3u);
  EXPECT_EQ(xs[0].id, "ethanol");
  EXPECT_EQ(xs[0].sequence, "CCO");
  EXPECT_EQ(xs[1].id, "line5");
  EXPECT_EQ(xs[1].sequence, "c1ccccc1");  // case kept
  EXPECT_EQ(xs[2].id, "acetyl salicylic acid");
  EXPECT_EQ(xs[2].sequence, "CC(=O)Oc1ccccc1C(=O)O");
  const std::string none = write("none.smi", "# nothing\n\n");
  expect_error<ParseError>([&] { read_unlabelled(none, "smiles"); }, {none, "found none"});
  expect_error<ConfigError>([&] { read_unlabelled(smi, "selfies"); }, {"'selfies'"});
}

}  // namespace
