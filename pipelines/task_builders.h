// `strand tasks build NAME --out DIR`: real supervised tasks built from files that Debian data
// packages install, written in the task directory format of pipelines/task.h.
//
// Every builder reads annotation shipped with a package (labels are never invented), splits into
// train/valid/test by a leakage unit — a genomic block, a gene locus, a chromosome block, a
// near-identity cluster or a molecular scaffold, never by overlapping window — and records the
// split rule, the class balance, the sources, the seed and the options in TaskSpec::provenance
// and TaskSpec::description. Given the same files, options and seed, the task is the same, byte
// for byte.
//
// Tasks (see task_builders() for the packages and paths; each builder's comment in
// task_builders_*.cpp states its rules in full):
//   ecoli-cds      E. coli CDS vs intergenic DNA windows (any2fasta-examples Prokka GFF3)
//   fly-coding     D. melanogaster coding vs non-coding windows, the shipped 486/100 gene split
//                  (augustus-doc GenBank loci)
//   fly-promoter   D. melanogaster promoter (300 bp before a RefSeq TSS) vs non-promoter chr2R
//                  windows (r-bioc-biostrings dm3_upstream2000 + augustus-doc chr2R)
//   pfam           Pfam family PF00171 (Aldedh) vs PF00225 (Kinesin motor) domains (augustus-doc)
//   superkingdom   superkingdom of UniProt proteins from OS= through the NCBI taxonomy
//                  (mmseqs2-examples + emboss-data)
//   ncrna-family   Rfam family of ncRNAs from Infernal's Stockholm test alignments (infernal)
//   tpsa           topological polar surface area regression from SMILES (rdkit-data)
//
// Missing input: every file is checked before any work; a missing one raises InputError naming
// the file, the Debian package that ships it and the command that installs it. Packages that
// would pull in R (r-bioc-*) are fetched with `apt-get download` and unpacked with `dpkg -x` into
// a data directory (TaskBuildOptions::download_dirs), which scripts/setup.sh does.
//
// Thread-safety: build functions are reentrant (no global state besides the process-wide log).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipelines/task.h"

namespace strand::pipelines {

/// A file a builder reads, and where it comes from.
struct TaskInput {
  std::string package;    ///< Debian package name
  std::string path;       ///< absolute path as the package installs it
  bool download = false;  ///< fetched with `apt-get download` + `dpkg -x` (packages that pull in R)
};

struct TaskBuilderInfo {
  std::string name;
  std::string description;        ///< one line
  std::vector<TaskInput> inputs;  ///< every file the builder reads
};

/// All builders, in the order `strand tasks list` prints them.
const std::vector<TaskBuilderInfo>& task_builders();
/// The builder called `name`. Throws InputError listing the known names.
const TaskBuilderInfo& find_task_builder(const std::string& name);

struct TaskBuildOptions {
  std::string name;            ///< builder name (task_builders())
  std::string out;             ///< task directory to write
  uint64_t seed = 1;           ///< drives every random choice (windows, sampling, splits, strands)
  /// Prefix prepended to every package path (tests point it at a copy or an empty directory).
  std::string data_root;
  /// Directories holding packages unpacked with `dpkg -x DEB DIR/PACKAGE` (TaskInput::download);
  /// unset = default_download_dirs().
  std::optional<std::vector<std::string>> download_dirs;
  /// Classification: at most this many examples of each class, drawn at random before the split
  /// (windows tasks: from all candidate windows). Regression: at most this many examples in all.
  /// 0 = no limit.
  int64_t max_per_class = 0;
  int window = 0;              ///< window length in bp for the DNA window tasks; 0 = the builder's default
  int64_t block_bp = 0;        ///< genomic block length for block splits; 0 = the builder's default
  double valid_fraction = 0.1; ///< share of examples (whole groups) in valid
  double test_fraction = 0.1;  ///< share in test, for sources without a test split
  int folds = 0;               ///< > 0: assign cross-validation folds to train (by group)
  bool force = false;          ///< overwrite a non-empty output directory
  std::string command_line;    ///< recorded in provenance
};

/// $STRAND_DATA_DIR when set, then ${XDG_DATA_HOME:-$HOME/.local/share}/strand.
std::vector<std::string> default_download_dirs();

/// Every path where `input` is looked for, in order: data_root + path, then for a downloaded
/// package each download dir + "/" + package + path.
std::vector<std::string> input_candidates(const TaskInput& input, const TaskBuildOptions& options);
/// The first existing candidate, or "" when none exists.
std::string resolve_input(const TaskInput& input, const TaskBuildOptions& options);
/// The command that provides `input` ("apt-get install PACKAGE" or the download + extract line).
std::string install_hint(const TaskInput& input, const TaskBuildOptions& options);

/// Builds the task in memory (nothing written). Throws InputError for a missing input (naming
/// file and package), bad options, or data that leave a split without an example of a class;
/// ParseError for malformed input files.
Task make_task(const TaskBuildOptions& options);

struct TaskBuildSummary {
  std::string name;
  std::string dir;
  TaskKind kind = TaskKind::Classification;
  std::vector<std::string> classes;
  std::map<std::string, int64_t> split_sizes;                 ///< train/valid/test -> examples
  std::map<std::string, std::vector<int64_t>> class_counts;   ///< split -> count per class
  std::map<std::string, int64_t> dropped;                     ///< reason -> records left out
  std::string split_rule;
  std::string balance;
};

/// Builds the task and writes it to options.out with write_task. An output directory that exists
/// and is not empty needs options.force (InputError otherwise).
TaskBuildSummary build_task(const TaskBuildOptions& options);

}  // namespace strand::pipelines
