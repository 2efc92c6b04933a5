#include "pipelines/task.h"


#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "bio/io/reader.h"
#include "libseq/core/config.h"
#include "libseq/core/error.h"
#include "libseq/core/random.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/text_lines.h"

namespace strand::pipelines {
namespace fs = std::filesystem;

namespace {

constexpr const char* kSplits[] = {"train", "valid", "test"};
constexpr int kFormatVersion = 1;
// Above this many distinct integer labels a numeric column is read as a regression target.
constexpr size_t kMaxIntegerClasses = 64;
// A text line longer than this is reported instead of growing the buffer until memory runs out.
constexpr size_t kMaxLineBytes = size_t{1} << 30;
// Rng stream ids ("folds", "valid" in ASCII): independent streams for the two random choices.
constexpr uint64_t kFoldsStream = 0x666f6c6473ULL;
constexpr uint64_t kValidStream = 0x76616c6964ULL;

// ---------------------------------------------------------------------------------------------
// Small string helpers

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

std::string trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && is_space(s[b])) ++b;
  while (e > b && is_space(s[e - 1])) --e;
  return std::string(s.substr(b, e - b));
}

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

void upper_in_place(std::string& s) {
  for (auto& c : s)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string show_value(const std::string& s) {
  constexpr size_t kShow = 60;
  return "'" + (s.size() > kShow ? s.substr(0, kShow) + "...' (" + std::to_string(s.size()) + " bytes)" : s + "'");
}

std::string join(const std::vector<std::string>& items, const std::string& sep, size_t max_items = 30) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < max_items; ++i) out += (i ? sep : "") + items[i];
  if (items.size() > max_items) out += sep + "... (" + std::to_string(items.size()) + " in all)";
  return out;
}

bool is_integer_text(const std::string& s) {
  size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

/// A finite number written as decimal text ("1", "-2.5", "3e-4"), nothing else.
std::optional<double> parse_number(const std::string& s) {
  const char* first = s.data();
  const char* last = s.data() + s.size();
  if (first != last && *first == '+') ++first;
  if (first == last) return std::nullopt;
  double v = 0;
  const auto r = std::from_chars(first, last, v, std::chars_format::general);
  if (r.ec != std::errc() || r.ptr != last || !std::isfinite(v)) return std::nullopt;
  return v;
}

/// Shortest text that reads back as the same double.
std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  STRAND_ASSERT(r.ec == std::errc(), "to_chars failed for a double");
  return std::string(buf, r.ptr);
}

std::string extension_without_gz(const std::string& path) {
  std::string name = lower(fs::path(path).filename().string());
  if (ends_with(name, ".gz")) name.resize(name.size() - 3);
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? std::string() : name.substr(dot);
}

bool is_fasta_extension(const std::string& ext) { return ext == ".fa" || ext == ".fasta" || ext == ".fna"; }

void require_readable_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) throw InputError(Location{path, -1, ""}, what + " does not exist");
  if (!fs::is_regular_file(st)) throw InputError(Location{path, -1, ""}, what + " is not a regular file");
}

void require_alphabet(const std::string& alphabet, const std::string& where) {
  if (alphabet == "dna" || alphabet == "rna" || alphabet == "protein" || alphabet == "smiles") return;
  throw ConfigError(Location{where, -1, ""},
                    "unknown alphabet " + show_value(alphabet) + " (expected dna, rna, protein or smiles)");
}

// "10.txt" after "9.txt": names that are both digits compare as numbers, others byte-wise.
bool natural_less(const std::string& a, const std::string& b) {
  const auto digits = [](const std::string& s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (digits(a) && digits(b)) {
    const auto strip = [](const std::string& s) { return s.substr(std::min(s.find_first_not_of('0'), s.size() - 1)); };
    const std::string x = strip(a), y = strip(b);
    if (x.size() != y.size()) return x.size() < y.size();
    if (x != y) return x < y;
  }
  return a < b;
}

using io::TextLines;

// ---------------------------------------------------------------------------------------------
// Raw split: examples with their label as text, so that the kind and the classes can be decided
// after reading (detected layouts) and every later error still names the file and line.

struct RawExample {
  TaskExample ex;
  std::string label;
  Location where;
};

struct RawSplit {
  std::string path;
  std::vector<RawExample> rows;
};

Location record_location(const std::string& path, int64_t index, const std::string& name) {
  return Location{path, -1, "record " + std::to_string(index) + " ('" + name + "')"};
}

void parse_fold(const std::string& text, const Location& where, TaskExample& ex) {
  if (text.empty()) return;
  if (!is_integer_text(text) || text[0] == '-' || text.size() > 9) {
    throw ParseError(where, "expected a fold number (0, 1, ...), found " + show_value(text));
  }
  ex.fold = std::stoi(text);
}

// Whole-split checks shared by every format.
void check_rows(RawSplit& split) {
  STRAND_CHECK_AT(ParseError, (Location{split.path, -1, ""}), !split.rows.empty(),
                  "expected at least one example, found none");
  std::unordered_map<std::string, const Location*> seen;
  seen.reserve(split.rows.size());
  for (const auto& row : split.rows) {
    const auto [it, fresh] = seen.emplace(row.ex.id, &row.where);
    if (!fresh) {
      const Location& first = *it->second;
      throw ParseError(row.where, "duplicate id " + show_value(row.ex.id) + " (first at " +
                                      (first.line >= 0 ? "line " + std::to_string(first.line) : first.record) +
                                      "); ids must be unique within a split");
    }
  }
}

// TSV / CSV ----------------------------------------------------------------------------------


RawSplit read_table(const std::string& path, bool csv) {
  RawSplit split{path, {}};
  TextLines lines = TextLines::open(path, kMaxLineBytes);
  std::string line;
  std::vector<std::string> fields;
  const auto read_record = [&]() {
    if (csv) {
      io::split_csv(lines, line, fields);
    } else {
      io::split_tsv(line, fields);
    }
  };
  if (!lines.next(line)) throw ParseError(Location{path, -1, ""}, "expected a header line, found an empty file");
  if (line.compare(0, 3, "\xEF\xBB\xBF") == 0) line.erase(0, 3);  // UTF-8 byte order mark
  read_record();
  const std::vector<std::string> header = fields;
  // Column roles, each a list of accepted names in order of preference.
  const auto find_column = [&](std::initializer_list<const char*> names) -> int {
    for (const char* name : names) {
      int found = -1;
      for (size_t c = 0; c < header.size(); ++c) {
        if (lower(trim(header[c])) != name) continue;
        if (found >= 0) {
          throw ParseError(Location{path, 1, ""}, std::string("expected one column named '") + name +
                                                      "', found it twice (columns " + std::to_string(found + 1) +
                                                      " and " + std::to_string(c + 1) + ")");
        }
        found = static_cast<int>(c);
      }
      if (found >= 0) return found;
    }
    return -1;
  };
  const int seq_col = find_column({"sequence", "seq", "smiles"});
  const int label_col = find_column({"label", "y", "target", "value"});
  const int id_col = find_column({"id", "name"});
  const int group_col = find_column({"group"});
  const int fold_col = find_column({"fold"});
  if (seq_col < 0 || label_col < 0) {
    std::vector<std::string> names;
    for (const auto& h : header) names.push_back("'" + trim(h) + "'");
    throw ParseError(Location{path, 1, ""}, std::string("expected a header line naming a ") +
                                                (seq_col < 0 ? "sequence column (sequence, seq or smiles)" : "") +
                                                (seq_col < 0 && label_col < 0 ? " and a " : "") +
                                                (label_col < 0 ? "label column (label, y, target or value)" : "") +
                                                ", found " + std::to_string(header.size()) +
                                                " column(s): " + join(names, ", "));
  }
  while (lines.next(line)) {
    if (trim(line).empty()) continue;
    const int64_t line_no = lines.line_number();
    read_record();
    const Location where{path, line_no, ""};
    if (fields.size() != header.size()) {
      throw ParseError(where, "expected " + std::to_string(header.size()) + " " + (csv ? "comma" : "tab") +
                                  "-separated fields as in the header, found " + std::to_string(fields.size()));
    }
    RawExample row{TaskExample{}, trim(fields[static_cast<size_t>(label_col)]), where};
    row.ex.sequence = trim(fields[static_cast<size_t>(seq_col)]);
    if (row.ex.sequence.empty()) {
      throw ParseError(where, "expected a sequence in column '" + trim(header[static_cast<size_t>(seq_col)]) +
                                  "', found an empty field");
    }
    if (row.label.empty()) {
      throw ParseError(where, "expected a label in column '" + trim(header[static_cast<size_t>(label_col)]) +
                                  "', found an empty field");
    }
    if (id_col >= 0) {
      row.ex.id = trim(fields[static_cast<size_t>(id_col)]);
      if (row.ex.id.empty()) {
        throw ParseError(where, "expected an id in column '" + trim(header[static_cast<size_t>(id_col)]) +
                                    "', found an empty field");
      }
    } else {
      row.ex.id = "line" + std::to_string(line_no);
    }
    if (group_col >= 0) row.ex.group = trim(fields[static_cast<size_t>(group_col)]);
    if (fold_col >= 0) parse_fold(trim(fields[static_cast<size_t>(fold_col)]), where, row.ex);
    split.rows.push_back(std::move(row));
  }
  return split;
}

// FASTA with labels in headers ----------------------------------------------------------------

RawSplit read_labelled_fasta(const std::string& path) {
  RawSplit split{path, {}};
  auto reader = bio::io::open_sequences(path);
  bio::io::SequenceRecord rec;
  while (reader->next(rec)) {
    const Location where = record_location(path, rec.index, rec.name);
    RawExample row{TaskExample{}, "", where};
    bool have_label = false, have_group = false, have_fold = false;
    // `key=value` words of the description.
    size_t b = 0;
    while (b < rec.comment.size()) {
      while (b < rec.comment.size() && is_space(rec.comment[b])) ++b;
      size_t e = b;
      while (e < rec.comment.size() && !is_space(rec.comment[e])) ++e;
      const std::string word = rec.comment.substr(b, e - b);
      b = e;
      const auto eq = word.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
      bool* seen = key == "label" ? &have_label : key == "group" ? &have_group : key == "fold" ? &have_fold : nullptr;
      if (seen == nullptr) continue;
      if (*seen) throw ParseError(where, "expected one '" + key + "=' word in the header, found two");
      *seen = true;
      if (key == "label") {
        row.label = value;
      } else if (key == "group") {
        row.ex.group = value;
      } else {
        if (value.empty()) throw ParseError(where, "expected a fold number after 'fold=', found nothing");
        parse_fold(value, where, row.ex);
      }
    }
    if (have_label) {
      row.ex.id = rec.name;
    } else {
      const auto bar = rec.name.rfind('|');
      if (bar == std::string::npos) {
        throw ParseError(where, "expected the label in the header as '>ID|LABEL' or a 'label=LABEL' word, found '>" +
                                    rec.name + (rec.comment.empty() ? "" : " " + rec.comment) + "'");
      }
      row.ex.id = rec.name.substr(0, bar);
      row.label = rec.name.substr(bar + 1);
      if (row.ex.id.empty()) throw ParseError(where, "expected an id before '|' in the header, found none");
    }
    if (row.label.empty()) throw ParseError(where, "expected a label in the header, found an empty one");
    if (rec.seq.empty()) throw ParseError(where, "expected a sequence, found an empty record");
    row.ex.sequence = rec.seq;
    split.rows.push_back(std::move(row));
  }
  return split;
}

// Genomic Benchmarks split folder: SPLIT/<class>/<id>.txt ---------------------------------------

std::vector<std::string> sorted_entries(const fs::path& dir, bool directories) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // hidden files (.DS_Store and the like)
    if (entry.is_directory() != directories) {
      throw InputError(Location{entry.path().string(), -1, ""},
                       std::string("expected only ") + (directories ? "class folders" : "<id>.txt sequence files") +
                           " in the Genomic Benchmarks folder " + dir.string() + ", found " +
                           (entry.is_directory() ? "a folder" : "a file"));
    }
    if (!directories && !ends_with(name, ".txt")) {
      throw InputError(Location{entry.path().string(), -1, ""},
                       "expected only <id>.txt sequence files in the Genomic Benchmarks class folder, found this file");
    }
    names.push_back(name);
  }
  std::sort(names.begin(), names.end(), natural_less);
  return names;
}

RawSplit read_benchmark_folder(const std::string& path) {
  RawSplit split{path, {}};
  for (const auto& cls : sorted_entries(path, true)) {
    const fs::path class_dir = fs::path(path) / cls;
    std::vector<std::string> files = sorted_entries(class_dir, false);
    std::sort(files.begin(), files.end(), [](const std::string& a, const std::string& b) {
      return natural_less(a.substr(0, a.size() - 4), b.substr(0, b.size() - 4));
    });
    for (const auto& file : files) {
      const std::string file_path = (class_dir / file).string();
      const std::string text = io::read_file(file_path);
      std::string sequence;
      int64_t line_no = 0, seq_line = 0;
      size_t b = 0;
      while (b <= text.size()) {
        size_t e = text.find('\n', b);
        if (e == std::string::npos) e = text.size();
        ++line_no;
        std::string line = trim(std::string_view(text).substr(b, e - b));
        if (!line.empty()) {
          if (seq_line > 0) {
            throw ParseError(Location{file_path, line_no, ""},
                             "expected one sequence on one line, found a second non-empty line (the first is line " +
                                 std::to_string(seq_line) + ")");
          }
          seq_line = line_no;
          sequence = std::move(line);
        }
        b = e + 1;
      }
      if (sequence.empty()) throw ParseError(Location{file_path, -1, ""}, "expected a sequence, found an empty file");
      RawExample row{TaskExample{}, cls, Location{file_path, seq_line, ""}};
      row.ex.id = cls + "/" + file.substr(0, file.size() - 4);
      row.ex.sequence = std::move(sequence);
      split.rows.push_back(std::move(row));
    }
  }
  return split;
}

RawSplit read_raw_split(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(Location{path, -1, ""}, "split file does not exist");
  if (fs::is_directory(path, ec)) {
    RawSplit split = read_benchmark_folder(path);
    check_rows(split);
    return split;
  }
  require_readable_file(path, "split file");
  const std::string ext = extension_without_gz(path);
  RawSplit split;
  if (ext == ".tsv" || ext == ".csv") {
    split = read_table(path, ext == ".csv");
  } else if (is_fasta_extension(ext)) {
    split = read_labelled_fasta(path);
  } else {
    throw InputError(Location{path, -1, ""},
                     "expected a split file ending in .tsv, .csv, .fa, .fasta or .fna (optionally .gz), found " +
                         show_value(fs::path(path).filename().string()));
  }
  check_rows(split);
  return split;
}

// Labels ------------------------------------------------------------------------------------

std::vector<TaskExample> convert(RawSplit& split, TaskKind kind, std::vector<std::string>& classes, bool add_classes) {
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < classes.size(); ++i) index.emplace(classes[i], static_cast<int64_t>(i));
  std::vector<TaskExample> out;
  out.reserve(split.rows.size());
  for (auto& row : split.rows) {
    TaskExample ex = std::move(row.ex);
    if (kind == TaskKind::Regression) {
      const auto v = parse_number(row.label);
      if (!v) throw ParseError(row.where, "expected a number as the regression label, found " + show_value(row.label));
      ex.value = *v;
    } else {
      auto it = index.find(row.label);
      if (it == index.end()) {
        if (!add_classes) {
          throw ParseError(
              row.where, "unknown class " + show_value(row.label) + " (expected one of: " + join(classes, ", ") + ")");
        }
        it = index.emplace(row.label, static_cast<int64_t>(classes.size())).first;
        classes.push_back(row.label);
      }
      ex.label = it->second;
    }
    out.push_back(std::move(ex));
  }
  return out;
}

TaskKind infer_kind(const RawSplit& train) {
  std::set<std::string> distinct;
  bool all_integers = true;
  for (const auto& row : train.rows) {
    if (!parse_number(row.label)) return TaskKind::Classification;
    all_integers = all_integers && is_integer_text(row.label);
    distinct.insert(row.label);
  }
  return all_integers && distinct.size() <= kMaxIntegerClasses ? TaskKind::Classification : TaskKind::Regression;
}

// Class names in a fixed order: numerically when every name is a number (so integer labels
// 0..k-1 keep class id == label), by name otherwise.
std::vector<std::string> infer_classes(const RawSplit& train) {
  std::set<std::string> distinct;
  for (const auto& row : train.rows) distinct.insert(row.label);
  std::vector<std::string> classes(distinct.begin(), distinct.end());
  const bool numeric =
      std::all_of(classes.begin(), classes.end(), [](const std::string& c) { return parse_number(c).has_value(); });
  if (numeric) {
    std::stable_sort(classes.begin(), classes.end(),
                     [](const std::string& a, const std::string& b) { return *parse_number(a) < *parse_number(b); });
  }
  return classes;
}

std::string infer_alphabet(const std::vector<TaskExample>& train) {
  // Letter sets, case-insensitive. Protein takes the 20 amino acids plus the IUPAC codes real
  // protein files carry (B, Z, J, X, U, O) and '*' for a stop.
  const auto make = [](const char* letters) {
    std::array<bool, 256> t{};
    for (const char* p = letters; *p; ++p) {
      t[static_cast<unsigned char>(*p)] = true;
      if (*p >= 'A' && *p <= 'Z') t[static_cast<unsigned char>(*p - 'A' + 'a')] = true;
    }
    return t;
  };
  static const std::array<bool, 256> dna = make("ACGTN"), rna = make("ACGUN"),
                                     protein = make("ACDEFGHIKLMNPQRSTVWYBZJXUO*");
  bool is_dna = true, is_rna = true, is_protein = true;
  for (const auto& ex : train) {
    for (const char c : ex.sequence) {
      const auto u = static_cast<unsigned char>(c);
      is_dna = is_dna && dna[u];
      is_rna = is_rna && rna[u];
      is_protein = is_protein && protein[u];
    }
    if (!is_dna && !is_rna && !is_protein) break;
  }
  return is_dna ? "dna" : is_rna ? "rna" : is_protein ? "protein" : "smiles";
}

std::string default_metric(TaskKind kind) { return kind == TaskKind::Classification ? "mcc" : "spearman"; }

// Whole-task checks: folds within range, every training example in a fold when the task has
// folds, and no group in two splits.
void check_task(const Task& task, const std::map<std::string, std::string>& paths) {
  const std::vector<TaskExample>* splits[] = {&task.train, &task.valid, &task.test};
  std::unordered_map<std::string, std::pair<int, const TaskExample*>> owner;
  for (int s = 0; s < 3; ++s) {
    const auto it = paths.find(kSplits[s]);
    const std::string path = it == paths.end() ? std::string(kSplits[s]) : it->second;
    for (const auto& ex : *splits[s]) {
      const Location where{path, -1, "example '" + ex.id + "'"};
      if (ex.fold >= task.spec.folds) {
        throw InputError(where, "expected a fold below " + std::to_string(task.spec.folds) + " (the task has " +
                                    std::to_string(task.spec.folds) + " folds), found fold " + std::to_string(ex.fold));
      }
      if (s == 0 && task.spec.folds > 0 && ex.fold < 0) {
        throw InputError(
            where, "expected a fold number (the task has " + std::to_string(task.spec.folds) + " folds), found none");
      }
      if (ex.group.empty()) continue;
      const auto [o, fresh] = owner.emplace(ex.group, std::make_pair(s, &ex));
      if (!fresh && o->second.first != s) {
        const auto first = paths.find(kSplits[o->second.first]);
        throw InputError(where, "group " + show_value(ex.group) + " is also in the " + kSplits[o->second.first] +
                                    " split (" + (first == paths.end() ? "" : first->second + ", ") + "example '" +
                                    o->second.second->id + "'); a group must stay within one split");
      }
    }
  }
}

void finish_sequences(Task& task) {
  if (task.spec.alphabet == "smiles") return;
  for (auto* split : {&task.train, &task.valid, &task.test})
    for (auto& ex : *split) upper_in_place(ex.sequence);
}

// Layout detection ---------------------------------------------------------------------------

/// The split file DIR/<split>.<ext>[.gz], or "" when there is none; two candidates are an error.
std::string find_split_file(const fs::path& dir, const std::string& split) {
  std::vector<std::string> found;
  for (const char* ext : {".tsv", ".csv", ".fa", ".fasta", ".fna"}) {
    for (const char* gz : {"", ".gz"}) {
      const fs::path p = dir / (split + ext + gz);
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) found.push_back(p.filename().string());
    }
  }
  if (found.size() > 1) {
    throw InputError(Location{dir.string(), -1, ""}, "expected one " + split + " split file, found " +
                                                         std::to_string(found.size()) + ": " + join(found, ", "));
  }
  return found.empty() ? std::string() : found[0];
}

bool looks_like_task(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "task.json", ec) || fs::is_directory(dir / "train", ec) ||
         !find_split_file(dir, "train").empty();
}

Task load_spec_dir(const fs::path& dir, const LoadTaskOptions& options) {
  const std::string json_path = (dir / "task.json").string();
  Task task;
  task.dir = dir.string();
  task.spec = task_spec_from_json(load_json(json_path), json_path);
  if (options.kind && *options.kind != task.spec.kind) {
    throw ConfigError(Location{json_path, -1, ""}, std::string("the task is ") + task_kind_name(task.spec.kind) +
                                                       "; a task directory's kind cannot be overridden (asked for " +
                                                       task_kind_name(*options.kind) + ")");
  }
  if (options.alphabet) {
    require_alphabet(*options.alphabet, "the alphabet option");
    task.spec.alphabet = *options.alphabet;
  }
  std::map<std::string, std::string> paths;
  std::map<std::string, RawSplit> raw;
  for (const auto& [split, file] : task.spec.files) {
    paths[split] = (dir / file).string();
    raw[split] = read_raw_split(paths[split]);
  }
  const bool infer = task.spec.kind == TaskKind::Classification && task.spec.classes.empty();
  if (infer) task.spec.classes = infer_classes(raw.at("train"));
  for (auto& [split, r] : raw) {
    auto examples = convert(r, task.spec.kind, task.spec.classes, false);
    (split == "train" ? task.train : split == "valid" ? task.valid : task.test) = std::move(examples);
  }
  check_task(task, paths);
  finish_sequences(task);
  return task;
}

Task load_detected_dir(const fs::path& dir, const LoadTaskOptions& options) {
  Task task;
  task.dir = dir.string();
  std::map<std::string, std::string> files;
  std::string layout;
  std::error_code ec;
  if (fs::is_directory(dir / "train", ec)) {
    layout = "genomic-benchmarks";
    for (const char* split : kSplits)
      if (fs::is_directory(dir / split, ec)) files[split] = split;
    if (!files.count("test")) {
      throw InputError(Location{dir.string(), -1, ""},
                       "expected a test/ folder beside train/ (Genomic Benchmarks layout), found none");
    }
  } else {
    layout = "files";
    for (const char* split : kSplits) {
      const std::string f = find_split_file(dir, split);
      if (!f.empty()) files[split] = f;
    }
    if (!files.count("test")) {
      throw InputError(Location{dir.string(), -1, ""},
                       "expected a test split file beside " + files.at("train") +
                           " (test.tsv, test.csv, test.fa, test.fasta or test.fna, optionally .gz), found none");
    }
    const std::string ext = extension_without_gz(files.at("train"));
    if (!files.count("valid") && (ext == ".fna" || ext == ".csv")) layout = "nucleotide-transformer";
  }
  std::map<std::string, std::string> paths;
  std::map<std::string, RawSplit> raw;
  for (const auto& [split, file] : files) {
    paths[split] = (dir / file).string();
    raw[split] = read_raw_split(paths[split]);
  }
  TaskSpec& spec = task.spec;
  spec.name = dir.filename().string();
  spec.kind = options.kind ? *options.kind : infer_kind(raw.at("train"));
  if (spec.kind == TaskKind::Classification) spec.classes = infer_classes(raw.at("train"));
  for (auto& [split, r] : raw) {
    auto examples = convert(r, spec.kind, spec.classes, false);
    (split == "train" ? task.train : split == "valid" ? task.valid : task.test) = std::move(examples);
  }
  if (options.alphabet) {
    require_alphabet(*options.alphabet, "the alphabet option");
    spec.alphabet = *options.alphabet;
  } else {
    spec.alphabet = infer_alphabet(task.train);
  }
  int max_fold = -1;
  for (const auto& ex : task.train) max_fold = std::max(max_fold, ex.fold);
  for (const auto& ex : task.valid) max_fold = std::max(max_fold, ex.fold);
  for (const auto& ex : task.test) max_fold = std::max(max_fold, ex.fold);
  spec.folds = max_fold + 1;
  spec.metric = default_metric(spec.kind);
  spec.files = files;
  spec.description = layout == "genomic-benchmarks"       ? "Genomic Benchmarks folder layout"
                     : layout == "nucleotide-transformer" ? "Nucleotide Transformer downstream-task files"
                                                          : "split files";
  spec.provenance["source"] = fs::absolute(dir, ec).string();
  spec.provenance["layout"] = layout;
  spec.provenance["inferred"] = {{"kind", !options.kind.has_value()}, {"alphabet", !options.alphabet.has_value()}};
  check_task(task, paths);
  finish_sequences(task);
  return task;
}

// Writing -------------------------------------------------------------------------------------

void check_field(const std::string& value, const char* what, const std::string& split, const std::string& id) {
  for (const char c : value) {
    if (c == '\t' || c == '\n' || c == '\r') {
      throw InputError(Location{"", -1, split + " example " + show_value(id)},
                       std::string(what) + " " + show_value(value) +
                           " holds a tab or line break, which a TSV split file cannot store");
    }
  }
}

// Groups as keys that cannot collide: a named group, or (empty group) the example itself.
std::vector<std::vector<size_t>> groups_of(const std::vector<TaskExample>& examples) {
  std::map<std::pair<bool, std::string>, std::vector<size_t>> by_key;
  for (size_t i = 0; i < examples.size(); ++i) {
    const auto& ex = examples[i];
    by_key[ex.group.empty() ? std::make_pair(true, ex.id) : std::make_pair(false, ex.group)].push_back(i);
  }
  std::vector<std::vector<size_t>> groups;
  groups.reserve(by_key.size());
  for (auto& kv : by_key) groups.push_back(std::move(kv.second));
  return groups;
}

void remove_file(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  if (ec) throw IoError("cannot remove '" + path.string() + "': " + ec.message());
}

template <typename T>
void shuffle_in_place(std::vector<T>& items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.uniform(i)]);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

const char* task_kind_name(TaskKind kind) { return kind == TaskKind::Classification ? "classification" : "regression"; }

TaskKind parse_task_kind(const std::string& name) {
  if (name == "classification") return TaskKind::Classification;
  if (name == "regression") return TaskKind::Regression;
  throw ConfigError("unknown task kind " + show_value(name) + " (expected classification or regression)");
}

nlohmann::json task_spec_to_json(const TaskSpec& spec) {
  nlohmann::json j;
  j["format_version"] = kFormatVersion;
  j["name"] = spec.name;
  j["description"] = spec.description;
  j["kind"] = task_kind_name(spec.kind);
  j["alphabet"] = spec.alphabet;
  j["classes"] = spec.classes;
  j["metric"] = spec.metric;
  j["folds"] = spec.folds;
  j["files"] = spec.files;
  j["provenance"] = spec.provenance;
  return j;
}

TaskSpec task_spec_from_json(const nlohmann::json& j, const std::string& where) {
  ConfigReader r(j, where);
  const Location at{where, -1, ""};
  const int version = r.optional<int>("format_version", kFormatVersion);
  if (version < 1 || version > kFormatVersion) {
    throw ConfigError(at, "'format_version' " + std::to_string(version) + " is not supported (this build reads 1 to " +
                              std::to_string(kFormatVersion) + ")");
  }
  TaskSpec spec;
  spec.name = r.required<std::string>("name");
  if (spec.name.empty()) throw ConfigError(at, "'name' must not be empty");
  spec.description = r.optional<std::string>("description", "");
  try {
    spec.kind = parse_task_kind(r.required<std::string>("kind"));
  } catch (const ConfigError& e) {
    if (!e.where().file.empty()) throw;
    throw ConfigError(at, "'kind': " + std::string(e.what()));
  }
  spec.alphabet = r.required<std::string>("alphabet");
  require_alphabet(spec.alphabet, where);
  spec.classes = r.optional<std::vector<std::string>>("classes", {});
  if (spec.kind == TaskKind::Regression && !spec.classes.empty()) {
    throw ConfigError(at,
                      "'classes' must be empty for a regression task, found " + std::to_string(spec.classes.size()));
  }
  std::set<std::string> seen;
  for (const auto& c : spec.classes) {
    if (c.empty()) throw ConfigError(at, "'classes' holds an empty name");
    if (!seen.insert(c).second) throw ConfigError(at, "'classes' names " + show_value(c) + " twice");
  }
  spec.metric = r.optional<std::string>("metric", default_metric(spec.kind));
  static const std::set<std::string> classification_metrics = {"mcc", "f1", "accuracy", "auroc"};
  static const std::set<std::string> regression_metrics = {"spearman", "rmse"};
  const auto& allowed = spec.kind == TaskKind::Classification ? classification_metrics : regression_metrics;
  if (!allowed.count(spec.metric)) {
    throw ConfigError(at, "'metric' " + show_value(spec.metric) + " does not fit a " + task_kind_name(spec.kind) +
                              " task (expected one of: " +
                              join(std::vector<std::string>(allowed.begin(), allowed.end()), ", ") + ")");
  }
  spec.folds = r.optional<int>("folds", 0);
  if (spec.folds < 0) throw ConfigError(at, "'folds' must be 0 or more, found " + std::to_string(spec.folds));
  const auto& files = r.raw("files");
  if (!files.is_object()) throw ConfigError(at, std::string("'files': expected an object, found ") + files.type_name());
  for (const auto& [split, file] : files.items()) {
    if (split != "train" && split != "valid" && split != "test") {
      throw ConfigError(at, "'files': unknown split " + show_value(split) + " (expected train, valid or test)");
    }
    if (!file.is_string() || file.get<std::string>().empty()) {
      throw ConfigError(at, "'files." + split + "': expected a file name, found " + file.dump());
    }
    spec.files[split] = file.get<std::string>();
  }
  if (!spec.files.count("train")) throw ConfigError(at, "'files' must name a train split");
  if (r.has("provenance")) {
    spec.provenance = r.raw("provenance");
    if (!spec.provenance.is_object()) {
      throw ConfigError(at, std::string("'provenance': expected an object, found ") + spec.provenance.type_name());
    }
  }
  r.finish();
  return spec;
}

Task load_task(const std::string& dir, const LoadTaskOptions& options) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw InputError(Location{dir, -1, ""}, "task directory does not exist");
  if (!fs::is_directory(dir, ec)) throw InputError(Location{dir, -1, ""}, "expected a task directory, found a file");
  fs::path root(dir);
  if (!looks_like_task(root)) {
    // A folder holding one dataset folder (e.g. a Genomic Benchmarks download) is that dataset.
    std::vector<fs::path> candidates;
    for (const auto& entry : fs::directory_iterator(root))
      if (entry.is_directory() && looks_like_task(entry.path())) candidates.push_back(entry.path());
    if (candidates.size() != 1) {
      std::vector<std::string> names;
      for (const auto& c : candidates) names.push_back(c.filename().string());
      std::sort(names.begin(), names.end());
      throw InputError(Location{dir, -1, ""},
                       "expected a task directory: task.json, a Genomic Benchmarks train/ folder or a "
                       "train.{tsv,csv,fa,fasta,fna}[.gz] file" +
                           (candidates.empty() ? std::string(", found none")
                                               : ", found several dataset folders inside: " + join(names, ", ")));
    }
    root = candidates[0];
  }
  if (fs::is_regular_file(root / "task.json", ec)) return load_spec_dir(root, options);
  return load_detected_dir(root, options);
}

std::vector<TaskExample> read_task_split(const std::string& path, TaskKind kind, std::vector<std::string>& classes,
                                         bool add_classes) {
  RawSplit raw = read_raw_split(path);
  return convert(raw, kind, classes, add_classes);
}

void write_task(Task& task, const std::string& dir) {
  TaskSpec& spec = task.spec;
  STRAND_CHECK(!spec.name.empty(), "write_task: the task has no name");
  require_alphabet(spec.alphabet, "task '" + spec.name + "'");
  STRAND_CHECK(spec.folds >= 0, "write_task: task '", spec.name, "' has a negative fold count (", spec.folds, ")");
  if (spec.metric.empty()) spec.metric = default_metric(spec.kind);
  const bool classification = spec.kind == TaskKind::Classification;
  STRAND_CHECK(!classification || !spec.classes.empty(), "write_task: classification task '", spec.name,
               "' has no classes");
  STRAND_CHECK(classification || spec.classes.empty(), "write_task: regression task '", spec.name, "' lists classes");
  for (const auto& c : spec.classes) {
    STRAND_CHECK(!c.empty(), "write_task: task '", spec.name, "' has an empty class name");
    check_field(c, "class name", "classes", c);
  }
  STRAND_CHECK(!task.train.empty(), "write_task: task '", spec.name, "' has no training examples");

  const std::vector<TaskExample>* splits[] = {&task.train, &task.valid, &task.test};
  bool any_group = false, any_fold = false;
  for (int s = 0; s < 3; ++s) {
    std::set<std::string> ids;
    for (const auto& ex : *splits[s]) {
      const Location where{"", -1, std::string(kSplits[s]) + " example " + show_value(ex.id)};
      STRAND_CHECK_AT(InputError, where, !ex.id.empty(), "empty id");
      STRAND_CHECK_AT(InputError, where, ids.insert(ex.id).second, "duplicate id within the split");
      STRAND_CHECK_AT(InputError, where, !ex.sequence.empty(), "empty sequence");
      check_field(ex.id, "id", kSplits[s], ex.id);
      check_field(ex.sequence, "sequence", kSplits[s], ex.id);
      check_field(ex.group, "group", kSplits[s], ex.id);
      if (classification) {
        STRAND_CHECK_AT(InputError, where, ex.label >= 0 && ex.label < static_cast<int64_t>(spec.classes.size()),
                        "class index ", ex.label, " is outside 0..", spec.classes.size() - 1);
      } else {
        STRAND_CHECK_AT(InputError, where, std::isfinite(ex.value), "regression target is not finite");
      }
      STRAND_CHECK_AT(InputError, where, ex.fold >= -1 && ex.fold < spec.folds, "fold ", ex.fold,
                      " is outside the task's ", spec.folds, " folds");
      any_group = any_group || !ex.group.empty();
      any_fold = any_fold || ex.fold >= 0;
    }
  }
  std::map<std::string, std::string> names;
  for (int s = 0; s < 3; ++s)
    if (!splits[s]->empty()) names[kSplits[s]] = std::string(kSplits[s]) + ".tsv";
  check_task(task, names);

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create the task directory '" + dir + "': " + ec.message());
  // Until the new task.json lands the directory must not look finished.
  remove_file(fs::path(dir) / "task.json");
  spec.files.clear();
  nlohmann::json counts = nlohmann::json::object();
  for (int s = 0; s < 3; ++s) {
    const std::vector<TaskExample>& examples = *splits[s];
    const fs::path path = fs::path(dir) / (std::string(kSplits[s]) + ".tsv");
    if (examples.empty()) {
      remove_file(path);  // a stale file from an earlier write must not pass for this split
      continue;
    }
    std::string text = "id\tsequence\tlabel";
    if (any_group) text += "\tgroup";
    if (any_fold) text += "\tfold";
    text += '\n';
    std::vector<int64_t> class_counts(spec.classes.size(), 0);
    double sum = 0;
    for (const auto& ex : examples) {
      text += ex.id;
      text += '\t';
      text += ex.sequence;
      text += '\t';
      if (classification) {
        text += spec.classes[static_cast<size_t>(ex.label)];
        ++class_counts[static_cast<size_t>(ex.label)];
      } else {
        text += format_number(ex.value);
        sum += ex.value;
      }
      if (any_group) text += '\t' + ex.group;
      if (any_fold) text += '\t' + (ex.fold >= 0 ? std::to_string(ex.fold) : std::string());
      text += '\n';
    }
    io::write_file_atomic(path.string(), text);
    spec.files[kSplits[s]] = path.filename().string();
    const auto n = static_cast<int64_t>(examples.size());
    nlohmann::json c = {{"n", n}};
    if (classification) {
      nlohmann::json per_class = nlohmann::json::object();
      for (size_t k = 0; k < spec.classes.size(); ++k) per_class[spec.classes[k]] = class_counts[k];
      c["classes"] = per_class;
    } else {
      const double mean = sum / static_cast<double>(n);
      double ss = 0;  // second pass: no cancellation from subtracting large sums
      for (const auto& ex : examples) ss += (ex.value - mean) * (ex.value - mean);
      // Sample standard deviation (n - 1); 0 for a single example.
      c["mean"] = mean;
      c["sd"] = n > 1 ? std::sqrt(ss / static_cast<double>(n - 1)) : 0.0;
    }
    counts[kSplits[s]] = c;
  }
  if (!spec.provenance.is_object()) spec.provenance = nlohmann::json::object();
  spec.provenance["counts"] = counts;
  save_json((fs::path(dir) / "task.json").string(), task_spec_to_json(spec));
}

std::vector<TaskExample> read_unlabelled(const std::string& path, const std::string& alphabet) {
  require_alphabet(alphabet, "the alphabet argument");
  require_readable_file(path, "input file");
  std::vector<TaskExample> out;
  if (alphabet == "smiles") {
    TextLines lines = TextLines::open(path, kMaxLineBytes);
    std::string line;
    bool first = true;
    while (lines.next(line)) {
      const std::string text = trim(line);
      if (text.empty() || text[0] == '#') continue;
      size_t e = 0;
      while (e < text.size() && !is_space(text[e])) ++e;
      TaskExample ex;
      ex.sequence = text.substr(0, e);
      ex.id = trim(std::string_view(text).substr(e));
      // A first line "SMILES Name" is a column header ("SMILES" is not a valid SMILES string).
      if (first && lower(ex.sequence) == "smiles") {
        first = false;
        continue;
      }
      first = false;
      if (ex.id.empty()) ex.id = "line" + std::to_string(lines.line_number());
      out.push_back(std::move(ex));
    }
    STRAND_CHECK_AT(ParseError, (Location{path, -1, ""}), !out.empty(),
                    "expected SMILES lines ('SMILES [name]'), found none");
    return out;
  }
  auto reader = bio::io::open_sequences(path);
  bio::io::SequenceRecord rec;
  while (reader->next(rec)) {
    STRAND_CHECK_AT(ParseError, record_location(path, rec.index, rec.name), !rec.seq.empty(),
                    "expected a sequence, found an empty record");
    TaskExample ex;
    ex.id = rec.name;
    ex.sequence = rec.seq;
    upper_in_place(ex.sequence);
    out.push_back(std::move(ex));
  }
  return out;
}

void assign_folds(std::vector<TaskExample>& examples, int k, uint64_t seed) {
  STRAND_CHECK(k >= 1, "assign_folds: expected at least 1 fold, found ", k);
  auto groups = groups_of(examples);
  STRAND_CHECK(groups.size() >= static_cast<size_t>(k), "assign_folds: cannot fill ", k, " folds from ", groups.size(),
               " group(s) (", examples.size(), " examples)");
  Rng rng(seed, kFoldsStream);
  shuffle_in_place(groups, rng);
  // Largest groups first (shuffled order among equal sizes): placing big groups early keeps the
  // folds close in size.
  std::stable_sort(groups.begin(), groups.end(), [](const auto& a, const auto& b) { return a.size() > b.size(); });
  std::vector<size_t> sizes(static_cast<size_t>(k), 0);
  for (const auto& g : groups) {
    const size_t fold = static_cast<size_t>(std::min_element(sizes.begin(), sizes.end()) - sizes.begin());
    sizes[fold] += g.size();
    for (const size_t i : g) examples[i].fold = static_cast<int>(fold);
  }
}

std::vector<TaskExample> split_off_validation(std::vector<TaskExample>& train, double fraction, uint64_t seed) {
  STRAND_CHECK(fraction > 0 && fraction < 1, "split_off_validation: expected a fraction between 0 and 1, found ",
               fraction);
  auto groups = groups_of(train);
  STRAND_CHECK(groups.size() >= 2, "split_off_validation: cannot split a validation set off a training split of ",
               groups.size(), " group(s)");
  Rng rng(seed, kValidStream);
  shuffle_in_place(groups, rng);
  const double n = static_cast<double>(train.size());
  const size_t target = std::max<size_t>(1, static_cast<size_t>(std::llround(fraction * n)));
  std::vector<bool> move(train.size(), false);
  size_t moved = 0, moved_groups = 0;
  for (const auto& g : groups) {
    if (moved >= target) break;
    if (moved_groups + 1 == groups.size()) break;  // keep at least one group for training
    // Take a group when it brings the count closer to the target.
    const auto gap = [&](size_t m) { return m > target ? m - target : target - m; };
    if (gap(moved + g.size()) >= gap(moved)) continue;
    for (const size_t i : g) move[i] = true;
    moved += g.size();
    ++moved_groups;
  }
  if (moved == 0) {
    // Every group overshoots the target by more than it helps: take the smallest one.
    const auto smallest = std::min_element(groups.begin(), groups.end(),
                                           [](const auto& a, const auto& b) { return a.size() < b.size(); });
    for (const size_t i : *smallest) move[i] = true;
  }
  std::vector<TaskExample> kept, valid;
  kept.reserve(train.size());
  for (size_t i = 0; i < train.size(); ++i) (move[i] ? valid : kept).push_back(std::move(train[i]));
  train = std::move(kept);
  return valid;
}

}  // namespace strand::pipelines
