#include "bio/data/dataset.h"

#include <ATen/ops/empty.h>
#include <htslib/faidx.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <numeric>
#include <string_view>
#include <thread>
#include <utility>

#include "bio/io/windows.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/random.h"

namespace strand::bio::data {

const char* access_name(Access access) {
  switch (access) {
    case Access::Auto:
      return "auto";
    case Access::Regions:
      return "regions";
    case Access::Stream:
      return "stream";
  }
  return "?";
}

namespace {

constexpr const char* kStateFormat = "strand.window_dataset";
constexpr int kStateVersion = 1;

uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A uniform number in [0, 1) from a hash, 53 bits like Rng::uniform01.
double unit(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

// Stream ids of the RNGs. Tags keep the families apart: (epoch, pool) for Regions, epoch for Stream.
constexpr uint64_t kRegionsTag = 0x52454749ULL;  // "REGI"
constexpr uint64_t kStreamTag = 0x53545245ULL;   // "STRE"
uint64_t stream_id(uint64_t tag, uint64_t a, uint64_t b = 0) { return mix64(mix64(mix64(tag) ^ a) ^ b); }

[[noreturn]] void config_error(const std::string& message) { throw ConfigError("window dataset: " + message); }

void check_options(const WindowDatasetOptions& o, const tokenize::Tokenizer* tokenizer) {
  if (tokenizer == nullptr) config_error("no tokenizer given");
  if (o.paths.empty()) config_error("no input files given");
  if (o.window <= 0) config_error("window must be positive (got " + std::to_string(o.window) + ")");
  if (o.min_length <= 0) config_error("min_length must be positive (got " + std::to_string(o.min_length) + ")");
  if (o.batch_size <= 0) config_error("batch_size must be positive (got " + std::to_string(o.batch_size) + ")");
  if (o.max_tokens < 0) config_error("max_tokens must not be negative (got " + std::to_string(o.max_tokens) + ")");
  if (o.padding == tokenize::Padding::MaxLength && o.max_tokens == 0)
    config_error("fixed-length padding needs max_tokens > 0");
  if (o.bucket_batches < 0) config_error("bucket_batches must not be negative");
  if (o.windows_per_epoch < 0) config_error("windows_per_epoch must not be negative");
  if (o.shuffle_buffer <= 0) config_error("shuffle_buffer must be positive");
  if (o.epochs < 0) config_error("epochs must not be negative");
  if (o.prefetch < 0) config_error("prefetch must not be negative");
  if (o.threads < 0) config_error("threads must not be negative");
  if (!tokenizer->special_tokens().pad)
    config_error("tokenizer '" + tokenizer->spec() + "' has no pad token, which batching needs");
}

}  // namespace

// Types shared by the corpus, the producer and the validation pass (named, not anonymous: they
// are members of classes declared in the header).
namespace detail {

// A window and, once read, its bases.
struct RawWindow {
  WindowInfo info;
  std::string seq;
  int64_t length() const { return info.end - info.begin; }
};

}  // namespace detail
using detail::RawWindow;

namespace {

// --- Regions: the FASTA index --------------------------------------------------------------------

bool writable_directory_of(const std::string& path) {
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  return ::access(dir.c_str(), W_OK) == 0;
}

enum class Compression { None, Gzip, Bgzf, Other };

Compression compression_of(const std::string& path) {
  hFILE* h = hopen(path.c_str(), "r");
  if (h == nullptr) throw_errno("cannot open", path);
  htsFormat f{};
  const int rc = hts_detect_format(h, &f);
  if (hclose(h) != 0 || rc < 0) throw_errno("cannot read", path);
  switch (f.compression) {
    case no_compression:
      return Compression::None;
    case gzip:
      return Compression::Gzip;
    case bgzf:
      return Compression::Bgzf;
    default:
      return Compression::Other;
  }
}

// Why `path` cannot be read through a FASTA index, or "" when it can (the index then exists).
std::string index_problem(const std::string& path, io::SequenceFormat format) {
  if (format != io::SequenceFormat::Fasta) return std::string("it is ") + io::format_name(format) + ", not FASTA";
  const Compression compression = compression_of(path);
  if (compression == Compression::Gzip) return "it is gzip-compressed (bgzip can be indexed, gzip cannot)";
  if (compression == Compression::Other) return "its compression cannot be indexed";
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool have_fai = fs::is_regular_file(path + ".fai", ec);
  const bool have_gzi = compression != Compression::Bgzf || fs::is_regular_file(path + ".gzi", ec);
  if ((!have_fai || !have_gzi) && !writable_directory_of(path))
    return "it has no index (" + path + ".fai" + (compression == Compression::Bgzf ? " and .gzi" : "") +
           ") and its directory is not writable";
  // Loads the index, building it next to the file when missing (as io::open_regions does).
  faidx_t* fai = fai_load3(path.c_str(), nullptr, nullptr, FAI_CREATE);
  if (fai == nullptr) return "htslib could not load or build its index (damaged file?)";
  fai_destroy(fai);
  return "";
}

// Names and lengths from the .fai text: htslib 1.16's faidx_seq_len returns int, too small for
// sequences of 2^31 bases or more.
void read_fai(const std::string& path, int32_t file, std::vector<RecordInfo>& out) {
  const std::string fai_path = path + ".fai";
  std::ifstream in(fai_path);
  if (!in) throw_errno("cannot open", fai_path);
  std::string line;
  int64_t n = 0;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    char* end = nullptr;
    const long long length = tab == std::string::npos ? -1 : std::strtoll(line.c_str() + tab + 1, &end, 10);
    STRAND_CHECK_AT(ParseError, (Location{fai_path, line_no, ""}),
                    tab != std::string::npos && tab > 0 && length >= 0 && end != line.c_str() + tab + 1,
                    "expected 'name<TAB>length<TAB>...' (a FASTA index line)");
    out.push_back({file, n++, line.substr(0, tab), static_cast<int64_t>(length)});
  }
}

// Streams `path` with the validating reader and checks it against its index entries
// records[first, last). With skip_invalid, records the reader skipped are dropped from `records`.
void verify_index(const std::string& path, const io::ReadOptions& read, std::vector<RecordInfo>& records,
                  size_t first) {
  auto reader = io::open_sequences(path, read);
  io::SequenceRecord r;
  size_t keep = first;
  size_t next = first;
  while (reader->next(r)) {
    // A record the reader skipped (skip_invalid) is in the index but never returned.
    while (next < records.size() && records[next].name != r.name && read.skip_invalid) ++next;
    const Location where{path, -1, "record '" + r.name + "'"};
    STRAND_CHECK_AT(ParseError, where, next < records.size(),
                    "not in the FASTA index " + path + ".fai (stale index? delete it to rebuild)");
    STRAND_CHECK_AT(ParseError, where,
                    records[next].name == r.name && records[next].length == static_cast<int64_t>(r.seq.size()),
                    "the FASTA index " + path + ".fai says '" + records[next].name + "' of " +
                        std::to_string(records[next].length) + " bases, the file has '" + r.name + "' of " +
                        std::to_string(r.seq.size()) + " (stale index? delete it to rebuild)");
    if (keep != next) records[keep] = std::move(records[next]);
    ++keep;
    ++next;
  }
  STRAND_CHECK_AT(ParseError, (Location{path, -1, ""}), read.skip_invalid || next == records.size(),
                  "the FASTA index " + path + ".fai lists " + std::to_string(records.size() - first) +
                      " records, the file has " + std::to_string(next - first) +
                      " (stale index? delete it to rebuild)");
  if (reader->summary().total_skipped() > 0)
    STRAND_LOG_WARN(path, ": skipped ", reader->summary().total_skipped(), " invalid records");
  records.resize(keep);
}

std::string region_string(const std::string& name, int64_t begin, int64_t end) {
  // Braces keep a name containing ':' from being read as name:range (htslib region syntax).
  const std::string n = name.find(':') == std::string::npos ? name : "{" + name + "}";
  return n + ":" + std::to_string(begin + 1) + "-" + std::to_string(end);
}

}  // namespace

// --- Split -------------------------------------------------------------------------------------

void split_record(const SplitOptions& split, const std::string& name, int64_t length, int64_t record,
                  std::vector<Segment>& train, std::vector<Segment>& validation) {
  const double f = split.validation_fraction;
  if (!(f >= 0.0 && f < 1.0)) config_error("validation_fraction must lie in [0, 1) (got " + std::to_string(f) + ")");
  if (split.block < 0) config_error("split block must not be negative");
  if (length <= 0) return;
  if (f == 0.0) {
    train.push_back({record, 0, length});
    return;
  }
  const uint64_t name_hash = mix64(split.seed ^ fnv1a(name));
  if (split.by == SplitBy::Record) {
    (unit(name_hash) < f ? validation : train).push_back({record, 0, length});
    return;
  }
  if (split.block == 0) {
    const auto held = static_cast<int64_t>(std::floor(f * static_cast<double>(length)));
    if (length - held > 0) train.push_back({record, 0, length - held});
    if (held > 0) validation.push_back({record, length - held, length});
    return;
  }
  for (int64_t b = 0; b < length; b += split.block) {
    const int64_t e = std::min(length, b + split.block);
    auto& side = unit(mix64(name_hash ^ static_cast<uint64_t>(b / split.block))) < f ? validation : train;
    if (!side.empty() && side.back().record == record && side.back().end == b)
      side.back().end = e;
    else
      side.push_back({record, b, e});
  }
}

// --- Corpus ------------------------------------------------------------------------------------

struct Corpus {
  WindowDatasetOptions options;
  std::shared_ptr<const tokenize::Tokenizer> tokenizer;
  Access access = Access::Stream;
  // Regions only.
  std::vector<RecordInfo> records;
  std::vector<Segment> train;  // segments of at least min_length bases
  std::vector<Segment> validation;
  std::vector<uint64_t> cumulative;  // cumulative sampling weights of `train`
  int64_t windows_per_epoch = 0;
  int64_t batches_per_epoch = -1;
  int64_t train_bases = 0;
  nlohmann::json config;

  int64_t pool_batches() const { return std::max<int64_t>(1, options.bucket_batches); }
  int64_t batch_rows(int64_t k) const {
    return std::min(options.batch_size, windows_per_epoch - k * options.batch_size);
  }

  Corpus(WindowDatasetOptions o, std::shared_ptr<const tokenize::Tokenizer> t)
      : options(std::move(o)), tokenizer(std::move(t)) {
    check_options(options, tokenizer.get());
    SplitOptions probe = options.split;  // validates the split settings once, up front
    std::vector<Segment> a, b;
    split_record(probe, "", 0, 0, a, b);

    // Every file must open and be a sequence format, whatever the access mode.
    std::vector<std::string> problems;
    for (const auto& path : options.paths) {
      const io::SequenceFormat format = io::detect_format(path);
      if (options.access != Access::Stream) {
        const std::string why = index_problem(path, format);
        if (!why.empty()) problems.push_back(path + ": " + why);
      }
    }
    if (options.access == Access::Regions && !problems.empty())
      throw InputError("window dataset: random access through a FASTA index is not possible: " + problems.front());
    access = options.access == Access::Stream || !problems.empty() ? Access::Stream : Access::Regions;
    if (options.access == Access::Auto && !problems.empty())
      STRAND_LOG_DEBUG("window dataset: streaming (", problems.front(), ")");

    if (access == Access::Regions) build_index();
    config = make_config();
  }

  void build_index() {
    for (size_t f = 0; f < options.paths.size(); ++f) {
      const size_t first = records.size();
      read_fai(options.paths[f], static_cast<int32_t>(f), records);
      if (options.verify_index) verify_index(options.paths[f], options.read, records, first);
    }
    for (size_t i = 0; i < records.size(); ++i)
      split_record(options.split, records[i].name, records[i].length, static_cast<int64_t>(i), train, validation);
    train.erase(std::remove_if(train.begin(), train.end(),
                               [&](const Segment& s) { return s.end - s.begin < options.min_length; }),
                train.end());
    uint64_t total = 0;
    int64_t tiles = 0;
    for (const Segment& s : train) {
      const int64_t len = s.end - s.begin;
      total += static_cast<uint64_t>(std::max(len, options.window));
      cumulative.push_back(total);
      tiles += (len + options.window - 1) / options.window;
      train_bases += len;
    }
    if (train.empty())
      throw InputError(
          "window dataset: no training windows: every record is held out for validation or shorter "
          "than min_length (" +
          std::to_string(options.min_length) + ")");
    windows_per_epoch = options.windows_per_epoch > 0 ? options.windows_per_epoch : tiles;
    const int64_t B = options.batch_size;
    batches_per_epoch = options.drop_last ? windows_per_epoch / B : (windows_per_epoch + B - 1) / B;
    if (batches_per_epoch == 0)
      throw InputError("window dataset: an epoch of " + std::to_string(windows_per_epoch) +
                       " windows holds no full batch of " + std::to_string(B) + " (drop_last)");
  }

  nlohmann::json make_config() const {
    const auto& o = options;
    nlohmann::json c = {
        {"seed", o.seed},
        {"access", access_name(access)},
        {"files", o.paths},
        {"window", o.window},
        {"min_length", o.min_length},
        {"batch_size", o.batch_size},
        {"drop_last", o.drop_last},
        {"bucket_batches", o.bucket_batches},
        {"tokenizer", tokenizer->spec()},
        {"add_special_tokens", o.add_special_tokens},
        {"padding", o.padding == tokenize::Padding::Longest ? "longest" : "max_length"},
        {"max_tokens", o.max_tokens},
        {"split",
         {{"validation_fraction", o.split.validation_fraction},
          {"by", o.split.by == SplitBy::Record ? "record" : "region"},
          {"block", o.split.block},
          {"seed", o.split.seed}}},
    };
    if (access == Access::Regions) {
      c["records"] = records.size();
      c["train_bases"] = train_bases;
      c["windows_per_epoch"] = windows_per_epoch;
    } else {
      c["shuffle_buffer"] = o.shuffle_buffer;
    }
    return c;
  }

  // A training window drawn from the weighted segments.
  RawWindow draw(Rng& rng) const {
    const uint64_t r = rng.uniform(cumulative.back());
    const size_t i =
        static_cast<size_t>(std::upper_bound(cumulative.begin(), cumulative.end(), r) - cumulative.begin());
    const Segment& s = train[i];
    const RecordInfo& rec = records[static_cast<size_t>(s.record)];
    const int64_t len = s.end - s.begin;
    RawWindow w;
    w.info.file = rec.file;
    w.info.record = rec.index;
    w.info.name = rec.name;
    w.info.begin = s.begin;
    w.info.end = s.end;
    if (len > options.window) {
      w.info.begin = s.begin + static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(len - options.window + 1)));
      w.info.end = w.info.begin + options.window;
    }
    return w;
  }

  // Reads the bases of windows (Regions): one region reader per file.
  void fetch(std::vector<RawWindow>& windows) const {
    for (size_t f = 0; f < options.paths.size(); ++f) {
      std::vector<std::string> regions;
      std::vector<size_t> rows;
      for (size_t i = 0; i < windows.size(); ++i) {
        if (windows[i].info.file != static_cast<int32_t>(f)) continue;
        regions.push_back(region_string(windows[i].info.name, windows[i].info.begin, windows[i].info.end));
        rows.push_back(i);
      }
      if (regions.empty()) continue;
      auto reader = io::open_regions(options.paths[f], regions, options.read);
      io::SequenceRecord r;
      for (size_t j = 0; j < rows.size(); ++j) {
        RawWindow& w = windows[rows[j]];
        const bool got = reader->next(r);
        STRAND_CHECK_AT(ParseError, (Location{options.paths[f], -1, "region '" + regions[j] + "'"}),
                        got && static_cast<int64_t>(r.seq.size()) == w.length(), "expected ", w.length(),
                        " bases through the FASTA index, got ",
                        got ? std::to_string(r.seq.size()) : std::string("none"),
                        " (stale index? delete it to rebuild)");
        w.seq = std::move(r.seq);
        r.seq = std::string();
      }
    }
  }

  Batch tokenize(std::vector<RawWindow>& windows, int64_t epoch, int64_t index) const {
    tokenize::BatchOptions bo;
    bo.add_special_tokens = options.add_special_tokens;
    bo.offsets = true;
    bo.padding = options.padding;
    bo.max_length = options.max_tokens;
    bo.truncation = true;
    bo.threads = options.threads;
    std::vector<std::string_view> texts;
    texts.reserve(windows.size());
    for (const RawWindow& w : windows) texts.emplace_back(w.seq);
    const tokenize::BatchEncoding enc = tokenizer->encode_batch(texts, bo);

    Batch batch;
    batch.epoch = epoch;
    batch.index = index;
    const int64_t B = enc.batch_size, L = enc.length;
    batch.ids = at::empty({B, L}, at::TensorOptions().dtype(at::kLong));
    batch.attention_mask = at::empty({B, L}, at::TensorOptions().dtype(at::kBool));
    int64_t* ids = batch.ids.data_ptr<int64_t>();
    bool* mask = batch.attention_mask.data_ptr<bool>();
    for (int64_t i = 0; i < B * L; ++i) {
      ids[i] = enc.ids[static_cast<size_t>(i)];
      mask[i] = enc.attention_mask[static_cast<size_t>(i)] != 0;
    }
    // Bases covered by real (non-special, non-padding) tokens: a union of spans, since k-mer
    // tokens overlap and truncation may cut a row.
    std::vector<uint8_t> covered;
    batch.tokens.assign(static_cast<size_t>(B), 0);
    batch.bases.assign(static_cast<size_t>(B), 0);
    for (int64_t b = 0; b < B; ++b) {
      covered.assign(windows[static_cast<size_t>(b)].seq.size(), 0);
      for (int64_t t = 0; t < L; ++t) {
        const size_t at = static_cast<size_t>(b * L + t);
        if (enc.attention_mask[at] == 0 || tokenizer->is_special(enc.ids[at])) continue;
        ++batch.tokens[static_cast<size_t>(b)];
        const tokenize::Offset& span = enc.offsets[at];
        if (span.begin < 0) continue;
        std::fill(covered.begin() + span.begin, covered.begin() + span.end, uint8_t{1});
      }
      batch.bases[static_cast<size_t>(b)] = std::count(covered.begin(), covered.end(), uint8_t{1});
      batch.real_tokens += batch.tokens[static_cast<size_t>(b)];
      batch.real_bases += batch.bases[static_cast<size_t>(b)];
    }
    batch.windows.reserve(windows.size());
    for (RawWindow& w : windows) batch.windows.push_back(std::move(w.info));
    return batch;
  }
};

namespace {

// Sorts the windows of a pool by length, cuts them into batches of the given sizes and shuffles
// the batches (length bucketing); without bucketing, cuts them in order.
std::vector<std::vector<RawWindow>> cut_pool(std::vector<RawWindow> pool, const std::vector<int64_t>& sizes,
                                             bool bucket, Rng& rng) {
  if (bucket)
    std::stable_sort(pool.begin(), pool.end(),
                     [](const RawWindow& a, const RawWindow& b) { return a.length() < b.length(); });
  std::vector<std::vector<RawWindow>> batches;
  size_t at = 0;
  for (const int64_t n : sizes) {
    batches.emplace_back(
        std::make_move_iterator(pool.begin() + static_cast<std::ptrdiff_t>(at)),
        std::make_move_iterator(pool.begin() + static_cast<std::ptrdiff_t>(at + static_cast<size_t>(n))));
    at += static_cast<size_t>(n);
  }
  if (bucket)
    for (size_t i = batches.size(); i > 1; --i) std::swap(batches[i - 1], batches[rng.uniform(i)]);
  return batches;
}

}  // namespace

namespace detail {

// One epoch of Stream mode: files read in a shuffled order, records tiled from a random phase,
// windows passed through the shuffle buffer.
class StreamEpoch {
 public:
  StreamEpoch(const Corpus& corpus, int64_t epoch)
      : c_(corpus), epoch_(epoch), rng_(corpus.options.seed, stream_id(kStreamTag, static_cast<uint64_t>(epoch))) {
    order_.resize(c_.options.paths.size());
    std::iota(order_.begin(), order_.end(), 0);
    for (size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng_.uniform(i)]);
    buffer_.reserve(static_cast<size_t>(std::min<int64_t>(c_.options.shuffle_buffer, 1 << 16)));
  }

  Rng& rng() { return rng_; }

  bool next(RawWindow& out) {
    const auto capacity = static_cast<size_t>(c_.options.shuffle_buffer);
    while (buffer_.size() < capacity && refill()) {
    }
    if (buffer_.empty()) return false;
    const size_t i = rng_.uniform(buffer_.size());
    out = std::move(buffer_[i]);
    if (i + 1 != buffer_.size()) buffer_[i] = std::move(buffer_.back());
    buffer_.pop_back();
    return true;
  }

 private:
  // Moves one pending window into the buffer, reading records as needed; false at the end.
  bool refill() {
    while (pending_pos_ == pending_.size()) {
      if (!read_record()) return false;
    }
    const io::Window& w = pending_[pending_pos_++];
    RawWindow raw;
    raw.info.file = file_;
    raw.info.record = record_.index - 1;
    raw.info.name = record_.name;
    raw.info.begin = w.begin;
    raw.info.end = w.end;
    raw.seq.assign(record_.seq, static_cast<size_t>(w.begin), static_cast<size_t>(w.end - w.begin));
    buffer_.push_back(std::move(raw));
    return true;
  }

  bool read_record() {
    for (;;) {
      if (reader_ == nullptr) {
        if (next_file_ == order_.size()) return false;
        file_ = static_cast<int32_t>(order_[next_file_++]);
        reader_ = io::open_sequences(c_.options.paths[static_cast<size_t>(file_)], c_.options.read);
      }
      if (reader_->next(record_)) break;
      // Reported once, in the first epoch; later epochs skip the same records.
      if (reader_->summary().total_skipped() > 0 && epoch_ == 0)
        STRAND_LOG_WARN(reader_->path(), ": skipped ", reader_->summary().total_skipped(), " invalid records");
      reader_.reset();
    }
    train_.clear();
    validation_.clear();
    pending_.clear();
    pending_pos_ = 0;
    const auto length = static_cast<int64_t>(record_.seq.size());
    split_record(c_.options.split, record_.name, length, record_.index - 1, train_, validation_);
    const int64_t W = c_.options.window;
    for (const Segment& s : train_) {
      const int64_t len = s.end - s.begin;
      if (len < c_.options.min_length) continue;
      if (len <= W) {
        pending_.push_back({s.begin, s.end});
        continue;
      }
      const auto phase = static_cast<int64_t>(rng_.uniform(static_cast<uint64_t>(std::min(W, len - W + 1))));
      for (int64_t b = s.begin + phase; b + W <= s.end; b += W) pending_.push_back({b, b + W});
    }
    return true;
  }

  const Corpus& c_;
  int64_t epoch_;
  Rng rng_;
  std::vector<size_t> order_;
  size_t next_file_ = 0;
  int32_t file_ = 0;
  std::unique_ptr<io::SequenceReader> reader_;
  io::SequenceRecord record_;
  std::vector<Segment> train_, validation_;
  std::vector<io::Window> pending_;
  size_t pending_pos_ = 0;
  std::vector<RawWindow> buffer_;
};

}  // namespace detail
using detail::StreamEpoch;

// --- Producer ------------------------------------------------------------------------------------

// Builds training batches in order from a position (epoch, batch). Used by one thread at a time.
class Producer {
 public:
  explicit Producer(std::shared_ptr<const Corpus> corpus) : c_(std::move(corpus)) {}

  void seek(int64_t epoch, int64_t batch) {
    epoch_ = epoch;
    batch_ = batch;
    pool_.clear();
    pool_epoch_ = -1;
  }

  bool produce(Batch& out) {
    for (;;) {
      if (c_->options.epochs > 0 && epoch_ >= c_->options.epochs) return false;
      if (ensure_pool()) break;
      if (batch_ == 0)
        throw InputError("window dataset: no training windows in " + std::to_string(c_->options.paths.size()) +
                         " file(s): every record is held out for validation, shorter than min_length (" +
                         std::to_string(c_->options.min_length) + ") or filtered out");
      ++epoch_;
      batch_ = 0;
    }
    std::vector<RawWindow> windows = std::move(pool_[static_cast<size_t>(batch_ - pool_first_)]);
    if (c_->access == Access::Regions) c_->fetch(windows);
    out = c_->tokenize(windows, epoch_, batch_);
    ++batch_;
    return true;
  }

 private:
  // Makes the pool holding batch (epoch_, batch_) current; false when the epoch has no such batch.
  bool ensure_pool() {
    const int64_t P = c_->pool_batches();
    const int64_t p = batch_ / P;
    if (pool_epoch_ == epoch_ && pool_index_ == p) return batch_ - pool_first_ < static_cast<int64_t>(pool_.size());
    return c_->access == Access::Regions ? regions_pool(p) : stream_pool(p);
  }

  bool regions_pool(int64_t p) {
    const int64_t P = c_->pool_batches();
    if (batch_ >= c_->batches_per_epoch) return false;
    Rng rng(c_->options.seed, stream_id(kRegionsTag, static_cast<uint64_t>(epoch_), static_cast<uint64_t>(p)));
    std::vector<int64_t> sizes;
    for (int64_t k = p * P; k < std::min((p + 1) * P, c_->batches_per_epoch); ++k) sizes.push_back(c_->batch_rows(k));
    std::vector<RawWindow> pool;
    for (const int64_t n : sizes)
      for (int64_t i = 0; i < n; ++i) pool.push_back(c_->draw(rng));
    pool_ = cut_pool(std::move(pool), sizes, P > 1, rng);
    set_pool(p);
    return true;
  }

  bool stream_pool(int64_t p) {
    if (stream_ == nullptr || stream_epoch_ != epoch_ || stream_next_pool_ > p) {
      stream_ = std::make_unique<StreamEpoch>(*c_, epoch_);
      stream_epoch_ = epoch_;
      stream_next_pool_ = 0;
    }
    // Restoring mid-epoch: replay the pools before p without tokenizing them.
    while (stream_next_pool_ < p) {
      if (!pull_stream_pool()) return false;
    }
    const bool any = pull_stream_pool();
    set_pool(p);
    return any && batch_ - pool_first_ < static_cast<int64_t>(pool_.size());
  }

  // Pulls the next pool of windows from the stream into pool_; false when it is empty.
  bool pull_stream_pool() {
    const int64_t P = c_->pool_batches(), B = c_->options.batch_size;
    std::vector<RawWindow> pool;
    RawWindow w;
    while (static_cast<int64_t>(pool.size()) < P * B && stream_->next(w)) pool.push_back(std::move(w));
    auto m = static_cast<int64_t>(pool.size());
    if (c_->options.drop_last) m -= m % B;
    pool.resize(static_cast<size_t>(m));
    std::vector<int64_t> sizes;
    for (int64_t at = 0; at < m; at += B) sizes.push_back(std::min(B, m - at));
    pool_ = cut_pool(std::move(pool), sizes, P > 1, stream_->rng());
    ++stream_next_pool_;
    return !pool_.empty();
  }

  void set_pool(int64_t p) {
    pool_epoch_ = epoch_;
    pool_index_ = p;
    pool_first_ = p * c_->pool_batches();
  }

  std::shared_ptr<const Corpus> c_;
  int64_t epoch_ = 0;
  int64_t batch_ = 0;
  std::vector<std::vector<RawWindow>> pool_;
  int64_t pool_epoch_ = -1;
  int64_t pool_index_ = -1;
  int64_t pool_first_ = 0;
  std::unique_ptr<StreamEpoch> stream_;
  int64_t stream_epoch_ = -1;
  int64_t stream_next_pool_ = 0;
};

// --- Prefetch thread -------------------------------------------------------------------------------

struct WindowDataset::Prefetcher {
  struct Item {
    Batch batch;
    bool end = false;
    std::exception_ptr error;
  };
  std::mutex mutex;
  std::condition_variable not_full;
  std::condition_variable not_empty;
  std::deque<Item> queue;
  size_t capacity = 0;
  bool stop = false;
  std::thread thread;

  void run(Producer& producer) {
    for (;;) {
      Item item;
      try {
        item.end = !producer.produce(item.batch);
      } catch (...) {
        item.error = std::current_exception();
      }
      const bool last = item.end || item.error != nullptr;
      std::unique_lock<std::mutex> lock(mutex);
      not_full.wait(lock, [&] { return stop || queue.size() < capacity; });
      if (stop) return;
      queue.push_back(std::move(item));
      not_empty.notify_one();
      if (last) return;
    }
  }
};

// --- WindowDataset ---------------------------------------------------------------------------------

WindowDataset::WindowDataset(WindowDatasetOptions options, std::shared_ptr<const tokenize::Tokenizer> tokenizer)
    : corpus_(std::make_shared<const Corpus>(std::move(options), std::move(tokenizer))),
      producer_(std::make_unique<Producer>(corpus_)) {}

WindowDataset::~WindowDataset() { stop_thread(); }

void WindowDataset::start_thread() {
  prefetcher_ = std::make_unique<Prefetcher>();
  prefetcher_->capacity = static_cast<size_t>(corpus_->options.prefetch);
  Prefetcher* prefetcher = prefetcher_.get();
  Producer* producer = producer_.get();
  prefetcher->thread = std::thread([prefetcher, producer] { prefetcher->run(*producer); });
}

void WindowDataset::stop_thread() {
  if (prefetcher_ == nullptr) return;
  {
    std::lock_guard<std::mutex> lock(prefetcher_->mutex);
    prefetcher_->stop = true;
  }
  prefetcher_->not_full.notify_all();
  if (prefetcher_->thread.joinable()) prefetcher_->thread.join();
  prefetcher_.reset();
}

bool WindowDataset::next(Batch& batch) {
  if (error_ != nullptr) std::rethrow_exception(error_);
  if (finished_) return false;
  Batch got;
  if (corpus_->options.prefetch == 0) {
    try {
      if (!producer_->produce(got)) {
        finished_ = true;
        return false;
      }
    } catch (...) {
      error_ = std::current_exception();
      throw;
    }
  } else {
    if (prefetcher_ == nullptr) start_thread();
    Prefetcher::Item item;
    {
      std::unique_lock<std::mutex> lock(prefetcher_->mutex);
      prefetcher_->not_empty.wait(lock, [&] { return !prefetcher_->queue.empty(); });
      item = std::move(prefetcher_->queue.front());
      prefetcher_->queue.pop_front();
    }
    prefetcher_->not_full.notify_one();
    if (item.error != nullptr) {
      error_ = item.error;
      std::rethrow_exception(error_);
    }
    if (item.end) {
      finished_ = true;
      return false;
    }
    got = std::move(item.batch);
  }
  epoch_ = got.epoch;
  batch_ = got.index + 1;
  ++step_;
  batch = std::move(got);
  return true;
}

nlohmann::json WindowDataset::state() const {
  return {{"format", kStateFormat}, {"version", kStateVersion}, {"epoch", epoch_}, {"batch", batch_},
          {"step", step_},          {"config", corpus_->config}};
}

void WindowDataset::restore(const nlohmann::json& state) {
  const auto bad = [](const std::string& why) { throw ConfigError("window dataset state: " + why); };
  if (!state.is_object() || state.value("format", "") != kStateFormat)
    bad(std::string("not a window dataset state (expected \"format\": \"") + kStateFormat + "\")");
  if (!state.contains("version") || state["version"] != kStateVersion)
    bad("unsupported version " + (state.contains("version") ? state["version"].dump() : std::string("(missing)")) +
        " (this build reads version " + std::to_string(kStateVersion) + ")");
  for (const char* key : {"epoch", "batch", "step"})
    if (!state.contains(key) || !state[key].is_number_integer() || state[key].get<int64_t>() < 0)
      bad(std::string("\"") + key + "\" must be a non-negative integer");
  if (!state.contains("config") || !state["config"].is_object()) bad("\"config\" is missing");
  const nlohmann::json& saved = state["config"];
  for (const auto& [key, value] : corpus_->config.items()) {
    if (!saved.contains(key)) bad("was saved without \"" + key + "\"; this dataset has " + value.dump());
    if (saved[key] != value)
      bad("was saved with " + key + " = " + saved[key].dump() + ", this dataset has " + value.dump() +
          " (resume needs the same inputs and settings)");
  }
  for (const auto& [key, value] : saved.items())
    if (!corpus_->config.contains(key)) bad("was saved with \"" + key + "\" = " + value.dump() + ", unknown here");

  stop_thread();
  epoch_ = state["epoch"].get<int64_t>();
  batch_ = state["batch"].get<int64_t>();
  step_ = state["step"].get<int64_t>();
  producer_->seek(epoch_, batch_);
  finished_ = false;
  error_ = nullptr;
}

Access WindowDataset::access() const noexcept { return corpus_->access; }
const std::vector<RecordInfo>& WindowDataset::records() const noexcept { return corpus_->records; }
const std::vector<Segment>& WindowDataset::train_segments() const noexcept { return corpus_->train; }
const std::vector<Segment>& WindowDataset::validation_segments() const noexcept { return corpus_->validation; }
int64_t WindowDataset::batches_per_epoch() const noexcept { return corpus_->batches_per_epoch; }

int64_t WindowDataset::prefetched() const {
  if (prefetcher_ == nullptr) return 0;
  std::lock_guard<std::mutex> lock(prefetcher_->mutex);
  int64_t n = 0;
  for (const auto& item : prefetcher_->queue) n += item.error == nullptr && !item.end ? 1 : 0;
  return n;
}

// --- Validation ------------------------------------------------------------------------------------

struct ValidationPass::Impl {
  std::shared_ptr<const Corpus> c;
  int64_t max_windows = 0;
  int64_t delivered = 0;
  int64_t batches = 0;
  // The windows of the current segment (Regions) or record (Stream), and the next one to return.
  std::vector<io::Window> tiles;
  size_t tile = 0;
  int64_t record = -1;  // Regions: records index; Stream: unused
  size_t segment = 0;   // Regions: next validation segment
  // Stream.
  size_t file = 0;
  std::unique_ptr<io::SequenceReader> reader;
  io::SequenceRecord current;
  std::vector<Segment> train, validation;

  // Tiles one segment into `tiles` (absolute coordinates).
  void tile_segment(const Segment& s) {
    io::WindowOptions wo;
    wo.window = c->options.window;
    wo.stride = c->options.window;
    wo.keep_last = true;
    for (const io::Window& w : io::make_windows(s.end - s.begin, wo))
      if (w.end - w.begin >= c->options.min_length) tiles.push_back({s.begin + w.begin, s.begin + w.end});
  }

  bool next_window(RawWindow& out) {
    while (tile == tiles.size()) {
      tiles.clear();
      tile = 0;
      if (c->access == Access::Regions) {
        if (segment == c->validation.size()) return false;
        const Segment& s = c->validation[segment++];
        record = s.record;
        tile_segment(s);
      } else if (!next_record()) {
        return false;
      }
    }
    const io::Window& w = tiles[tile++];
    out.info.begin = w.begin;
    out.info.end = w.end;
    if (c->access == Access::Regions) {
      const RecordInfo& r = c->records[static_cast<size_t>(record)];
      out.info.file = r.file;
      out.info.record = r.index;
      out.info.name = r.name;
      out.seq.clear();
    } else {
      out.info.file = static_cast<int32_t>(file);
      out.info.record = current.index - 1;
      out.info.name = current.name;
      out.seq.assign(current.seq, static_cast<size_t>(w.begin), static_cast<size_t>(w.end - w.begin));
    }
    return true;
  }

  // Stream: reads records in file order until one has validation windows.
  bool next_record() {
    for (;;) {
      if (reader == nullptr) {
        if (file == c->options.paths.size()) return false;
        reader = io::open_sequences(c->options.paths[file], c->options.read);
      }
      if (!reader->next(current)) {
        reader.reset();
        ++file;
        continue;
      }
      train.clear();
      validation.clear();
      split_record(c->options.split, current.name, static_cast<int64_t>(current.seq.size()), current.index - 1, train,
                   validation);
      for (const Segment& s : validation) tile_segment(s);
      if (!tiles.empty()) return true;
    }
  }
};

ValidationPass::ValidationPass(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ValidationPass::~ValidationPass() = default;
ValidationPass::ValidationPass(ValidationPass&&) noexcept = default;
ValidationPass& ValidationPass::operator=(ValidationPass&&) noexcept = default;

int64_t ValidationPass::windows() const noexcept { return impl_->delivered; }

bool ValidationPass::next(Batch& batch) {
  Impl& v = *impl_;
  std::vector<RawWindow> windows;
  RawWindow w;
  while (static_cast<int64_t>(windows.size()) < v.c->options.batch_size &&
         (v.max_windows == 0 || v.delivered + static_cast<int64_t>(windows.size()) < v.max_windows) && v.next_window(w))
    windows.push_back(std::move(w));
  if (windows.empty()) return false;
  if (v.c->access == Access::Regions) v.c->fetch(windows);
  v.delivered += static_cast<int64_t>(windows.size());
  batch = v.c->tokenize(windows, -1, v.batches++);
  return true;
}

ValidationPass WindowDataset::validation(int64_t max_windows) const {
  STRAND_CHECK(max_windows >= 0, "validation: max_windows must not be negative (got ", max_windows, ")");
  auto impl = std::make_unique<ValidationPass::Impl>();
  impl->c = corpus_;
  impl->max_windows = max_windows;
  return ValidationPass(std::move(impl));
}

}  // namespace strand::bio::data
