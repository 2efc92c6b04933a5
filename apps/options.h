// Option groups shared by every subcommand, declared once.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace strand::apps {

namespace po = boost::program_options;

/// --threads, --seed, --quiet, --log-level: parsed into this struct and applied by apply().
struct CommonOptions {
  int threads = 0;  ///< 0 = all hardware threads
  uint64_t seed = 42;
  bool quiet = false;
  std::string log_level = "info";

  po::options_description describe();
  /// Sets strand's thread count, seeds, log level and progress output.
  void apply() const;
};

/// Parses argv for a subcommand with `specific` options plus the common ones and --help.
/// Returns false when --help was printed (the caller returns 0). `usage` is the first help line
/// ("strand tokenize -i FILE [options]"), `about` one paragraph. Positional options optional.
bool parse_command(int argc, char** argv, const std::string& usage, const std::string& about,
                   po::options_description& specific, CommonOptions& common, po::variables_map& vm,
                   const po::positional_options_description* positional = nullptr);

/// The full command line ("strand <command> ...") from a subcommand's argv, for provenance records.
std::string command_line(int argc, char** argv);

}  // namespace strand::apps
