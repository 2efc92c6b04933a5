#include "pipelines/task_builders.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <numeric>
#include <set>

#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/version.h"
#include "pipelines/task_builders_internal.h"

namespace strand::pipelines {

namespace fs = std::filesystem;
using task_detail::Context;
using task_detail::Draft;

namespace {

constexpr const char* kAny2fasta = "any2fasta-examples";
constexpr const char* kAugustus = "augustus-doc";
constexpr const char* kBiostrings = "r-bioc-biostrings";
constexpr const char* kMmseqs = "mmseqs2-examples";
constexpr const char* kEmboss = "emboss-data";
constexpr const char* kInfernal = "infernal";
constexpr const char* kRdkit = "rdkit-data";

struct Builder {
  TaskBuilderInfo info;
  std::function<Draft(const Context&)> build;
};

const std::vector<Builder>& builders() {
  static const std::vector<Builder> all = {
      {{"ecoli-cds",
        "E. coli CDS vs intergenic DNA windows (200 bp), balanced, split by 20 kb blocks of whole genes",
        {{kAny2fasta, "/usr/share/doc/any2fasta/examples/test.gff.gz"}}},
       task_detail::build_ecoli_cds},
      {{"fly-coding",
        "D. melanogaster coding vs non-coding windows (200 bp), balanced, the shipped 486/100 gene-locus split",
        {{kAugustus, "/usr/share/doc/augustus/tutorial/results/genes.gb.train"},
         {kAugustus, "/usr/share/doc/augustus/tutorial/results/genes.gb.test"}}},
       task_detail::build_fly_coding},
      {{"fly-promoter",
        "D. melanogaster promoter (300 bp before a RefSeq TSS) vs non-promoter chr2R windows, balanced, "
        "split by 200 kb chromosome blocks",
        {{kBiostrings, "/usr/lib/R/site-library/Biostrings/extdata/dm3_upstream2000.fa.gz", true},
         {kAugustus, "/usr/share/doc/augustus/tutorial/data/chr2R.fa"}}},
       task_detail::build_fly_promoter},
      {{"pfam",
        "Pfam family of protein domains: PF00171 (aldehyde dehydrogenase) vs PF00225 (kinesin motor), "
        "split by near-identity cluster",
        {{kAugustus, "/usr/share/doc/augustus/tutorial/data/PF00171_full.txt"},
         {kAugustus, "/usr/share/doc/augustus/tutorial/data/PF00225_full.txt"}}},
       task_detail::build_pfam},
      {{"superkingdom",
        "superkingdom (Archaea, Bacteria, Eukaryota, Viruses) of UniProt proteins from OS= via the NCBI "
        "taxonomy, split by near-identity cluster",
        {{kMmseqs, "/usr/share/doc/mmseqs2/example-data/DB.fasta.gz"},
         {kEmboss, "/usr/share/EMBOSS/data/TAXONOMY/nodes.dmp"},
         {kEmboss, "/usr/share/EMBOSS/data/TAXONOMY/names.dmp"}}},
       task_detail::build_superkingdom},
      {{"ncrna-family",
        "Rfam family of ncRNAs (tRNA, Vault, snR75, Plant_SRP, U1, U2, U3, bacterial RNase P), split by "
        "near-identity cluster",
        {{kInfernal, "/usr/share/doc/infernal/examples/testsuite/4.sto"},
         {kInfernal, "/usr/share/doc/infernal/examples/testsuite/3.4.12.rf.stk"},
         {kInfernal, "/usr/share/doc/infernal/examples/testsuite/rnaseP-eubact.sto"}}},
       task_detail::build_ncrna_family},
      {{"tpsa",
        "topological polar surface area (regression) of 5k NCI molecules from SMILES, split by Bemis-Murcko "
        "scaffold",
        {{kRdkit, "/usr/share/RDKit/Data/NCI/first_5k.tpsa.csv"}}},
       task_detail::build_tpsa},
  };
  return all;
}

const Builder& find_builder(const std::string& name) {
  for (const auto& b : builders())
    if (b.info.name == name) return b;
  std::string known;
  for (const auto& b : builders()) known += (known.empty() ? "" : ", ") + b.info.name;
  throw InputError("unknown task '" + name + "' (known tasks: " + known + ")");
}

bool is_file(const std::string& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec);
}

// Moves about `fraction` of `pool` (whole groups) out and returns it; empty when fraction is 0.
std::vector<TaskExample> carve(std::vector<TaskExample>& pool, double fraction, uint64_t seed, const char* what) {
  if (fraction <= 0) return {};
  std::set<std::string> groups;
  for (const auto& ex : pool) groups.insert(ex.group.empty() ? "\x01" + ex.id : ex.group);
  STRAND_CHECK(groups.size() >= 2, "cannot carve a ", what, " split out of ", pool.size(), " example(s) in ",
               groups.size(), " group(s); use more data (a larger --max-per-class)");
  return split_off_validation(pool, fraction, seed);
}

void limit_per_class(std::vector<TaskExample>& examples, TaskKind kind, size_t n_classes, int64_t limit, Rng& rng) {
  if (limit <= 0) return;
  const auto cap = static_cast<size_t>(limit);
  std::vector<std::vector<size_t>> by_class(kind == TaskKind::Classification ? n_classes : 1);
  for (size_t i = 0; i < examples.size(); ++i)
    by_class[kind == TaskKind::Classification ? static_cast<size_t>(examples[i].label) : 0].push_back(i);
  std::vector<bool> keep(examples.size(), false);
  for (const auto& members : by_class) {
    for (const size_t j : task_detail::sample_indices(members.size(), std::min(cap, members.size()), rng))
      keep[members[j]] = true;
  }
  std::vector<TaskExample> out;
  for (size_t i = 0; i < examples.size(); ++i)
    if (keep[i]) out.push_back(std::move(examples[i]));
  examples = std::move(out);
}

// Downsamples every class of one split to the size of its rarest class.
void balance_split(std::vector<TaskExample>& split, size_t n_classes, const char* name, const std::string& task,
                   const std::vector<std::string>& classes, Rng& rng) {
  if (split.empty()) return;
  std::vector<std::vector<size_t>> by_class(n_classes);
  for (size_t i = 0; i < split.size(); ++i) by_class[static_cast<size_t>(split[i].label)].push_back(i);
  size_t low = split.size();
  for (size_t c = 0; c < n_classes; ++c) {
    STRAND_CHECK(!by_class[c].empty(), "task '", task, "': the ", name, " split has no example of class '", classes[c],
                 "' (", split.size(), " examples in all); use more data (a larger --max-per-class) or another seed");
    low = std::min(low, by_class[c].size());
  }
  std::vector<bool> keep(split.size(), false);
  for (const auto& members : by_class)
    for (const size_t j : task_detail::sample_indices(members.size(), low, rng)) keep[members[j]] = true;
  std::vector<TaskExample> out;
  for (size_t i = 0; i < split.size(); ++i)
    if (keep[i]) out.push_back(std::move(split[i]));
  split = std::move(out);
}

std::string counts_text(const std::vector<TaskExample>& split, const TaskSpec& spec) {
  if (spec.kind != TaskKind::Classification) return std::to_string(split.size());
  std::vector<int64_t> counts(spec.classes.size(), 0);
  for (const auto& ex : split) ++counts[static_cast<size_t>(ex.label)];
  std::string s;
  for (size_t c = 0; c < counts.size(); ++c)
    s += (c ? ", " : "") + spec.classes[c] + " " + std::to_string(counts[c]);
  return s;
}

}  // namespace

namespace task_detail {

std::vector<size_t> sample_indices(size_t n, size_t k, Rng& rng) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), size_t{0});
  if (k >= n) return idx;
  // Partial Fisher–Yates: the first k slots become a uniform sample.
  for (size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + static_cast<size_t>(rng.uniform(n - i))]);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

std::vector<int64_t> tile_windows(const Interval& iv, int64_t w, Rng& rng) {
  std::vector<int64_t> starts;
  if (w <= 0 || iv.length() < w) return starts;
  const int64_t n = iv.length() / w;
  const int64_t slack = iv.length() - n * w;
  const int64_t offset = static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(slack) + 1));
  for (int64_t i = 0; i < n; ++i) starts.push_back(iv.begin + offset + i * w);
  return starts;
}

bool is_acgt(std::string_view s) {
  for (const char c : s)
    if (c != 'A' && c != 'C' && c != 'G' && c != 'T') return false;
  return true;
}

void upper_in_place(std::string& s) {
  for (char& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
}

std::vector<Interval> merge_intervals(std::vector<Interval> v) {
  std::sort(v.begin(), v.end(), [](const Interval& a, const Interval& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  std::vector<Interval> out;
  for (const auto& iv : v) {
    if (!out.empty() && iv.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, iv.end);
    } else {
      out.push_back(iv);
    }
  }
  return out;
}

std::vector<Interval> subtract_intervals(const Interval& outer, const std::vector<Interval>& holes) {
  std::vector<Interval> out;
  int64_t pos = outer.begin;
  for (const auto& h : holes) {
    if (h.end <= pos) continue;
    if (h.begin >= outer.end) break;
    if (h.begin > pos) out.push_back({pos, std::min(h.begin, outer.end)});
    pos = std::max(pos, h.end);
    if (pos >= outer.end) break;
  }
  if (pos < outer.end) out.push_back({pos, outer.end});
  return out;
}

}  // namespace task_detail

const std::vector<TaskBuilderInfo>& task_builders() {
  static const std::vector<TaskBuilderInfo> infos = [] {
    std::vector<TaskBuilderInfo> v;
    for (const auto& b : builders()) v.push_back(b.info);
    return v;
  }();
  return infos;
}

const TaskBuilderInfo& find_task_builder(const std::string& name) { return find_builder(name).info; }

std::vector<std::string> default_download_dirs() {
  std::vector<std::string> dirs;
  if (const char* d = std::getenv("STRAND_DATA_DIR"); d != nullptr && *d != '\0') dirs.emplace_back(d);
  if (const char* x = std::getenv("XDG_DATA_HOME"); x != nullptr && *x != '\0') {
    dirs.push_back(std::string(x) + "/strand");
  } else if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') {
    dirs.push_back(std::string(h) + "/.local/share/strand");
  }
  return dirs;
}

std::vector<std::string> input_candidates(const TaskInput& input, const TaskBuildOptions& options) {
  std::vector<std::string> out = {options.data_root + input.path};
  if (input.download) {
    const auto dirs = options.download_dirs ? *options.download_dirs : default_download_dirs();
    for (const auto& d : dirs) out.push_back(d + "/" + input.package + input.path);
  }
  return out;
}

std::string resolve_input(const TaskInput& input, const TaskBuildOptions& options) {
  for (const auto& p : input_candidates(input, options))
    if (is_file(p)) return p;
  return "";
}

std::string install_hint(const TaskInput& input, const TaskBuildOptions& options) {
  if (!input.download) return "apt-get install " + input.package;
  const auto dirs = options.download_dirs ? *options.download_dirs : default_download_dirs();
  const std::string dir = dirs.empty() ? std::string("DATA_DIR") : dirs.front();
  return "apt-get download " + input.package + " && dpkg -x " + input.package + "_*.deb " + dir + "/" +
         input.package + " (scripts/setup.sh does this; it avoids installing R)";
}

Task make_task(const TaskBuildOptions& options) {
  const Builder& builder = find_builder(options.name);
  STRAND_CHECK(options.valid_fraction >= 0 && options.valid_fraction < 1, "valid fraction must be in [0, 1) (got ",
               options.valid_fraction, ")");
  STRAND_CHECK(options.test_fraction >= 0 && options.test_fraction < 1, "test fraction must be in [0, 1) (got ",
               options.test_fraction, ")");
  STRAND_CHECK(options.valid_fraction + options.test_fraction < 0.9, "valid + test fractions must leave at least 10 % "
               "for training (got ", options.valid_fraction, " + ", options.test_fraction, ")");
  STRAND_CHECK(options.max_per_class >= 0, "--max-per-class must be >= 0 (got ", options.max_per_class, ")");
  STRAND_CHECK(options.window >= 0 && options.window <= 100000, "--window must be 0 (default) or 1..100000 (got ",
               options.window, ")");
  STRAND_CHECK(options.block_bp >= 0, "--block-bp must be >= 0 (got ", options.block_bp, ")");
  STRAND_CHECK(options.folds >= 0 && options.folds <= 100, "--folds must be 0..100 (got ", options.folds, ")");

  Context ctx{options, {}};
  for (const auto& input : builder.info.inputs) {
    std::string path = resolve_input(input, options);
    if (path.empty()) {
      std::string looked;
      for (const auto& c : input_candidates(input, options)) looked += (looked.empty() ? "" : ", ") + c;
      throw InputError("task '" + options.name + "' needs " + input.path + " from the Debian package " +
                       input.package + ", which is not there (looked for " + looked + "); " +
                       (input.download ? "fetch" : "install") + " it with: " + install_hint(input, options));
    }
    ctx.paths.push_back(std::move(path));
  }
  STRAND_LOG_INFO("tasks build ", options.name, ": reading ", ctx.paths.size(), " input file(s)");
  Draft d = builder.build(ctx);
  TaskSpec& spec = d.spec;
  spec.name = options.name;
  const size_t n_classes = spec.classes.size();
  const bool classification = spec.kind == TaskKind::Classification;

  Task task;
  Rng limit_rng(options.seed, 0x7a5c0001);
  if (d.preset) {
    // Limit each source split in proportion to its size, so the shipped split's shape is kept.
    if (options.max_per_class > 0) {
      const double train_share =
          static_cast<double>(d.preset_train.size()) / static_cast<double>(d.preset_train.size() + d.preset_test.size());
      const auto train_cap = std::max<int64_t>(1, static_cast<int64_t>(train_share * static_cast<double>(options.max_per_class)));
      const auto test_cap = std::max<int64_t>(1, options.max_per_class - train_cap);
      limit_per_class(d.preset_train, spec.kind, n_classes, train_cap, limit_rng);
      limit_per_class(d.preset_test, spec.kind, n_classes, test_cap, limit_rng);
    }
    task.train = std::move(d.preset_train);
    task.test = std::move(d.preset_test);
    task.valid = carve(task.train, options.valid_fraction, options.seed ^ 0x5a17d001ULL, "valid");
  } else {
    limit_per_class(d.examples, spec.kind, n_classes, options.max_per_class, limit_rng);
    task.train = std::move(d.examples);
    task.test = carve(task.train, options.test_fraction, options.seed ^ 0x7e57c0deULL, "test");
    const double rest = 1.0 - options.test_fraction;
    task.valid = carve(task.train, options.valid_fraction / rest, options.seed ^ 0x5a17d001ULL, "valid");
  }
  std::string balance;
  if (classification && d.balance) {
    Rng rng(options.seed, 0x7a5c0002);
    balance_split(task.train, n_classes, "train", spec.name, spec.classes, rng);
    balance_split(task.valid, n_classes, "valid", spec.name, spec.classes, rng);
    balance_split(task.test, n_classes, "test", spec.name, spec.classes, rng);
    balance = "balanced, each split's classes downsampled at random (seed) to the size of its rarest class";
  } else if (classification) {
    balance = "natural class frequencies of the source (not rebalanced); see counts";
  } else {
    balance = "regression: all examples kept";
  }
  if (options.max_per_class > 0)
    balance += "; at most " + std::to_string(options.max_per_class) +
               (classification ? " examples per class" : " examples") + " drawn at random before splitting";
  if (options.folds > 0) {
    assign_folds(task.train, options.folds, options.seed);
    spec.folds = options.folds;
  }

  // Every group must live in one split (the builders' split rules guarantee it; this catches a bug).
  {
    std::map<std::string, int> owner;
    const std::vector<TaskExample>* splits[] = {&task.train, &task.valid, &task.test};
    for (int s = 0; s < 3; ++s)
      for (const auto& ex : *splits[s]) {
        if (ex.group.empty()) continue;
        const auto [it, fresh] = owner.emplace(ex.group, s);
        STRAND_ASSERT(fresh || it->second == s, "group '", ex.group, "' of task '", spec.name, "' is in two splits");
      }
  }

  const std::string split_text = d.preset
                                     ? d.split_rule + " Valid: about " + std::to_string(static_cast<int>(
                                                                             options.valid_fraction * 100 + 0.5)) +
                                           " % of the training examples, whole groups, chosen under the seed."
                                     : d.split_rule + " Whole groups go to test (about " +
                                           std::to_string(static_cast<int>(options.test_fraction * 100 + 0.5)) +
                                           " % of examples), valid (about " +
                                           std::to_string(static_cast<int>(options.valid_fraction * 100 + 0.5)) +
                                           " %) and train, chosen under the seed.";
  spec.description += " Split: " + split_text + " Balance: " + balance + ".";
  nlohmann::json prov = nlohmann::json::object();
  prov["builder"] = options.name;
  prov["strand_version"] = strand::version();
  prov["git"] = strand::git_hash();
  if (!options.command_line.empty()) prov["command_line"] = options.command_line;
  prov["seed"] = options.seed;
  nlohmann::json sources = nlohmann::json::array();
  for (size_t i = 0; i < ctx.paths.size(); ++i) {
    std::error_code ec;
    const auto bytes = fs::file_size(ctx.paths[i], ec);
    sources.push_back({{"package", builder.info.inputs[i].package},
                       {"path", builder.info.inputs[i].path},
                       {"read_from", ctx.paths[i]},
                       {"bytes", ec ? -1 : static_cast<int64_t>(bytes)}});
  }
  prov["sources"] = sources;
  prov["split_rule"] = split_text;
  prov["balance"] = balance;
  prov["options"] = {{"max_per_class", options.max_per_class},
                     {"valid_fraction", options.valid_fraction},
                     {"test_fraction", d.preset ? 0.0 : options.test_fraction},
                     {"folds", options.folds}};
  for (auto it = d.details.begin(); it != d.details.end(); ++it) prov[it.key()] = it.value();
  nlohmann::json dropped = nlohmann::json::object();
  for (const auto& [reason, n] : d.dropped) dropped[reason] = n;
  prov["dropped"] = dropped;
  spec.provenance = prov;  // write_task adds the per-split class counts ("counts")
  task.spec = std::move(spec);
  STRAND_LOG_INFO("tasks build ", options.name, ": train ", counts_text(task.train, task.spec), "; valid ",
                  counts_text(task.valid, task.spec), "; test ", counts_text(task.test, task.spec));
  return task;
}

TaskBuildSummary build_task(const TaskBuildOptions& options) {
  STRAND_CHECK(!options.out.empty(), "tasks build: no output directory given (--out DIR)");
  find_builder(options.name);  // an unknown name is reported before the directory is looked at
  {
    std::error_code ec;
    const bool exists = fs::exists(options.out, ec);
    if (exists) {
      STRAND_CHECK(fs::is_directory(options.out, ec), "tasks build: '", options.out, "' exists and is not a directory");
      const bool empty = fs::is_empty(options.out, ec);
      STRAND_CHECK(empty || options.force, "tasks build: '", options.out,
                   "' exists and is not empty; use --force to overwrite the task in it");
    }
  }
  Task task = make_task(options);
  write_task(task, options.out);
  TaskBuildSummary s;
  s.name = options.name;
  s.dir = options.out;
  s.kind = task.spec.kind;
  s.classes = task.spec.classes;
  const std::pair<const char*, const std::vector<TaskExample>*> splits[] = {
      {"train", &task.train}, {"valid", &task.valid}, {"test", &task.test}};
  for (const auto& [name, examples] : splits) {
    s.split_sizes[name] = static_cast<int64_t>(examples->size());
    std::vector<int64_t> counts(s.classes.size(), 0);
    if (s.kind == TaskKind::Classification)
      for (const auto& ex : *examples) ++counts[static_cast<size_t>(ex.label)];
    s.class_counts[name] = counts;
  }
  for (auto it = task.spec.provenance["dropped"].begin(); it != task.spec.provenance["dropped"].end(); ++it)
    s.dropped[it.key()] = it.value().get<int64_t>();
  s.split_rule = task.spec.provenance["split_rule"].get<std::string>();
  s.balance = task.spec.provenance["balance"].get<std::string>();
  return s;
}

}  // namespace strand::pipelines
