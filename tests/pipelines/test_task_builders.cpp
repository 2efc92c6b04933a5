// `strand tasks build` (pipelines/task_builders.h): every task built from the real files of its
// Debian packages (scripts/setup.sh installs them; a missing one fails naming the package), with
// --max-per-class limits that keep each build to about a second. Checked for every task:
// determinism under the seed, no group in two splits, the stated class balance, and the labels
// against the biology where it is cheap (CDS windows translate in frame without a stop, windows
// lie inside or outside the annotated CDS exons, promoter windows are the genome bases next to a
// TSS, virus organisms get the Viruses label, ...). Also: the missing-package message, the written
// directory (load_task round trip, --force) and folds.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bio/alphabet.h"
#include "bio/annotation/genbank.h"
#include "bio/annotation/gff.h"
#include "bio/central_dogma.h"
#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "pipelines/task.h"
#include "pipelines/task_builders.h"

using namespace strand;
using namespace strand::pipelines;
namespace fs = std::filesystem;
namespace ann = strand::bio::annotation;

namespace {

const std::string kGff = "/usr/share/doc/any2fasta/examples/test.gff.gz";
const std::string kFlyTrain = "/usr/share/doc/augustus/tutorial/results/genes.gb.train";
const std::string kFlyTest = "/usr/share/doc/augustus/tutorial/results/genes.gb.test";
const std::string kChr2R = "/usr/share/doc/augustus/tutorial/data/chr2R.fa";
const std::string kDb = "/usr/share/doc/mmseqs2/example-data/DB.fasta.gz";

// Every input of `name` is present; otherwise a failure naming the file and how to get it.
::testing::AssertionResult inputs_present(const std::string& name) {
  TaskBuildOptions o;
  o.name = name;
  for (const auto& in : find_task_builder(name).inputs)
    if (resolve_input(in, o).empty())
      return ::testing::AssertionFailure() << in.path << " is missing: " << install_hint(in, o)
                                           << " (scripts/setup.sh does it)";
  return ::testing::AssertionSuccess();
}

TaskBuildOptions opts(const std::string& name, int64_t max_per_class, uint64_t seed = 1) {
  TaskBuildOptions o;
  o.name = name;
  o.max_per_class = max_per_class;
  o.seed = seed;
  return o;
}

std::string dump(const Task& t) {
  std::ostringstream os;
  os << t.spec.description << "\n" << task_spec_to_json(t.spec).dump() << "\n";
  for (const auto* split : {&t.train, &t.valid, &t.test}) {
    os << "--\n";
    for (const auto& ex : *split) os << ex.id << '\t' << ex.sequence << '\t' << ex.label << '\t' << ex.value << '\t'
                                     << ex.group << '\t' << ex.fold << '\n';
  }
  return os.str();
}

std::vector<const TaskExample*> all_examples(const Task& t) {
  std::vector<const TaskExample*> v;
  for (const auto* split : {&t.train, &t.valid, &t.test})
    for (const auto& ex : *split) v.push_back(&ex);
  return v;
}

std::vector<int64_t> counts(const std::vector<TaskExample>& split, size_t n_classes) {
  std::vector<int64_t> c(n_classes, 0);
  for (const auto& ex : split) ++c[static_cast<size_t>(ex.label)];
  return c;
}

// Checks shared by every task: non-empty splits, unique ids, groups confined to one split,
// the split shares roughly as asked, and the provenance fields.
void check_common(const Task& t, bool balanced) {
  ASSERT_FALSE(t.train.empty());
  ASSERT_FALSE(t.valid.empty());
  ASSERT_FALSE(t.test.empty());
  std::map<std::string, int> owner;
  const std::vector<TaskExample>* splits[] = {&t.train, &t.valid, &t.test};
  for (int s = 0; s < 3; ++s) {
    std::set<std::string> ids;
    for (const auto& ex : *splits[s]) {
      EXPECT_TRUE(ids.insert(ex.id).second) << "duplicate id " << ex.id;
      ASSERT_FALSE(ex.group.empty()) << ex.id;
      const auto [it, fresh] = owner.emplace(ex.group, s);
      EXPECT_TRUE(fresh || it->second == s) << "group " << ex.group << " in two splits";
      EXPECT_FALSE(ex.sequence.empty());
    }
  }
  const double n = static_cast<double>(t.train.size() + t.valid.size() + t.test.size());
  EXPECT_GT(static_cast<double>(t.train.size()) / n, 0.6);
  if (t.spec.kind == TaskKind::Classification) {
    for (const auto* split : splits) {
      const auto c = counts(*split, t.spec.classes.size());
      if (balanced) {
        for (const auto x : c) EXPECT_EQ(x, c.front());
      }
    }
    for (const auto x : counts(t.train, t.spec.classes.size())) EXPECT_GT(x, 0);
  }
  const auto& p = t.spec.provenance;
  EXPECT_EQ(p.at("builder"), t.spec.name);
  EXPECT_FALSE(p.at("split_rule").get<std::string>().empty());
  EXPECT_FALSE(p.at("balance").get<std::string>().empty());
  EXPECT_FALSE(p.at("sources").empty());
  EXPECT_NE(t.spec.description.find("Split:"), std::string::npos);
}

// Builds twice with the same seed (identical) and once with another (different).
Task build_checked(const TaskBuildOptions& o, bool balanced) {
  Task a = make_task(o);
  check_common(a, balanced);
  const Task b = make_task(o);
  EXPECT_EQ(dump(a), dump(b)) << "not deterministic under the seed";
  TaskBuildOptions other = o;
  other.seed = o.seed + 1;
  EXPECT_NE(dump(make_task(other)), dump(a)) << "the seed changes nothing";
  return a;
}

// "SEQ:START-END|..." -> (SEQ, 0-based begin, end).
std::tuple<std::string, int64_t, int64_t> window_of(const std::string& id) {
  const size_t colon = id.rfind(':', id.find('|'));
  const size_t dash = id.find('-', colon);
  const size_t bar = id.find('|', dash);
  return {id.substr(0, colon), std::stoll(id.substr(colon + 1, dash - colon - 1)) - 1,
          std::stoll(id.substr(dash + 1, bar - dash - 1))};
}

std::vector<std::string> fields(const std::string& id) {
  std::vector<std::string> out;
  std::stringstream ss(id);
  std::string f;
  while (std::getline(ss, f, '|')) out.push_back(f);
  return out;
}

class TaskBuilders : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("strand-taskb-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(root_);
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  fs::path root_;
};

TEST(TaskBuilderRegistry, NamesInputsAndUnknownName) {
  std::set<std::string> names;
  for (const auto& b : task_builders()) {
    names.insert(b.name);
    EXPECT_FALSE(b.description.empty());
    EXPECT_FALSE(b.inputs.empty());
    for (const auto& in : b.inputs) {
      EXPECT_EQ(in.path.front(), '/');
      EXPECT_FALSE(in.package.empty());
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"ecoli-cds", "fly-coding", "fly-promoter", "pfam", "superkingdom",
                                          "ncrna-family", "tpsa"}));
  try {
    make_task(opts("no-such-task", 0));
    ADD_FAILURE() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("ecoli-cds"), std::string::npos) << e.what();
  }
}

// With data_root pointing at an empty directory every builder fails before reading anything,
// naming the missing file, its package and the command that provides it.
TEST_F(TaskBuilders, MissingPackageNamesPackageAndCommand) {
  for (const auto& b : task_builders()) {
    SCOPED_TRACE(b.name);
    TaskBuildOptions o = opts(b.name, 0);
    o.data_root = root_.string();
    o.download_dirs = std::vector<std::string>{(root_ / "downloads").string()};
    try {
      make_task(o);
      ADD_FAILURE() << "no exception";
    } catch (const InputError& e) {
      const std::string msg = e.what();
      const auto& in = b.inputs.front();
      EXPECT_NE(msg.find(in.path), std::string::npos) << msg;
      EXPECT_NE(msg.find("Debian package " + in.package), std::string::npos) << msg;
      if (in.download) {
        EXPECT_NE(msg.find("apt-get download " + in.package), std::string::npos) << msg;
        EXPECT_NE(msg.find("dpkg -x"), std::string::npos) << msg;
      } else {
        EXPECT_NE(msg.find("apt-get install " + in.package), std::string::npos) << msg;
      }
    }
  }
}

TEST(TaskBuilderOptions, BadValuesAreInputErrors) {
  TaskBuildOptions o = opts("ecoli-cds", 0);
  o.valid_fraction = 1.5;
  EXPECT_THROW(make_task(o), InputError);
  o = opts("ecoli-cds", -1);
  EXPECT_THROW(make_task(o), InputError);
  o = opts("ecoli-cds", 0);
  o.test_fraction = 0.5;
  o.valid_fraction = 0.45;
  EXPECT_THROW(make_task(o), InputError);
}

// CDS windows: inside one annotated CDS, and in the CDS's reading frame no codon is a stop except
// the CDS's own last codon. Intergenic windows overlap no annotated feature.
TEST(TaskBuild, EcoliCdsWindowsMatchTheAnnotation) {
  ASSERT_TRUE(inputs_present("ecoli-cds"));
  const Task t = build_checked(opts("ecoli-cds", 400), true);
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"cds", "intergenic"}));
  EXPECT_EQ(t.spec.alphabet, "dna");
  const ann::Gff3 gff = ann::read_gff3(kGff);
  std::map<std::string, const ann::GffFeature*> cds;
  std::map<std::string, std::vector<std::pair<int64_t, int64_t>>> features;
  for (const auto& f : gff.features) {
    if (f.type == "CDS") cds[f.attribute("ID")] = &f;
    features[f.seqid].push_back({f.begin, f.end});
  }
  int64_t n_cds = 0, n_inter = 0;
  for (const auto* ex : all_examples(t)) {
    SCOPED_TRACE(ex->id);
    ASSERT_EQ(ex->sequence.size(), 200u);
    const auto [contig, b, e] = window_of(ex->id);
    EXPECT_EQ(ex->sequence, gff.sequence(contig)->seq.substr(static_cast<size_t>(b), 200));
    EXPECT_EQ(ex->group.rfind(contig + ":block", 0), 0u);
    const auto f = fields(ex->id);
    if (ex->label == 0) {
      ++n_cds;
      ASSERT_EQ(f.size(), 4u);
      const ann::GffFeature* c = cds.at(f[2]);
      ASSERT_EQ(c->seqid, contig);
      ASSERT_LE(c->begin, b);
      ASSERT_GE(c->end, e);
      bio::TranslateOptions to;
      to.table = 11;
      std::string dna = ex->sequence;
      int64_t offset = 0;  // bases from the CDS start (in its own direction) to the window start
      if (c->strand == '-') {
        dna = bio::reverse_complement(dna);
        offset = c->end - e;
      } else {
        offset = b - c->begin;
      }
      to.frame = static_cast<int>((3 - offset % 3) % 3);
      const std::string protein = bio::translate(dna, to);
      const size_t stop = protein.find('*');
      const bool window_ends_cds = c->strand == '-' ? b == c->begin : e == c->end;
      if (stop != std::string::npos) {
        EXPECT_TRUE(window_ends_cds && stop == protein.size() - 1 && (200 - to.frame) % 3 == 0) << protein;
      }
    } else {
      ++n_inter;
      for (const auto& [fb, fe] : features.at(contig)) EXPECT_TRUE(fe <= b || fb >= e) << fb << "-" << fe;
    }
  }
  EXPECT_EQ(n_cds, n_inter);
  EXPECT_GT(n_cds, 300);
}

TEST(TaskBuild, FlyCodingKeepsTheShippedGeneSplit) {
  ASSERT_TRUE(inputs_present("fly-coding"));
  const Task t = build_checked(opts("fly-coding", 600), true);
  const auto train = ann::read_genbank(kFlyTrain);
  const auto test = ann::read_genbank(kFlyTest);
  std::map<std::string, const ann::GenBankRecord*> loci;
  std::set<std::string> test_loci;
  for (const auto& r : train) loci[r.name] = &r;
  for (const auto& r : test) {
    loci[r.name] = &r;
    test_loci.insert(r.name);
  }
  for (const auto* split : {&t.train, &t.valid, &t.test}) {
    for (const auto& ex : *split) {
      SCOPED_TRACE(ex.id);
      ASSERT_EQ(ex.sequence.size(), 200u);
      EXPECT_EQ(test_loci.count(ex.group) != 0, split == &t.test);
      const auto [locus, b, e] = window_of(ex.id);
      EXPECT_EQ(locus, ex.group);
      const ann::GenBankRecord* r = loci.at(locus);
      std::string expect = r->sequence.substr(static_cast<size_t>(b), 200);
      for (char& c : expect) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      EXPECT_EQ(ex.sequence, expect);
      int64_t coding = 0;
      for (const auto& f : r->features)
        if (f.key == "CDS")
          for (const auto& p : f.parts) coding += std::max<int64_t>(0, std::min(p.end, e) - std::max(p.begin, b));
      EXPECT_EQ(coding, ex.label == 0 ? 200 : 0);
    }
  }
  EXPECT_GT(t.test.size(), 50u);
  EXPECT_EQ(t.spec.provenance.at("loci").at("test"), 100);
}

TEST(TaskBuild, FlyPromoterWindowsAreNextToTheTss) {
  ASSERT_TRUE(inputs_present("fly-promoter"));
  TaskBuildOptions o = opts("fly-promoter", 500);
  const Task t = build_checked(o, true);
  std::string chrom;
  {
    auto reader = bio::io::open_sequences(kChr2R);
    bio::io::SequenceRecord rec;
    ASSERT_TRUE(reader->next(rec));
    chrom = rec.seq;
    for (char& c : chrom) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  // The upstream intervals, from the Biostrings file, to check that negatives avoid them.
  std::vector<std::pair<int64_t, int64_t>> upstream;
  {
    auto reader = bio::io::open_sequences(resolve_input(find_task_builder("fly-promoter").inputs[0], o));
    bio::io::SequenceRecord rec;
    while (reader->next(rec)) {
      if (rec.comment.rfind("chr2R:", 0) != 0) continue;
      const size_t dash = rec.comment.find('-');
      upstream.push_back({std::stoll(rec.comment.substr(6, dash - 6)) - 1, std::stoll(rec.comment.substr(dash + 1))});
    }
  }
  ASSERT_EQ(upstream.size(), 4954u);
  for (const auto* ex : all_examples(t)) {
    SCOPED_TRACE(ex->id);
    ASSERT_EQ(ex->sequence.size(), 300u);
    const auto [seq, b, e] = window_of(ex->id);
    const auto f = fields(ex->id);
    std::string genome = chrom.substr(static_cast<size_t>(b), 300);
    if (f[1] == "-") genome = bio::reverse_complement(genome);
    EXPECT_EQ(ex->sequence, genome);
    EXPECT_EQ(ex->group, "chr2R:block" + std::to_string(b / 200000));
    EXPECT_EQ((e - 1) / 200000, b / 200000);
    if (ex->label == 0) {
      // A promoter window ends at the TSS - 1 ('+': the 2 kb interval ends at e) or starts right
      // after the TSS on '-' (the interval starts at b).
      bool found = false;
      for (const auto& [ub, ue] : upstream) found = found || (f[1] == "+" ? ue == e : ub == b);
      EXPECT_TRUE(found);
    } else {
      for (const auto& [ub, ue] : upstream) EXPECT_TRUE(ue + 1000 <= b || ub - 1000 >= e) << ub << "-" << ue;
    }
  }
}

TEST(TaskBuild, PfamDomainsUngappedAndClustered) {
  ASSERT_TRUE(inputs_present("pfam"));
  const Task t = build_checked(opts("pfam", 400), false);
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"PF00171", "PF00225"}));
  EXPECT_EQ(t.spec.alphabet, "protein");
  std::set<std::string> seqs;
  std::vector<size_t> lengths[2];
  for (const auto* ex : all_examples(t)) {
    EXPECT_EQ(ex->sequence.find_first_not_of("ACDEFGHIKLMNPQRSTVWYXBZUO"), std::string::npos) << ex->sequence;
    EXPECT_TRUE(seqs.insert(ex->sequence).second) << "duplicate sequence " << ex->id;
    EXPECT_NE(ex->id.find('/'), std::string::npos);
    lengths[ex->label].push_back(ex->sequence.size());
  }
  // Aldedh domains span about 460 residues, kinesin motor domains about 330 (Pfam full alignments
  // also hold fragments, so only the medians are checked).
  for (auto& l : lengths) std::sort(l.begin(), l.end());
  EXPECT_GT(lengths[0][lengths[0].size() / 2], 400u);
  EXPECT_LT(lengths[0][lengths[0].size() / 2], 520u);
  EXPECT_GT(lengths[1][lengths[1].size() / 2], 280u);
  EXPECT_LT(lengths[1][lengths[1].size() / 2], 380u);
  for (const auto x : counts(t.train, 2)) EXPECT_GT(x, 200);
  EXPECT_GT(t.spec.provenance.at("groups").get<int64_t>(), 100);
}

// Labels: every protein of an organism whose OS= names a virus is Viruses, Homo sapiens is
// Eukaryota, Escherichia coli is Bacteria.
TEST(TaskBuild, SuperkingdomLabelsFollowTheTaxonomy) {
  ASSERT_TRUE(inputs_present("superkingdom"));
  const Task t = build_checked(opts("superkingdom", 200), false);
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"Archaea", "Bacteria", "Eukaryota", "Viruses"}));
  std::map<std::string, std::string> organism;
  {
    auto reader = bio::io::open_sequences(kDb);
    bio::io::SequenceRecord rec;
    while (reader->next(rec)) {
      const size_t b1 = rec.name.find('|'), b2 = rec.name.find('|', b1 + 1);
      const size_t os = rec.comment.find("OS=");
      organism[rec.name.substr(b1 + 1, b2 - b1 - 1)] = rec.comment.substr(os + 3);
    }
  }
  int virus = 0, human = 0, ecoli = 0;
  for (const auto* ex : all_examples(t)) {
    const std::string& os = organism.at(ex->id);
    const std::string& label = t.spec.classes[static_cast<size_t>(ex->label)];
    if (os.find(" virus ") != std::string::npos || os.rfind("virus ", 0) != std::string::npos) {
      EXPECT_EQ(label, "Viruses") << ex->id << " " << os;
      ++virus;
    }
    if (os.rfind("Homo sapiens ", 0) == 0) {
      EXPECT_EQ(label, "Eukaryota") << ex->id;
      ++human;
    }
    if (os.rfind("Escherichia coli", 0) == 0) {
      EXPECT_EQ(label, "Bacteria") << ex->id;
      ++ecoli;
    }
  }
  EXPECT_GT(virus, 20);
  EXPECT_GT(human + ecoli, 0);
  const auto n = counts(t.train, 4);
  for (const auto x : n) EXPECT_GT(x, 100);
}

TEST(TaskBuild, NcrnaFamiliesInRnaAlphabet) {
  ASSERT_TRUE(inputs_present("ncrna-family"));
  const Task t = build_checked(opts("ncrna-family", 0), false);
  EXPECT_EQ(t.spec.classes, (std::vector<std::string>{"tRNA", "Vault", "snR75", "Plant_SRP", "U1", "U2", "U3",
                                                      "RNaseP-eubact"}));
  EXPECT_EQ(t.spec.alphabet, "rna");
  size_t total = 0;
  for (const auto* ex : all_examples(t)) {
    ++total;
    EXPECT_EQ(ex->sequence.find_first_not_of("ACGUN"), std::string::npos) << ex->id;
    EXPECT_EQ(ex->id.rfind(t.spec.classes[static_cast<size_t>(ex->label)] + "|", 0), 0u) << ex->id;
  }
  EXPECT_GT(total, 1000u);
  EXPECT_LE(total, 1706u);  // 1,168 + 198 + 340 records before removing duplicates
}

TEST(TaskBuild, TpsaScaffoldSplit) {
  ASSERT_TRUE(inputs_present("tpsa"));
  const Task t = build_checked(opts("tpsa", 800), false);
  EXPECT_EQ(t.spec.kind, TaskKind::Regression);
  EXPECT_EQ(t.spec.alphabet, "smiles");
  EXPECT_TRUE(t.spec.classes.empty());
  int scaffolds = 0;
  for (const auto* ex : all_examples(t)) {
    EXPECT_GE(ex->value, 0.0);
    EXPECT_LT(ex->value, 1000.0);
    EXPECT_EQ(ex->id.rfind("line", 0), 0u);
    scaffolds += ex->group.rfind("scaffold:", 0) == 0;
    // A molecule without N, O, S or P has no polar surface.
    if (ex->sequence.find_first_of("NnOoSsPp") == std::string::npos) {
      EXPECT_EQ(ex->value, 0.0) << ex->sequence;
    }
  }
  EXPECT_GT(scaffolds, 500);
}

// The written directory loads back with load_task; a second build needs --force and writes the
// same bytes; folds keep groups together.
TEST_F(TaskBuilders, WritesLoadableDirectory) {
  ASSERT_TRUE(inputs_present("ncrna-family"));
  TaskBuildOptions o = opts("ncrna-family", 60);
  o.out = (root_ / "task").string();
  o.folds = 3;
  const TaskBuildSummary s = build_task(o);
  EXPECT_EQ(s.classes.size(), 8u);
  EXPECT_EQ(s.split_sizes.at("train") + s.split_sizes.at("valid") + s.split_sizes.at("test"),
            [&] {
              int64_t n = 0;
              for (const auto& [split, c] : s.class_counts)
                for (const auto x : c) n += x;
              return n;
            }());
  const Task loaded = load_task(o.out);
  EXPECT_EQ(loaded.spec.name, "ncrna-family");
  EXPECT_EQ(loaded.spec.folds, 3);
  EXPECT_EQ(static_cast<int64_t>(loaded.train.size()), s.split_sizes.at("train"));
  EXPECT_EQ(static_cast<int64_t>(loaded.test.size()), s.split_sizes.at("test"));
  EXPECT_EQ(loaded.spec.provenance.at("seed"), 1);
  EXPECT_TRUE(loaded.spec.provenance.at("counts").contains("valid"));
  std::map<std::string, int> fold_of;
  for (const auto& ex : loaded.train) {
    ASSERT_GE(ex.fold, 0);
    const auto [it, fresh] = fold_of.emplace(ex.group, ex.fold);
    EXPECT_EQ(it->second, ex.fold) << ex.group;
  }
  auto read = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string first = read(fs::path(o.out) / "train.tsv");
  try {
    build_task(o);
    ADD_FAILURE() << "a second build without force succeeded";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  o.force = true;
  build_task(o);
  EXPECT_EQ(read(fs::path(o.out) / "train.tsv"), first);
}

}  // namespace
