#include "pipelines/tokenize.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "bio/io/reader.h"
#include "bio/io/windows.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/parallel.h"
#include "libseq/core/progress.h"
#include "pipelines/registry.h"
#include "pipelines/tokenize_output.h"

namespace strand::pipelines {
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

TokenOutputFormat resolve_format(const TokenizeOptions& o) {
  if (o.format != TokenOutputFormat::Auto) return o.format;
  if (o.output == "-" || ends_with(o.output, ".jsonl")) return TokenOutputFormat::Jsonl;
  if (ends_with(o.output, ".safetensors")) return TokenOutputFormat::Safetensors;
  throw InputError("cannot tell the output format of '" + o.output +
                   "': name it *.jsonl or *.safetensors, or pass --format jsonl|safetensors|none");
}

// A record read from the input, with the coordinates of its sequence in its source.
struct Record {
  std::string name;
  std::string source;
  int64_t begin = 0;
  char strand = '+';
  std::string seq;
};

// One sequence to tokenize: a whole record or one window of it.
struct Item {
  size_t record;
  int64_t offset;  // into the record's sequence
  int64_t length;
};

// Base composition of one record, computed in the parallel section.
struct Composition {
  int64_t gc = 0;
  int64_t acgt = 0;
};

Composition composition(const std::string& seq) {
  static const std::array<uint8_t, 256> table = [] {
    std::array<uint8_t, 256> t{};
    for (char c : std::string("ATUatu")) t[static_cast<uint8_t>(c)] = 1;
    for (char c : std::string("GCgc")) t[static_cast<uint8_t>(c)] = 2;
    return t;
  }();
  int64_t counts[3] = {0, 0, 0};
  for (const char c : seq) ++counts[table[static_cast<uint8_t>(c)]];
  return {counts[2], counts[1] + counts[2]};
}

void add_windows(const Record& r, size_t index, const TokenizeOptions& o, std::vector<Item>& items) {
  const auto n = static_cast<int64_t>(r.seq.size());
  if (o.window <= 0) {
    items.push_back({index, 0, n});
    return;
  }
  for (const auto& w : bio::io::make_windows(n, {o.window, o.stride, o.keep_last_partial}))
    items.push_back({index, w.begin, w.end - w.begin});
}

}  // namespace

TokenizeSummary run_tokenize(const TokenizeOptions& o) {
  STRAND_CHECK(!o.inputs.empty(), "no input files (-i FILE)");
  STRAND_CHECK(o.window >= 0 && o.stride >= 0, "--window and --stride must not be negative");
  STRAND_CHECK(o.stride == 0 || o.window > 0, "--stride needs --window");
  const auto start_time = std::chrono::steady_clock::now();

  const auto& registry = tokenizer_registry();
  const auto tokenizer = o.tokenizer_file.empty() ? registry.create(o.tokenizer) : registry.load(o.tokenizer_file);
  const auto format = resolve_format(o);
  STRAND_CHECK(!o.offsets || format == TokenOutputFormat::Jsonl, "--offsets is only written to JSONL output");

  std::unique_ptr<TokenWriter> writer;
  if (format == TokenOutputFormat::Jsonl) writer = make_jsonl_writer(o.output, o.offsets);
  if (format == TokenOutputFormat::Safetensors) writer = make_safetensors_writer(o.output, *tokenizer, o.command_line);

  TokenizeSummary summary;
  summary.tokenizer_spec = tokenizer->spec();
  summary.vocabulary = tokenizer->vocabulary();
  summary.token_counts.assign(static_cast<size_t>(tokenizer->vocab_size()), 0);
  summary.output = format == TokenOutputFormat::None ? "" : o.output;

  tokenize::EncodeOptions encode_options;
  encode_options.add_special_tokens = o.add_special_tokens;
  encode_options.offsets = o.offsets;

  std::vector<Record> records;
  std::vector<Item> items;
  std::vector<tokenize::Encoding> encodings;
  std::vector<Composition> compositions;
  Progress progress("tokenize", 0, "bp");

  auto flush = [&]() {
    items.clear();
    for (size_t i = 0; i < records.size(); ++i) add_windows(records[i], i, o, items);
    if (encodings.size() < items.size()) encodings.resize(items.size());
    compositions.assign(records.size(), Composition{});
    parallel_for(static_cast<int64_t>(items.size()), 1, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const Item& it = items[static_cast<size_t>(i)];
        const std::string_view seq(records[it.record].seq);
        tokenizer->encode_into(seq.substr(static_cast<size_t>(it.offset), static_cast<size_t>(it.length)),
                               encodings[static_cast<size_t>(i)], encode_options);
        if (it.offset == 0) compositions[it.record] = composition(records[it.record].seq);
      }
    });
    for (size_t i = 0; i < items.size(); ++i) {
      const Item& it = items[i];
      const Record& r = records[it.record];
      const auto& enc = encodings[i];
      for (const auto id : enc.ids) ++summary.token_counts[static_cast<size_t>(id)];
      summary.tokens += static_cast<int64_t>(enc.ids.size());
      summary.bases += it.length;
      ++summary.sequences;
      if (writer) {
        TokenRow row{r.name, r.source, r.begin + it.offset, r.begin + it.offset + it.length, r.strand};
        writer->write(row, enc);
      }
    }
    for (size_t i = 0; i < records.size(); ++i) {
      summary.gc += compositions[i].gc;
      summary.acgt += compositions[i].acgt;
      summary.record_bases += static_cast<int64_t>(records[i].seq.size());
    }
    records.clear();
  };

  bio::io::ReadOptions read_options;
  read_options.skip_invalid = o.skip_invalid;
  read_options.reference = o.reference;
  read_options.required_flags = o.required_flags;
  read_options.excluded_flags = o.excluded_flags;
  read_options.min_mapq = o.min_mapq;
  read_options.original_orientation = o.original_orientation;

  int64_t batch_bases = 0;
  for (const auto& input : o.inputs) {
    auto reader = o.regions.empty() ? bio::io::open_sequences(input, read_options)
                                    : bio::io::open_regions(input, o.regions, read_options);
    bio::io::SequenceRecord rec;
    while (reader->next(rec)) {
      Record r;
      r.name = rec.name;
      r.source = rec.source.empty() ? rec.name : rec.source;
      r.begin = rec.begin;
      r.strand = rec.strand;
      r.seq.swap(rec.seq);
      batch_bases += static_cast<int64_t>(r.seq.size());
      progress.add(static_cast<int64_t>(r.seq.size()));
      ++summary.records;
      records.push_back(std::move(r));
      if (batch_bases >= o.batch_bases) {
        flush();
        batch_bases = 0;
      }
    }
    for (const auto& [reason, count] : reader->summary().skipped) summary.skipped[reason] += count;
  }
  flush();
  progress.finish();
  if (writer) writer->commit();
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
  return summary;
}

std::string format_summary(const TokenizeSummary& s) {
  std::ostringstream os;
  char buf[256];
  os << "tokenizer: " << s.tokenizer_spec << " (vocabulary " << s.vocabulary.size() << ")\n";
  os << "records: " << s.records << ", bases: " << s.record_bases << "\n";
  if (s.acgt > 0) {
    std::snprintf(buf, sizeof buf, "GC content: %.2f%% of %lld A/C/G/T bases; other symbols: %lld\n",
                  100.0 * static_cast<double>(s.gc) / static_cast<double>(s.acgt), static_cast<long long>(s.acgt),
                  static_cast<long long>(s.record_bases - s.acgt));
    os << buf;
  }
  os << "sequences tokenized: " << s.sequences << " (" << s.bases << " bases), tokens: " << s.tokens << "\n";
  if (s.bases > 0) {
    std::snprintf(buf, sizeof buf, "tokens per kb: %.1f\n", 1000.0 * static_cast<double>(s.tokens) / static_cast<double>(s.bases));
    os << buf;
  }
  std::vector<size_t> order(s.token_counts.size());
  std::iota(order.begin(), order.end(), size_t{0});
  const auto used = std::count_if(s.token_counts.begin(), s.token_counts.end(), [](int64_t c) { return c > 0; });
  os << "vocabulary used: " << used << " of " << s.token_counts.size() << " tokens\n";
  const size_t top = std::min<size_t>(8, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(top), order.end(),
                    [&](size_t a, size_t b) { return s.token_counts[a] > s.token_counts[b]; });
  os << "most frequent tokens:";
  for (size_t i = 0; i < top && s.token_counts[order[i]] > 0; ++i) {
    std::snprintf(buf, sizeof buf, " %s=%.2f%%", s.vocabulary[order[i]].c_str(),
                  100.0 * static_cast<double>(s.token_counts[order[i]]) / static_cast<double>(std::max<int64_t>(s.tokens, 1)));
    os << buf;
  }
  os << "\n";
  int64_t skipped = 0;
  for (const auto& [reason, count] : s.skipped) skipped += count;
  if (skipped > 0) {
    os << "skipped records: " << skipped << " (";
    bool first = true;
    for (const auto& [reason, count] : s.skipped) {
      os << (first ? "" : ", ") << reason << ": " << count;
      first = false;
    }
    os << ")\n";
  }
  std::snprintf(buf, sizeof buf, "time: %.2f s, %.1f Mbp/s\n", s.seconds,
                s.seconds > 0 ? static_cast<double>(s.record_bases) / s.seconds / 1e6 : 0.0);
  os << buf;
  if (!s.output.empty()) os << "output: " << s.output << "\n";
  return os.str();
}

}  // namespace strand::pipelines
