#include "pipelines/tokenize_output.h"

#include <ATen/ATen.h>

#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "libseq/core/error.h"
#include "libseq/core/version.h"
#include "libseq/io/safetensors.h"

namespace strand::pipelines {
namespace {

void append_int(std::string& out, int64_t v) {
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

class JsonlWriter final : public TokenWriter {
 public:
  JsonlWriter(const std::string& path, bool offsets) : offsets_(offsets) {
    if (path != "-") file_ = std::make_unique<io::AtomicFile>(path);
  }

  void write(const TokenRow& row, const tokenize::Encoding& enc) override {
    line_.clear();
    line_ += "{\"name\":" + nlohmann::json(row.name).dump();
    line_ += ",\"source\":" + nlohmann::json(row.source).dump();
    line_ += ",\"begin\":";
    append_int(line_, row.begin);
    line_ += ",\"end\":";
    append_int(line_, row.end);
    line_ += ",\"strand\":\"";
    line_ += row.strand;
    line_ += "\",\"ids\":[";
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      if (i > 0) line_ += ',';
      append_int(line_, enc.ids[i]);
    }
    line_ += ']';
    if (offsets_) {
      line_ += ",\"offsets\":[";
      for (size_t i = 0; i < enc.offsets.size(); ++i) {
        line_ += i > 0 ? ",[" : "[";
        append_int(line_, enc.offsets[i].begin);
        line_ += ',';
        append_int(line_, enc.offsets[i].end);
        line_ += ']';
      }
      line_ += ']';
    }
    line_ += "}\n";
    if (file_) {
      file_->write(line_);
    } else if (std::fwrite(line_.data(), 1, line_.size(), stdout) != line_.size()) {
      throw IoError("cannot write to standard output");
    }
  }

  void commit() override {
    if (file_) {
      file_->commit();
    } else if (std::fflush(stdout) != 0) {
      throw IoError("cannot write to standard output");
    }
  }

 private:
  bool offsets_;
  std::unique_ptr<io::AtomicFile> file_;
  std::string line_;
};

class SafetensorsTokenWriter final : public TokenWriter {
 public:
  SafetensorsTokenWriter(std::string path, const tokenize::Tokenizer& tokenizer, std::string command_line)
      : path_(std::move(path)), tokenizer_json_(tokenizer.to_json().dump()), command_line_(std::move(command_line)) {
    // Fail on an unwritable destination before hours of work, not after.
    io::AtomicFile probe(path_);
    row_offsets_.push_back(0);
  }

  void write(const TokenRow& row, const tokenize::Encoding& enc) override {
    ids_.insert(ids_.end(), enc.ids.begin(), enc.ids.end());
    row_offsets_.push_back(static_cast<int64_t>(ids_.size()));
    row_begin_.push_back(row.begin);
    row_end_.push_back(row.end);
    rows_.push_back({row.name, row.source, std::string(1, row.strand)});
  }

  void commit() override {
    auto as_tensor = [](auto& v, at::ScalarType type) {
      return at::from_blob(v.data(), {static_cast<int64_t>(v.size())}, at::TensorOptions().dtype(type));
    };
    const std::map<std::string, at::Tensor> tensors = {
        {"ids", as_tensor(ids_, at::kInt)},
        {"row_offsets", as_tensor(row_offsets_, at::kLong)},
        {"row_begin", as_tensor(row_begin_, at::kLong)},
        {"row_end", as_tensor(row_end_, at::kLong)},
    };
    const std::map<std::string, std::string> metadata = {
        {"format", "strand.token_ids"},
        {"tokenizer", tokenizer_json_},
        {"rows", rows_.dump()},
        {"strand_version", strand::version()},
        {"git_hash", strand::git_hash()},
        {"command_line", command_line_},
    };
    io::save_safetensors(path_, tensors, metadata);
  }

 private:
  std::string path_;
  std::string tokenizer_json_;
  std::string command_line_;
  std::vector<int32_t> ids_;
  std::vector<int64_t> row_offsets_, row_begin_, row_end_;
  nlohmann::json rows_ = nlohmann::json::array();
};

}  // namespace

std::unique_ptr<TokenWriter> make_jsonl_writer(const std::string& path, bool offsets) {
  return std::make_unique<JsonlWriter>(path, offsets);
}

std::unique_ptr<TokenWriter> make_safetensors_writer(const std::string& path, const tokenize::Tokenizer& tokenizer,
                                                     const std::string& command_line) {
  return std::make_unique<SafetensorsTokenWriter>(path, tokenizer, command_line);
}

}  // namespace strand::pipelines
