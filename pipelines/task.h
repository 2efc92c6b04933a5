// Supervised tasks: the task directory that `strand tasks build` writes and `strand finetune` /
// `strand predict` read, plus readers for the layouts users download.
//
// Strand task directory (written by write_task):
//
//   DIR/task.json        TaskSpec as JSON (see task_spec_to_json): format_version (1), name,
//                        description, kind, alphabet, classes, metric, folds, split files,
//                        provenance (sources, seed, split rule, counts per split).
//   DIR/train.tsv        one example per line after a header line:
//   DIR/valid.tsv          id <TAB> sequence <TAB> label [<TAB> group] [<TAB> fold]
//   DIR/test.tsv         label: the class name (classification) or a number (regression);
//                        group: the unit never split across train/valid/test (gene, locus,
//                        family cluster); fold: 0..folds-1 when the task defines folds.
//
// Readable split files (a task.json may name any of these per split):
//   - TSV/CSV (.tsv/.csv, optionally gzipped) with a header naming at least a sequence column
//     (`sequence`, `seq`, `smiles`) and a label column (`label`, `y`, `target`, `value`); optional
//     `id`/`name`, `group`, `fold`. Column names are matched case-insensitively; other columns are
//     ignored. The delimiter follows the extension: .tsv splits on tabs (no quoting), .csv follows
//     RFC 4180 (quoted fields, "" for a quote, line breaks inside quotes). '\r' before '\n' and a
//     UTF-8 byte order mark are dropped, blank lines skipped, every field trimmed of surrounding
//     whitespace. Without an id column the id is `line<N>` (N = the record's first line).
//   - FASTA (.fa/.fasta/.fna, optionally gzipped) with the label in the header, either
//     `>ID|LABEL` (the Nucleotide Transformer downstream-task files; split on the last '|') or a
//     `label=LABEL` word in the description (`>ID label=LABEL group=G fold=K`; then ID is the
//     whole first word).
//   - A Genomic Benchmarks split folder (SPLIT/<class>/<id>.txt, see below).
// Sequences are returned as written (trimmed); load_task upper-cases them unless the alphabet is
// smiles.
//
// Layouts detected by load_task when DIR has no task.json:
//   - Genomic Benchmarks (materialised): DIR/train/<class>/<id>.txt and DIR/test/<class>/<id>.txt,
//     one sequence per file (one non-empty line), example id `<class>/<id>`; classes sorted by
//     name; files in name order (numeric names numerically); DIR/valid/ is read when present.
//     Hidden entries are skipped; any other file is an error.
//   - Nucleotide Transformer downstream tasks: DIR/train.fna + DIR/test.fna (`>name|label`), or
//     DIR/train.csv + DIR/test.csv with columns sequence,name,label (the Hugging Face dataset
//     exported to CSV); no valid split.
//   - Plain: DIR/{train,valid,test}.{tsv,csv,fa,fasta,fna}[.gz]; train and test required.
//   - A DIR holding none of these but exactly one sub-folder that does (a downloaded dataset
//     folder) is read as that sub-folder (Task::dir names it).
// For detected layouts the kind is inferred from the training labels (labels that are all
// integers with at most 64 distinct values, or non-numeric, make a classification task; other
// numbers a regression task) and the alphabet from the training sequences, case-insensitively
// (only ACGTN -> dna, only ACGUN -> rna, only the 20 amino acids plus B Z J X U O '*' -> protein,
// otherwise smiles); both can be overridden by LoadTaskOptions. Classes are the distinct training
// labels, in numeric order when all are numbers (so integer labels 0..k-1 keep class id == label),
// by name otherwise. Folds: 1 + the largest fold found. Metric: mcc (classification) or spearman
// (regression). A task.json without `classes` for a classification task gets them the same way.
//
// Errors: a missing or unreadable file, a line with the wrong number of fields, an empty sequence,
// an unknown class name, a non-numeric regression label, duplicate ids within a split, or a
// group that appears in more than one split raise InputError/ParseError naming the file, line (or
// record) and what was expected and found; so do an empty split, a missing header column, an
// unterminated CSV quote, a fold outside 0..folds-1 (or a training example without a fold in a
// task with folds), truncated gzip data and lines over 1 GiB. A bad task.json is a ConfigError
// (unknown keys included). I/O failures of the operating system are IoError.
//
// Thread-safety: every function works on its arguments only; none shares state.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace strand::pipelines {

enum class TaskKind { Classification, Regression };

/// "classification" / "regression"; parse throws ConfigError naming the bad value.
const char* task_kind_name(TaskKind kind);
TaskKind parse_task_kind(const std::string& name);

struct TaskExample {
  std::string id;
  std::string sequence;
  int64_t label = -1;   ///< class index into TaskSpec::classes (classification)
  double value = 0;     ///< target (regression)
  std::string group;    ///< leakage unit (gene, locus, family cluster); empty = the example itself
  int fold = -1;        ///< 0..folds-1, or -1 when the task has no folds
};

struct TaskSpec {
  std::string name;
  std::string description;
  TaskKind kind = TaskKind::Classification;
  std::string alphabet = "dna";         ///< dna, rna, protein or smiles
  std::vector<std::string> classes;     ///< classification: label names, index = class id
  std::string metric;                   ///< primary metric: mcc, f1, accuracy, auroc, spearman, rmse
  int folds = 0;                        ///< > 0 when examples carry fold numbers
  std::map<std::string, std::string> files;  ///< split (train/valid/test) -> path relative to DIR
  nlohmann::json provenance = nlohmann::json::object();  ///< sources, seed, split rule, counts
};

struct Task {
  TaskSpec spec;
  std::string dir;                      ///< where it was loaded from (empty when built in memory)
  std::vector<TaskExample> train, valid, test;
};

nlohmann::json task_spec_to_json(const TaskSpec& spec);
/// Reads task.json content; `where` names the file in errors. Throws ConfigError. `metric`,
/// `description`, `classes`, `folds`, `provenance` and `format_version` are optional; `files`
/// must name train.
TaskSpec task_spec_from_json(const nlohmann::json& j, const std::string& where);

struct LoadTaskOptions {
  std::optional<TaskKind> kind;         ///< override the inferred kind (detected layouts; for a
                                        ///< task.json dir a different kind is a ConfigError)
  std::optional<std::string> alphabet;  ///< override the inferred (or task.json) alphabet
};

/// Loads DIR (a task.json directory or one of the detected layouts above) and checks it as a
/// whole (folds, groups across splits).
Task load_task(const std::string& dir, const LoadTaskOptions& options = {});

/// Reads one split file (format from the extension, as above; a folder is a Genomic Benchmarks
/// split folder). `classes` maps class names to ids for classification (a name not in it is an
/// error unless `add_classes` is set, in which case it is appended); ignored for regression.
/// Sequences come back as written (trimmed, case kept).
std::vector<TaskExample> read_task_split(const std::string& path, TaskKind kind, std::vector<std::string>& classes,
                                         bool add_classes);

/// Writes DIR/task.json and DIR/{train,valid,test}.tsv (empty splits are omitted from `files`),
/// each file through a temporary name renamed when complete; task.json is written last, so a
/// directory without it is never a finished task. Fills spec.files and the per-split counts in
/// spec.provenance["counts"][split]: {"n", "classes": {name: count}} for classification,
/// {"n", "mean", "sd"} (sample sd) for regression. An empty metric becomes the kind's default;
/// a stale split file of an empty split is removed. Checks first (InputError): non-empty train,
/// ids unique and non-empty, sequences non-empty, labels within classes, finite targets, folds
/// within 0..folds-1, groups within one split, and no tab or line break in any written field.
void write_task(Task& task, const std::string& dir);

/// Sequences as read for prediction: FASTA/FASTQ (any file bio::io reads; id = first header word,
/// sequence upper-cased), or for the smiles alphabet a SMILES file (`SMILES [name]` per line,
/// '#' comments and blank lines skipped, a first line starting with the word `SMILES` taken as a
/// column header, id `line<N>` when the name is missing) — the input of `strand predict`.
/// A missing file, an empty record or a file without sequences is an InputError/ParseError.
std::vector<TaskExample> read_unlabelled(const std::string& path, const std::string& alphabet);

/// Assigns folds 0..k-1 to `examples` so that every group falls in one fold, balanced by example
/// count (groups shuffled under `seed`, then, largest first with ties in shuffled order, each
/// placed in the currently smallest fold). The result depends only on the examples' ids, groups
/// and seed, not on their order. InputError when k < 1 or there are fewer groups than folds.
void assign_folds(std::vector<TaskExample>& examples, int k, uint64_t seed);

/// Moves about `fraction` of `train` (whole groups, chosen under `seed`) into a validation split;
/// used when a task has no valid split. Returns the moved examples; both parts keep their input
/// order. At least one group is moved and at least one kept; InputError when fraction is not in
/// (0, 1) or train holds fewer than two groups.
std::vector<TaskExample> split_off_validation(std::vector<TaskExample>& train, double fraction, uint64_t seed);

}  // namespace strand::pipelines
