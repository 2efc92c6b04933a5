// strand tasks list | build: real supervised tasks from Debian data packages.
#include <cstring>
#include <iomanip>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/task_builders.h"

namespace strand::apps {
namespace {

constexpr const char* kAbout =
    "Builds real supervised tasks from files that Debian data packages install, in the task directory format "
    "that strand finetune reads (task.json + train/valid/test.tsv). Labels come from the packages' own annotation; "
    "splits follow genes, loci, chromosome blocks, near-identity clusters or scaffolds, never overlapping windows; "
    "task.json records the split rule, the class balance, the sources and the seed.";

void print_tasks_usage(std::ostream& os) {
  os << "Usage: strand tasks <list|build> [options]   (strand tasks <list|build> --help for details)\n\n"
     << kAbout << "\n\n"
     << "  list        the tasks, what they hold, the packages they read and whether those are installed\n"
     << "  build NAME  build task NAME into --out DIR\n";
}

int run_list(int argc, char** argv) {
  CommonOptions common;
  pipelines::TaskBuildOptions o;
  po::options_description opts("tasks list options");
  opts.add_options()("data-root", po::value<std::string>(&o.data_root),
                     "prefix prepended to every package path (a copy of the files elsewhere)");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand tasks list [options]",
                     "Lists the tasks `strand tasks build` knows, with the Debian packages and files each reads and "
                     "whether they are present.",
                     opts, common, vm))
    return 0;
  for (const auto& info : pipelines::task_builders()) {
    bool ready = true;
    for (const auto& in : info.inputs) ready = ready && !pipelines::resolve_input(in, o).empty();
    std::cout << info.name << std::string(info.name.size() < 14 ? 14 - info.name.size() : 1, ' ')
              << (ready ? "[ready]    " : "[missing]  ") << info.description << "\n";
    for (const auto& in : info.inputs) {
      const std::string at = pipelines::resolve_input(in, o);
      std::cout << "              " << (at.empty() ? "missing  " : "ok       ") << in.package << "  "
                << (at.empty() ? in.path : at) << "\n";
      if (at.empty()) std::cout << "                       -> " << pipelines::install_hint(in, o) << "\n";
    }
  }
  return 0;
}

int run_build(int argc, char** argv) {
  CommonOptions common;
  pipelines::TaskBuildOptions o;
  po::options_description opts("tasks build options");
  opts.add_options()
    ("name", po::value<std::string>(&o.name)->required(), "task name (see strand tasks list)")
    ("out,o", po::value<std::string>(&o.out)->required(), "task directory to write")
    ("force,f", po::bool_switch(&o.force), "overwrite the task in a non-empty DIR")
    ("max-per-class", po::value<int64_t>(&o.max_per_class)->default_value(0),
     "at most N examples per class, drawn at random before the split (regression: N in all); 0 = all")
    ("window", po::value<int>(&o.window)->default_value(0),
     "window length in bp for ecoli-cds, fly-coding (default 200) and fly-promoter (default 300)")
    ("block-bp", po::value<int64_t>(&o.block_bp)->default_value(0),
     "genomic block length for the block splits of ecoli-cds (default 20000) and fly-promoter (default 200000)")
    ("valid-fraction", po::value<double>(&o.valid_fraction)->default_value(0.1, "0.1"), "share of examples in valid")
    ("test-fraction", po::value<double>(&o.test_fraction)->default_value(0.1, "0.1"),
     "share of examples in test (tasks whose source has no test split)")
    ("folds", po::value<int>(&o.folds)->default_value(0), "assign K cross-validation folds to train, by group")
    ("data-root", po::value<std::string>(&o.data_root), "prefix prepended to every package path");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand tasks build NAME --out DIR [options]",
                     std::string(kAbout) +
                         " The task seed is 1 unless --seed is given, so a task name always means the same split. "
                         "Packages that would pull in R (r-bioc-biostrings) are read from $STRAND_DATA_DIR/PACKAGE or "
                         "${XDG_DATA_HOME:-~/.local/share}/strand/PACKAGE, where scripts/setup.sh unpacks them.",
                     opts, common, vm, &positional))
    return 0;
  if (!vm["seed"].defaulted()) o.seed = common.seed;
  o.command_line = "strand tasks" + command_line(argc, argv).substr(6);
  const auto s = pipelines::build_task(o);
  std::cerr << "task " << s.name << " (" << pipelines::task_kind_name(s.kind) << ") written to " << s.dir << "\n";
  for (const char* split : {"train", "valid", "test"}) {
    std::cerr << "  " << std::left << std::setw(6) << split << std::right << std::setw(7) << s.split_sizes.at(split);
    if (s.kind == pipelines::TaskKind::Classification) {
      std::cerr << "  (";
      const auto& c = s.class_counts.at(split);
      for (size_t k = 0; k < c.size(); ++k) std::cerr << (k ? ", " : "") << s.classes[k] << " " << c[k];
      std::cerr << ")";
    }
    std::cerr << "\n";
  }
  for (const auto& [reason, n] : s.dropped)
    if (n > 0) std::cerr << "  left out: " << n << " (" << reason << ")\n";
  std::cerr << "split: " << s.split_rule << "\nbalance: " << s.balance << "\n";
  return 0;
}

}  // namespace

int cmd_tasks(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_tasks_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "list") return run_list(argc - 1, argv + 1);
  if (sub == "build") return run_build(argc - 1, argv + 1);
  throw InputError("unknown 'tasks' subcommand '" + sub + "' (expected list or build; see 'strand tasks --help')");
}

}  // namespace strand::apps
