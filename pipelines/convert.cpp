#include "pipelines/convert.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <filesystem>
#include <map>
#include <memory>

#include "libseq/core/error.h"
#include "libseq/core/version.h"
#include "libseq/mixers/mixer.h"
#include "libseq/models/model.h"
#include "pipelines/presets.h"
#include "pipelines/registry.h"

namespace strand::pipelines {

namespace {

namespace fs = std::filesystem;

std::string describe_format(const std::string& format) {
  if (format == "strand") return "strand model directory";
  if (format == "hf-esm") return "Hugging Face ESM / Nucleotide Transformer v2 (model_type \"esm\")";
  if (format == "hf-mamba") return "Hugging Face Mamba (model_type \"mamba\")";
  if (format == "hf-mamba2") return "Hugging Face Mamba-2 (model_type \"mamba2\")";
  if (format == "mamba_ssm") return "mamba_ssm checkpoint (config.json with ssm_cfg)";
  return format;
}

// "12 x M (mamba), 4 x A (attention)", in order of first appearance.
std::string describe_layout(const std::string& pattern) {
  mixers::register_builtin_mixers();
  std::string order;
  std::map<char, int64_t> counts;
  for (const char c : pattern) {
    if (!counts.count(c)) order += c;
    ++counts[c];
  }
  std::string out;
  for (const char c : order) {
    out += out.empty() ? "" : ", ";
    out += std::to_string(counts[c]) + " x " + std::string(1, c);
    if (mixers::mixer_registry().has(c)) out += " (" + mixers::mixer_registry().get(c, "pattern").name + ")";
  }
  return out;
}

// A short input: the DNA text through the tokenizer, or, without one, ids cycling through the
// vocabulary (pad excluded).
at::Tensor dummy_ids(const models::ModelConfig& config, const tokenize::Tokenizer* tokenizer) {
  if (tokenizer != nullptr) {
    const auto enc = tokenizer->encode("ACGTTGCAACGGTACCGTAN");
    std::vector<int64_t> ids(enc.ids.begin(), enc.ids.end());
    STRAND_CHECK(!ids.empty(), "tokenizer '", tokenizer->spec(), "' gives no tokens for the check sequence");
    return at::tensor(ids, at::kLong).unsqueeze(0);
  }
  std::vector<int64_t> ids;
  for (int64_t i = 0; static_cast<int64_t>(ids.size()) < 16; ++i) {
    const int64_t id = (3 + 5 * i) % config.vocab_size;
    if (id != config.pad_id || config.vocab_size == 1) ids.push_back(id);
  }
  return at::tensor(ids, at::kLong).unsqueeze(0);
}

at::Tensor check_output(models::SequenceModel& model, const at::Tensor& ids) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto out = model->forward(ids, at::ones(ids.sizes(), at::kBool));
  return out.logits.defined() ? out.logits : out.hidden;
}

}  // namespace

ConvertSummary run_convert(const ConvertOptions& o) {
  if (o.source.empty()) throw ConfigError("convert: no source model directory given");
  if (o.out.empty()) throw ConfigError("convert: no output directory given (--out)");
  if (!o.tokenizer.empty() && !o.tokenizer_file.empty())
    throw ConfigError("convert: give --tokenizer or --tokenizer-file, not both");
  if (!fs::exists(o.source)) throw IoError(o.source + ": no such model directory");
  if (!fs::is_directory(o.source))
    throw IoError(o.source + ": not a directory (expected a model directory with config.json)");
  if (fs::exists(o.out))
    throw ConfigError("convert: " + o.out + " exists; give a new directory to --out (nothing was written)");

  models::ModelDir dir = models::load_model_dir(o.source);
  ConvertSummary s;
  s.format = dir.format;
  s.description = describe_format(dir.format);
  const auto& c = dir.config;
  s.architecture = c.architecture;
  s.layout = describe_layout(c.backbone.pattern);
  s.layers = static_cast<int64_t>(c.backbone.pattern.size());
  s.d_model = c.backbone.d_model;
  s.hidden_size = c.hidden_size();
  s.vocab_size = c.vocab_size;
  for (const auto& p : dir.model->parameters()) s.parameters += p.numel();
  s.head = models::head_kind_name(c.head.kind);
  s.tied_head = c.head.tied;
  s.causal = c.backbone.causal;
  s.rcps = c.rcps.enabled;

  // The tokenizer: the source's, the one its Hugging Face config names, or the one given.
  std::shared_ptr<const tokenize::Tokenizer> source_tok;
  const std::string source_tok_path = (fs::path(o.source) / "tokenizer.json").string();
  if (!dir.tokenizer.is_null()) {
    source_tok = tokenizer_registry().from_json(dir.tokenizer, source_tok_path);
  } else if (dir.format != "strand" && c.tokenizer.is_object() && c.tokenizer.contains("spec") &&
             c.tokenizer.at("spec").is_string()) {
    source_tok = tokenizer_registry().create(c.tokenizer.at("spec").get<std::string>());
  }
  std::shared_ptr<const tokenize::Tokenizer> given;
  if (!o.tokenizer.empty()) given = tokenizer_registry().create(o.tokenizer);
  if (!o.tokenizer_file.empty()) given = tokenizer_registry().load(o.tokenizer_file);
  if (given && source_tok && given->spec() != source_tok->spec())
    throw ConfigError("convert: " + o.source + " has tokenizer '" + source_tok->spec() + "'; the given tokenizer '" +
                      given->spec() + "' would contradict it");
  const std::shared_ptr<const tokenize::Tokenizer> tok = given ? given : source_tok;
  if (tok) {
    check_model_tokenizer(c, *tok, tok == given ? "--tokenizer" : source_tok_path);
    s.tokenizer = tok->spec();
  } else if (c.rcps.enabled) {
    throw ConfigError("convert: " + o.source + " is an rcps model without a tokenizer; give the tokenizer whose "
                      "complement map it uses with --tokenizer");
  }

  // Forward check on the source model.
  const at::Tensor ids = dummy_ids(c, tok.get());
  s.check_tokens = ids.size(1);
  const at::Tensor before = check_output(dir.model, ids);
  std::vector<int64_t> expected;
  switch (c.head.kind) {
    case models::HeadKind::CausalLM:
    case models::HeadKind::MaskedLM: expected = {1, ids.size(1), c.vocab_size}; break;
    case models::HeadKind::TokenClassification: expected = {1, ids.size(1), c.head.num_labels}; break;
    case models::HeadKind::SequenceClassification:
    case models::HeadKind::SequenceRegression: expected = {1, c.head.num_labels}; break;
    case models::HeadKind::None: expected = {1, ids.size(1), c.hidden_size()}; break;
  }
  s.check_shape = before.sizes().vec();
  if (s.check_shape != expected)
    throw InternalError("convert: the forward check gave shape " + c10::str(before.sizes()) + ", expected " +
                        c10::str(at::IntArrayRef(expected)));
  if (!at::isfinite(before).all().item<bool>())
    throw InputError("convert: " + o.source + " gives non-finite outputs on a short test sequence; the weights are "
                     "damaged or do not belong to this config");

  // Write under a temporary name, reload, compare, rename.
  models::ModelConfig config = c;
  nlohmann::json provenance = {{"converted_from", fs::absolute(o.source).lexically_normal().string()},
                               {"source_format", dir.format},
                               {"version", version()},
                               {"git_hash", git_hash()},
                               {"command_line", o.command_line}};
  if (c.provenance.is_object() && !c.provenance.empty()) provenance["source_provenance"] = c.provenance;
  config.provenance = provenance;
  config.tokenizer = tok ? nlohmann::json{{"spec", tok->spec()}, {"vocab_size", tok->vocab_size()}}
                         : nlohmann::json::object();
  const fs::path out_path = fs::path(o.out);
  const fs::path temp = out_path.parent_path() / (out_path.filename().string() + ".partial");
  std::error_code ec;
  fs::remove_all(temp, ec);  // left by an interrupted conversion
  models::save_model_dir(temp.string(), config, dir.model, tok ? tok->to_json() : nlohmann::json());
  models::ModelDir written = models::load_model_dir(temp.string());
  const at::Tensor after = check_output(written.model, ids);
  if (!at::equal(before, after)) {
    fs::remove_all(temp, ec);
    throw InternalError("convert: the written model does not reproduce the source's outputs");
  }
  fs::rename(temp, out_path, ec);
  if (ec) throw IoError(o.out + ": cannot move the converted model into place: " + ec.message());
  s.out = o.out;
  return s;
}

}  // namespace strand::pipelines
