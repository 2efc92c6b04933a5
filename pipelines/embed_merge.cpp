#include "pipelines/embed_merge.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <queue>
#include <utility>

#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "pipelines/embed_writer.h"

namespace strand::pipelines {

namespace fs = std::filesystem;

void parse_shard(const std::string& text, const std::string& file, int& shard, int& num_shards) {
  const auto slash = text.find('/');
  const auto digits = [](const std::string& s) {
    return !s.empty() && s.size() <= 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  const std::string a = slash == std::string::npos ? "" : text.substr(0, slash);
  const std::string b = slash == std::string::npos ? "" : text.substr(slash + 1);
  STRAND_CHECK(digits(a) && digits(b), file, ": attribute shard is '", text, "', not i/n");
  shard = std::stoi(a);
  num_shards = std::stoi(b);
  STRAND_CHECK(num_shards >= 1 && shard < num_shards, file, ": attribute shard is '", text,
               "', not i/n with 0 <= i < n");
}

namespace {

// Attributes that must be equal in every shard of one run (besides dim, dtype and store_tokens).
constexpr const char* kMustMatch[] = {"model",  "layer",   "pooling",      "tokenizer", "window",  "stride",
                                      "inputs", "regions", "read_filters", "records",   "version", "git_hash"};

std::string attribute_or_absent(const EmbeddingFileInfo& info, const std::string& key) {
  const auto it = info.attributes.find(key);
  return it == info.attributes.end() ? std::string("(absent)") : "'" + it->second + "'";
}

// One shard file, read sequentially in blocks.
struct Shard {
  std::string path;
  int index = 0;
  EmbeddingReader reader;
  int64_t rows = 0;
  int64_t tokens = 0;
  // The block of rows [block_begin, block_begin + block_rows) in memory.
  EmbeddingRows block;
  int64_t block_begin = 0;
  int64_t block_rows = 0;
  int64_t next = 0;          // next row to copy
  int64_t last_record = -1;  // record_index of the last row checked
  int64_t next_token = 0;    // token row where the next row's tokens must start
  // The token rows [token_begin, token_begin + token_rows) in memory.
  at::Tensor token_block;
  int64_t token_begin = 0;
  int64_t token_rows = 0;
};

class Merger {
 public:
  Merger(std::vector<std::unique_ptr<Shard>>& shards, int64_t records, const EmbeddingFileInfo& info,
         int64_t buffer_bytes)
      : shards_(shards), records_(records), info_(info) {
    row_bytes_ = static_cast<size_t>(info.dim) * (info.dtype == EmbeddingDtype::Float16 ? 2 : 4);
    const auto rows_for = [&](int64_t bytes) {
      return std::max<int64_t>(1, bytes / static_cast<int64_t>(row_bytes_));
    };
    out_rows_ = rows_for(buffer_bytes / 4);
    out_tokens_ = rows_for(buffer_bytes / 4);
    shard_rows_ = rows_for(buffer_bytes / 4 / static_cast<int64_t>(shards.size()));
    shard_tokens_ = rows_for(buffer_bytes / 4 / static_cast<int64_t>(shards.size()));
    dtype_ = info.dtype == EmbeddingDtype::Float16 ? at::kHalf : at::kFloat;
  }

  // Copies every row into `writer` in record order.
  void run(EmbeddingWriter& writer, Progress& progress) {
    using Entry = std::pair<int64_t, size_t>;  // (next record, shard)
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    for (size_t s = 0; s < shards_.size(); ++s)
      if (shards_[s]->rows > 0) heap.emplace(record_at(*shards_[s]), s);
    while (!heap.empty()) {
      const auto [record, s] = heap.top();
      heap.pop();
      Shard& shard = *shards_[s];
      // All rows (windows) of this record, which the shard holds consecutively.
      while (shard.next < shard.rows && record_at(shard) == record) {
        copy_row(shard);
        if (out_names_.size() >= static_cast<size_t>(out_rows_) || out_token_count_ >= out_tokens_)
          flush(writer, progress);
      }
      if (shard.next < shard.rows) heap.emplace(record_at(shard), s);
    }
    flush(writer, progress);
    for (const auto& shard : shards_)
      STRAND_CHECK_AT(ParseError, (Location{shard->path, -1, ""}), shard->next_token == shard->tokens,
                      "token_offsets end at token row ", shard->next_token, " but the file holds ", shard->tokens,
                      " (damaged file)");
  }

  int64_t rows_written() const { return rows_written_; }
  int64_t tokens_written() const { return tokens_written_; }

 private:
  // The record of the shard's next row, loading (and checking) the next block when needed.
  int64_t record_at(Shard& s) {
    if (s.next >= s.block_begin + s.block_rows) load_rows(s);
    return s.block.record_index[static_cast<size_t>(s.next - s.block_begin)];
  }

  void load_rows(Shard& s) {
    const int64_t count = std::min(shard_rows_, s.rows - s.next);
    s.block = s.reader.read_rows(s.next, count);
    s.block_begin = s.next;
    s.block_rows = count;
    const auto n = static_cast<int64_t>(shards_.size());
    for (int64_t i = 0; i < count; ++i) {
      const int64_t r = s.block.record_index[static_cast<size_t>(i)];
      const Location where{s.path, -1, "row " + std::to_string(s.next + i + 1)};
      STRAND_CHECK_AT(ParseError, where, r >= 0 && r < records_, "record_index ", r, " is outside the ", records_,
                      " records of the run");
      STRAND_CHECK_AT(ParseError, where, r % n == s.index, "record_index ", r, " does not belong to shard ", s.index,
                      "/", n, " (records ", s.index, ", ", s.index + n, ", ", s.index + 2 * n, ", ...)");
      STRAND_CHECK_AT(ParseError, where, r >= s.last_record, "record_index ", r, " follows ", s.last_record,
                      " (rows out of record order)");
      s.last_record = r;
    }
    if (info_.store_tokens) {
      const auto& off = s.block.token_offsets;
      STRAND_CHECK_AT(ParseError, (Location{s.path, -1, "row " + std::to_string(s.next + 1)}),
                      off.front() == s.next_token, "token_offsets[", s.next, "] is ", off.front(), ", expected ",
                      s.next_token, " (damaged file)");
      for (size_t i = 0; i + 1 < off.size(); ++i) {
        const Location where{s.path, -1, "row " + std::to_string(s.next + static_cast<int64_t>(i) + 1)};
        STRAND_CHECK_AT(ParseError, where, off[i] <= off[i + 1] && off[i + 1] <= s.tokens, "token_offsets ", off[i],
                        " .. ", off[i + 1], " are not a range of the file's ", s.tokens, " token rows (damaged file)");
      }
    }
  }

  // Appends the shard's next row to the output block.
  void copy_row(Shard& s) {
    const auto k = static_cast<size_t>(s.next - s.block_begin);
    out_names_.push_back(std::move(s.block.names[k]));
    out_sources_.push_back(std::move(s.block.sources[k]));
    out_start_.push_back(s.block.start[k]);
    out_end_.push_back(s.block.end[k]);
    out_record_.push_back(s.block.record_index[k]);
    const auto* row = static_cast<const uint8_t*>(s.block.embeddings.data_ptr()) + k * row_bytes_;
    out_embeddings_.insert(out_embeddings_.end(), row, row + row_bytes_);
    if (info_.store_tokens) {
      const int64_t first = s.block.token_offsets[k], count = s.block.token_offsets[k + 1] - first;
      if (count > 0) {
        if (first < s.token_begin || first + count > s.token_begin + s.token_rows) {
          s.token_rows = std::min(std::max(count, shard_tokens_), s.tokens - first);
          s.token_block = s.reader.read_tokens(first, s.token_rows);
          s.token_begin = first;
        }
        const auto* t = static_cast<const uint8_t*>(s.token_block.data_ptr()) +
                        static_cast<size_t>(first - s.token_begin) * row_bytes_;
        out_token_bytes_.insert(out_token_bytes_.end(), t, t + static_cast<size_t>(count) * row_bytes_);
      }
      out_token_counts_.push_back(count);
      out_token_count_ += count;
      s.next_token = first + count;
    }
    ++s.next;
  }

  void flush(EmbeddingWriter& writer, Progress& progress) {
    const auto n = static_cast<int64_t>(out_names_.size());
    if (n == 0) return;
    EmbeddingBatch batch;
    batch.names = std::move(out_names_);
    batch.sources = std::move(out_sources_);
    batch.start = std::move(out_start_);
    batch.end = std::move(out_end_);
    batch.record_index = std::move(out_record_);
    batch.embeddings = at::from_blob(out_embeddings_.data(), {n, info_.dim}, dtype_);
    if (info_.store_tokens) {
      batch.token_counts = std::move(out_token_counts_);
      batch.token_embeddings = out_token_count_ > 0
                                   ? at::from_blob(out_token_bytes_.data(), {out_token_count_, info_.dim}, dtype_)
                                   : at::empty({0, info_.dim}, dtype_);
    }
    writer.append(batch);  // copies (and writes) synchronously
    rows_written_ += n;
    tokens_written_ += out_token_count_;
    progress.add(n);
    out_names_.clear();
    out_sources_.clear();
    out_start_.clear();
    out_end_.clear();
    out_record_.clear();
    out_embeddings_.clear();
    out_token_counts_.clear();
    out_token_bytes_.clear();
    out_token_count_ = 0;
  }

  std::vector<std::unique_ptr<Shard>>& shards_;
  const int64_t records_;
  const EmbeddingFileInfo& info_;
  size_t row_bytes_ = 0;
  int64_t out_rows_ = 1, out_tokens_ = 1, shard_rows_ = 1, shard_tokens_ = 1;
  at::ScalarType dtype_ = at::kFloat;
  // The output block.
  std::vector<std::string> out_names_, out_sources_;
  std::vector<int64_t> out_start_, out_end_, out_record_, out_token_counts_;
  std::vector<uint8_t> out_embeddings_, out_token_bytes_;
  int64_t out_token_count_ = 0;
  int64_t rows_written_ = 0, tokens_written_ = 0;
};

std::string absolute_path(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

// The same file, whether or not it exists yet.
bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  return absolute_path(a) == absolute_path(b);
}

// An existing OUTPUT that is a shard of a sharded run must not be overwritten (e.g. the first of
// `merge shards/*.h5` taken for the output).
void check_output(const std::string& output, const std::vector<std::string>& shards) {
  for (const auto& s : shards)
    if (same_file(output, s)) throw ConfigError("embed merge: the output " + output + " is one of the shards");
  std::error_code ec;
  if (!fs::is_regular_file(output, ec)) return;
  std::string shard_attribute;
  try {
    EmbeddingReader existing;
    existing.open(output);
    const auto& attributes = existing.info().attributes;
    const auto it = attributes.find("shard");
    if (it != attributes.end()) shard_attribute = it->second;
  } catch (const Error&) {
    return;  // not an embedding file of this format: replaced like any other output
  }
  int i = 0, n = 1;
  try {
    parse_shard(shard_attribute, output, i, n);
  } catch (const InputError&) {
    return;
  }
  if (n > 1)
    throw ConfigError("embed merge: the output " + output + " exists and is shard " + shard_attribute +
                      " of a sharded run; refusing to overwrite it (name the output with --out)");
}

}  // namespace

EmbedMergeSummary run_embed_merge(const EmbedMergeOptions& options) {
  if (options.shards.empty()) throw ConfigError("embed merge: no shard files given");
  if (options.output.empty()) throw ConfigError("embed merge: no output file given (--out)");
  if (options.gzip_level < -1 || options.gzip_level > 9)
    throw ConfigError("embed merge: --gzip must lie in 0..9 (got " + std::to_string(options.gzip_level) + ")");
  if (options.buffer_bytes <= 0) throw ConfigError("embed merge: the buffer size must be positive");
  const auto started = std::chrono::steady_clock::now();
  const std::string suffix = partial_path("");
  for (const auto& path : options.shards) {
    std::error_code ec;
    const bool is_partial =
        path.size() > suffix.size() && path.compare(path.size() - suffix.size(), suffix.size(), suffix) == 0;
    if (is_partial)
      throw InputError(path + ": an unfinished shard (its embed job was interrupted or is still running); finish it "
                              "with `strand embed ... --resume` and merge the file it renames this to");
    if (!fs::exists(path, ec)) {
      if (fs::exists(partial_path(path), ec))
        throw InputError(path + ": missing, but " + partial_path(path) +
                         " exists: the shard's embed job was interrupted or is still running (finish it with "
                         "`strand embed ... --resume`)");
      throw InputError(path + ": no such shard file");
    }
  }
  check_output(options.output, options.shards);

  // Open every shard and read its shard attribute.
  std::vector<std::unique_ptr<Shard>> shards;
  int num_shards = 0;
  std::string defines_n;  // the file whose shard attribute set num_shards
  for (const auto& path : options.shards) {
    auto s = std::make_unique<Shard>();
    s->path = path;
    s->reader.open(path);
    const auto& info = s->reader.info();
    const auto it = info.attributes.find("shard");
    STRAND_CHECK(it != info.attributes.end(), path, ": no attribute 'shard': not written by `strand embed`");
    int n = 0;
    parse_shard(it->second, path, s->index, n);
    if (shards.empty()) {
      num_shards = n;
      defines_n = path;
    }
    STRAND_CHECK(n == num_shards, path, " is shard ", it->second, " but ", defines_n, " is shard of ", num_shards,
                 ": these files come from different sharded runs");
    s->rows = info.rows;
    s->tokens = info.tokens;
    shards.push_back(std::move(s));
  }
  std::vector<const Shard*> by_index(static_cast<size_t>(num_shards), nullptr);
  for (const auto& s : shards) {
    const Shard*& slot = by_index[static_cast<size_t>(s->index)];
    STRAND_CHECK(slot == nullptr, "shard ", s->index, "/", num_shards, " is given twice: ", slot ? slot->path : "",
                 " and ", s->path);
    slot = s.get();
  }
  std::string missing;
  int missing_count = 0;
  for (int i = 0; i < num_shards; ++i)
    if (by_index[static_cast<size_t>(i)] == nullptr) {
      if (missing_count < 20) missing += (missing.empty() ? "" : ", ") + std::to_string(i);
      ++missing_count;
    }
  STRAND_CHECK(missing_count == 0, missing_count, " of ", num_shards, " shards missing (shard index ", missing,
               missing_count > 20 ? ", ..." : "", " of 0..", num_shards - 1, "); ", shards.size(),
               " files given, each shard of the run must be given exactly once");
  std::sort(shards.begin(), shards.end(), [](const auto& a, const auto& b) { return a->index < b->index; });

  // Every shard must come from the same run settings as shard 0.
  const Shard& first = *shards.front();
  const EmbeddingFileInfo& ref = first.reader.info();
  for (const auto& s : shards) {
    const EmbeddingFileInfo& info = s->reader.info();
    const auto differs = [&](const std::string& what, const std::string& have, const std::string& want) {
      throw InputError(s->path + " (shard " + std::to_string(s->index) + "/" + std::to_string(num_shards) + "): " +
                       what + " = " + have + ", but " + first.path + " (shard 0) has " + want +
                       ": all shards of one run must share the model and embed settings");
    };
    if (info.dim != ref.dim) differs("dim", std::to_string(info.dim), std::to_string(ref.dim));
    if (info.dtype != ref.dtype) differs("dtype", dtype_name(info.dtype), dtype_name(ref.dtype));
    if (info.store_tokens != ref.store_tokens)
      differs("store_tokens (--tokens)", info.store_tokens ? "1" : "0", ref.store_tokens ? "1" : "0");
    for (const char* key : kMustMatch) {
      const std::string have = attribute_or_absent(info, key), want = attribute_or_absent(ref, key);
      if (have != want) differs(key, have, want);
    }
  }
  const auto records_it = ref.attributes.find("records");
  STRAND_CHECK(records_it != ref.attributes.end(), first.path,
               ": no attribute 'records' (the count of input records, written when `strand embed` finishes)");
  int64_t records = -1;
  try {
    size_t used = 0;
    records = std::stoll(records_it->second, &used);
    if (used != records_it->second.size()) records = -1;
  } catch (const std::exception&) {
    records = -1;
  }
  STRAND_CHECK(records >= 0, first.path, ": attribute records is '", records_it->second, "', not a count");

  EmbeddingWriterOptions wo;
  wo.dim = ref.dim;
  wo.dtype = ref.dtype;
  wo.store_tokens = ref.store_tokens;
  wo.chunk_rows = ref.chunk_rows;
  wo.gzip_level = options.gzip_level >= 0 ? options.gzip_level : ref.gzip_level;
  wo.attributes = ref.attributes;
  wo.attributes["shard"] = "0/1";
  wo.attributes["command_line"] = options.command_line;
  std::string merged_from;
  for (const auto& s : shards) merged_from += (merged_from.empty() ? "" : "\n") + absolute_path(s->path);
  wo.attributes["merged_from"] = merged_from;

  int64_t total_rows = 0;
  for (const auto& s : shards) total_rows += s->rows;
  EmbedMergeSummary summary;
  summary.num_shards = num_shards;
  summary.records = records;
  {
    auto writer = std::make_unique<EmbeddingWriter>();
    bool created = false;
    try {
      writer->open(options.output, wo);
      created = true;
      Progress progress("merge", total_rows, "rows");
      Merger merger(shards, records, ref, options.buffer_bytes);
      merger.run(*writer, progress);
      STRAND_ASSERT(merger.rows_written() == total_rows, "embed merge wrote ", merger.rows_written(), " of ",
                    total_rows, " rows");
      progress.finish();
      writer->finish();
      summary.rows = merger.rows_written();
      summary.tokens = merger.tokens_written();
    } catch (...) {
      writer.reset();  // closes OUTPUT.partial
      std::error_code ec;
      if (created) fs::remove(partial_path(options.output), ec);  // no resume for a merge: leave nothing behind
      throw;
    }
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace strand::pipelines
