#include "apps/options.h"

#include <iostream>

#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/parallel.h"
#include "libseq/core/progress.h"
#include "libseq/core/random.h"

namespace strand::apps {

po::options_description CommonOptions::describe() {
  po::options_description d("Common options");
  d.add_options()
    ("threads,t", po::value<int>(&threads)->default_value(threads), "worker threads (0 = all cores)")
    ("seed", po::value<uint64_t>(&seed)->default_value(seed), "random seed")
    ("quiet,q", po::bool_switch(&quiet), "no progress output; only warnings and errors")
    ("log-level", po::value<std::string>(&log_level)->default_value(log_level),
     "error, warn, info, debug or trace");
  return d;
}

void CommonOptions::apply() const {
  STRAND_CHECK(threads >= 0, "--threads must be >= 0 (got ", threads, ")");
  log::set_level(quiet ? log::Level::Warn : log::parse_level(log_level));
  Progress::set_quiet(quiet);
  set_num_threads(threads);
  manual_seed(seed);
}

bool parse_command(int argc, char** argv, const std::string& usage, const std::string& about,
                   po::options_description& specific, CommonOptions& common, po::variables_map& vm,
                   const po::positional_options_description* positional) {
  po::options_description help("Help");
  help.add_options()("help,h", "show this help");
  po::options_description all;
  all.add(specific).add(common.describe()).add(help);
  try {
    auto parser = po::command_line_parser(argc, argv).options(all);
    if (positional != nullptr) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help") != 0) {
      std::cout << "Usage: " << usage << "\n\n" << about << "\n\n" << all << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(std::string(e.what()) + " (see '" + usage.substr(0, usage.find(' ', 7)) + " --help')");
  }
  common.apply();
  return true;
}

std::string command_line(int argc, char** argv) {
  std::string out = "strand";
  for (int i = 0; i < argc; ++i) {
    out += ' ';
    out += argv[i];
  }
  return out;
}

}  // namespace strand::apps
