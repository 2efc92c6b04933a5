#include "pipelines/embed.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <chrono>
#include <filesystem>

#include "bio/io/windows.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "libseq/core/version.h"
#include "pipelines/model_io.h"

namespace strand::pipelines {

namespace {

struct Row {
  int64_t record_index = 0;  // among all records read (all shards)
  std::string name;
  std::string source;
  int64_t start = 0;
  int64_t end = 0;
  std::string seq;
};

class Embedder {
 public:
  Embedder(const EmbedOptions& options, LoadedModel& model, EmbeddingWriter& writer, EmbedSummary& summary,
           const ResumeInfo& resume)
      : options_(options), model_(model), writer_(writer), summary_(summary), resume_(resume) {
    taps_.layers = {options.layer};
  }

  void add(Row row) {
    if (skipped_ < resume_.rows) {
      const auto i = static_cast<size_t>(skipped_);
      if (resume_.names[i] != row.name || resume_.start[i] != row.start || resume_.end[i] != row.end ||
          resume_.record_index[i] != row.record_index)
        throw InputError(partial_path(options_.output) + ": row " + std::to_string(skipped_ + 1) + " is '" +
                         resume_.names[i] + "' [" + std::to_string(resume_.start[i]) + ", " +
                         std::to_string(resume_.end[i]) + ") of record " + std::to_string(resume_.record_index[i]) +
                         " but this input gives '" + row.name + "' [" + std::to_string(row.start) + ", " +
                         std::to_string(row.end) + ") of record " + std::to_string(row.record_index) +
                         ": the input or options differ from the interrupted run");
      ++skipped_;
      ++summary_.resumed_rows;
      return;
    }
    pending_.push_back(std::move(row));
    if (static_cast<int64_t>(pending_.size()) >= options_.batch_size) flush();
  }

  void flush() {
    if (pending_.empty()) return;
    std::vector<std::string_view> texts;
    for (const auto& r : pending_) texts.emplace_back(r.seq);
    tokenize::BatchOptions bo;
    bo.truncation = false;
    bo.max_length = options_.max_tokens;
    tokenize::BatchEncoding enc;
    try {
      enc = model_.tokenizer->encode_batch(texts, bo);
    } catch (const InputError& e) {
      throw InputError(std::string(e.what()) + " (at most --max-tokens " + std::to_string(options_.max_tokens) +
                       " tokens per row: cut long sequences with --window)");
    }
    const int64_t b = enc.batch_size, l = enc.length;
    const at::Tensor ids =
        at::from_blob(enc.ids.data(), {b, l}, at::TensorOptions().dtype(c10::CppTypeToScalarType<tokenize::TokenId>::value))
            .to(at::kLong);
    const at::Tensor mask = at::from_blob(enc.attention_mask.data(), {b, l}, at::kByte).to(at::kBool);
    torch::NoGradGuard no_grad;
    model_.dir.model->forward(ids, mask, &taps_);
    const at::Tensor hidden = taps_.outputs[0];
    EmbeddingBatch batch;
    batch.embeddings = models::pool(hidden, mask, options_.pooling);
    if (options_.store_tokens) {
      std::vector<at::Tensor> parts;
      for (int64_t r = 0; r < b; ++r) {
        parts.push_back(hidden[r].narrow(0, 0, enc.lengths[static_cast<size_t>(r)]));
        batch.token_counts.push_back(enc.lengths[static_cast<size_t>(r)]);
      }
      batch.token_embeddings = at::cat(parts, 0);
    }
    for (auto& r : pending_) {
      batch.names.push_back(r.name);
      batch.sources.push_back(r.source == r.name ? std::string() : r.source);
      batch.start.push_back(r.start);
      batch.end.push_back(r.end);
      batch.record_index.push_back(r.record_index);
      summary_.bases += r.end - r.start;
    }
    for (const int64_t n : enc.lengths) summary_.tokens += n;
    writer_.append(batch);
    summary_.rows += b;
    pending_.clear();
  }

  void check_resume_complete() const {
    if (skipped_ < resume_.rows)
      throw InputError(partial_path(options_.output) + " holds " + std::to_string(resume_.rows) +
                       " rows but this input gives only " + std::to_string(skipped_) +
                       ": the input or options differ from the interrupted run");
  }

 private:
  const EmbedOptions& options_;
  LoadedModel& model_;
  EmbeddingWriter& writer_;
  EmbedSummary& summary_;
  const ResumeInfo& resume_;
  models::Taps taps_;
  std::vector<Row> pending_;
  int64_t skipped_ = 0;
};

std::string join_lines(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : "\n") + item;
  return out;
}

std::string read_filters(const bio::io::ReadOptions& o) {
  return "skip_invalid=" + std::to_string(o.skip_invalid ? 1 : 0) + " require_flags=" +
         std::to_string(o.required_flags) + " exclude_flags=" + std::to_string(o.excluded_flags) +
         " min_mapq=" + std::to_string(o.min_mapq) + " original_orientation=" +
         std::to_string(o.original_orientation ? 1 : 0);
}

}  // namespace

EmbedSummary run_embed(const EmbedOptions& options) {
  if (options.inputs.empty()) throw ConfigError("embed: no input file given (-i)");
  if (options.output.empty()) throw ConfigError("embed: no output file given (-o)");
  if (options.batch_size <= 0) throw ConfigError("embed: --batch must be positive");
  if (options.window < 0 || options.stride < 0) throw ConfigError("embed: --window and --stride must not be negative");
  if (options.stride > 0 && options.window == 0) throw ConfigError("embed: --stride needs --window");
  if (!options.regions.empty() && options.inputs.size() != 1)
    throw ConfigError("embed: --region needs exactly one indexed input file");
  if (options.num_shards < 1 || options.shard < 0 || options.shard >= options.num_shards)
    throw ConfigError("embed: --shard " + std::to_string(options.shard) + "/" + std::to_string(options.num_shards) +
                      " is not a shard: use i/n with 0 <= i < n");
  const auto started = std::chrono::steady_clock::now();
  LoadedModel model = load_model(options.model);
  EmbedSummary summary;
  const int64_t n_blocks = model.dir.model->backbone()->num_layers();
  summary.layer = models::resolve_layer(options.layer, n_blocks);
  summary.dim = model.dir.config.hidden_size();  // 2 * d_model for RCPS models (model.h)

  // What decides the rows and their record indices, so that `strand embed merge` can check that
  // shards come from one input. Inputs as absolute paths, one per line.
  std::vector<std::string> absolute_inputs;
  for (const auto& path : options.inputs)
    absolute_inputs.push_back(std::filesystem::absolute(path).lexically_normal().string());
  const std::string inputs = join_lines(absolute_inputs);
  EmbeddingWriterOptions wo;
  wo.dim = summary.dim;
  wo.dtype = options.dtype;
  wo.store_tokens = options.store_tokens;
  wo.gzip_level = options.gzip_level;
  wo.attributes = {{"model", std::filesystem::absolute(options.model).lexically_normal().string()},
                   {"layer", std::to_string(summary.layer)},
                   {"pooling", models::pooling_name(options.pooling)},
                   {"tokenizer", model.tokenizer->spec()},
                   {"window", std::to_string(options.window)},
                   {"stride", std::to_string(options.stride)},
                   {"shard", std::to_string(options.shard) + "/" + std::to_string(options.num_shards)},
                   {"inputs", inputs},
                   {"regions", join_lines(options.regions)},
                   {"read_filters", read_filters(options.read)},
                   {"version", version()},
                   {"git_hash", git_hash()},
                   {"command_line", options.command_line}};
  EmbeddingWriter writer;
  ResumeInfo resume;
  if (options.resume && std::filesystem::exists(partial_path(options.output))) {
    resume = writer.open_resume(options.output, wo);
    STRAND_LOG_INFO("resuming ", partial_path(options.output), ": ", resume.rows, " rows done",
                    resume.rolled_back_rows > 0
                        ? " (" + std::to_string(resume.rolled_back_rows) + " uncommitted rows dropped)"
                        : std::string());
  } else {
    writer.open(options.output, wo);
  }

  Embedder embedder(options, model, writer, summary, resume);
  Progress progress("embed", 0, "records");
  int64_t record_index = 0;
  bio::io::WindowOptions window_options;
  window_options.window = options.window;
  window_options.stride = options.stride;
  bio::io::SequenceRecord rec;
  for (const auto& path : options.inputs) {
    auto reader = options.regions.empty() ? bio::io::open_sequences(path, options.read)
                                          : bio::io::open_regions(path, options.regions, options.read);
    while (reader->next(rec)) {
      const int64_t index = record_index++;
      ++summary.records;
      if (!shard_of(index, rec.name, options.shard, options.num_shards)) continue;
      ++summary.shard_records;
      if (options.window == 0) {
        embedder.add(Row{index, rec.name, rec.source, rec.begin, rec.end, rec.seq});
      } else {
        for (const auto& w : bio::io::make_windows(static_cast<int64_t>(rec.seq.size()), window_options))
          embedder.add(Row{index, rec.name, rec.source, rec.begin + w.begin, rec.begin + w.end,
                           rec.seq.substr(static_cast<size_t>(w.begin), static_cast<size_t>(w.end - w.begin))});
      }
      progress.add(1);
    }
    for (const auto& [reason, n] : reader->summary().skipped) summary.skipped[reason] += n;
  }
  embedder.flush();
  embedder.check_resume_complete();
  progress.finish();
  writer.set_attribute("records", std::to_string(summary.records));
  writer.finish();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace strand::pipelines
