#include "pipelines/finetune.h"

#include <ATen/ATen.h>
#include <torch/types.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>

#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "libseq/core/random.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"
#include "libseq/models/rcps.h"
#include "libseq/train/distributed.h"
#include "libseq/train/metrics.h"
#include "libseq/train/objectives.h"
#include "libseq/train/trainer.h"
#include "pipelines/model_io.h"
#include "pipelines/presets.h"
#include "pipelines/registry.h"
#include "pipelines/task.h"

namespace strand::pipelines {
namespace {

namespace fs = std::filesystem;

/// The tokenizer a task's alphabet calls for when training from scratch.
std::string default_tokenizer(const std::string& alphabet) {
  if (alphabet == "dna" || alphabet == "rna") return "char";
  if (alphabet == "protein") return "protein";
  if (alphabet == "smiles" && tokenizer_registry().contains("smiles")) return "smiles";
  throw ConfigError("finetune: no default tokenizer for the '" + alphabet +
                    "' alphabet; name one with --tokenizer (registered: " +
                    [] {
                      std::string s;
                      for (const auto& t : tokenizer_registry().types()) s += (s.empty() ? "" : ", ") + t;
                      return s;
                    }() +
                    ")");
}

/// One split as the training loop sees it.
struct Examples {
  std::vector<std::string> ids;
  std::vector<std::string> seqs;
  std::vector<int64_t> labels;  ///< classification
  std::vector<double> values;   ///< regression, in the task's units
  size_t size() const { return seqs.size(); }
};

Examples examples_of(const std::vector<TaskExample>& v) {
  Examples e;
  for (const auto& x : v) {
    e.ids.push_back(x.id);
    e.seqs.push_back(x.sequence);
    e.labels.push_back(x.label);
    e.values.push_back(x.value);
  }
  return e;
}

struct Encoded {
  at::Tensor ids;   ///< (B, L) int64
  at::Tensor mask;  ///< (B, L) bool
};

Encoded encode(const tokenize::Tokenizer& tok, const Examples& e, const std::vector<int64_t>& rows, int64_t max_len) {
  std::vector<std::string_view> texts;
  texts.reserve(rows.size());
  for (const int64_t r : rows) texts.emplace_back(e.seqs[static_cast<size_t>(r)]);
  tokenize::BatchOptions bo;
  bo.max_length = max_len;
  bo.truncation = true;
  const tokenize::BatchEncoding enc = tok.encode_batch(texts, bo);
  const int64_t b = enc.batch_size, l = enc.length;
  Encoded out;
  out.ids = at::from_blob(const_cast<tokenize::TokenId*>(enc.ids.data()), {b, l},
                          at::TensorOptions().dtype(c10::CppTypeToScalarType<tokenize::TokenId>::value))
                .to(at::kLong);
  out.mask = at::from_blob(const_cast<uint8_t*>(enc.attention_mask.data()), {b, l}, at::kByte).to(at::kBool);
  return out;
}

std::vector<int64_t> range_rows(int64_t begin, int64_t end) {
  std::vector<int64_t> r(static_cast<size_t>(end - begin));
  std::iota(r.begin(), r.end(), begin);
  return r;
}

/// The input of the classifier for a batch: the pooled features forward() feeds it, in the form
/// head_logits() takes (for RCPS models both halves carry the averaged pooled stream, so
/// head_logits returns exactly what forward() does).
at::Tensor classifier_input(models::SequenceModel& model, const Encoded& x) {
  const models::ModelOutput out = model->forward(x.ids, x.mask);
  const models::Pooling pooling = model->config().head.pooling;
  if (!model->config().rcps.enabled) return models::pool(out.hidden, x.mask, pooling);
  const auto [forward, reverse] = models::rcps_split(out.hidden);
  const at::Tensor pooled = models::pool((forward + reverse) * 0.5, x.mask, pooling);
  return models::rcps_join(pooled, pooled);
}

/// Everything one training run needs besides its data.
struct Setup {
  models::ModelConfig config;
  models::SequenceModel model{nullptr};
  std::shared_ptr<const tokenize::Tokenizer> tok;
  nlohmann::json start;  ///< {"model": path} or {"arch": name, "tokenizer": spec}
};

Setup make_setup(const FinetuneOptions& o, const Task& task, int64_t num_labels, double target_mean, double target_sd) {
  Setup s;
  const bool classification = task.spec.kind == TaskKind::Classification;
  models::HeadConfig head;
  head.kind = classification ? models::HeadKind::SequenceClassification : models::HeadKind::SequenceRegression;
  head.tied = false;
  head.num_labels = num_labels;
  head.pooling = o.pooling;
  std::map<std::string, at::Tensor> pretrained;
  if (!o.model.empty()) {
    LoadedModel loaded = load_model(o.model);
    s.tok = loaded.tokenizer;
    s.config = loaded.dir.config;
    pretrained = models::state_dict(*loaded.dir.model);
    s.start = {{"model", fs::absolute(o.model).lexically_normal().string()}};
  } else {
    const std::string spec = o.tokenizer.empty() ? default_tokenizer(task.spec.alphabet) : o.tokenizer;
    s.tok = std::shared_ptr<const tokenize::Tokenizer>(tokenizer_registry().create(spec));
    // Bidirectional where the preset has a masked-LM form (sequence labels see the whole
    // sequence); causal presets (Mamba) only have the other.
    try {
      s.config = model_config_for(o.arch, *s.tok, "mlm");
    } catch (const ConfigError&) {
      s.config = model_config_for(o.arch, *s.tok, "clm");
    }
    s.start = {{"arch", o.arch}, {"tokenizer", s.tok->spec()}};
  }
  s.config.head = head;
  nlohmann::json task_info = {{"name", task.spec.name},
                              {"kind", task_kind_name(task.spec.kind)},
                              {"alphabet", task.spec.alphabet},
                              {"classes", task.spec.classes},
                              {"max_len", o.max_len}};
  if (!classification) {
    task_info["target_mean"] = target_mean;
    task_info["target_sd"] = target_sd;
  }
  nlohmann::json provenance = s.config.provenance.is_object() ? s.config.provenance : nlohmann::json::object();
  provenance["version"] = version();
  provenance["git_hash"] = git_hash();
  provenance["command_line"] = o.command_line;
  provenance["finetuned_from"] = s.start;
  provenance["task"] = task_info;
  s.config.provenance = provenance;
  s.config.validate("finetune");

  manual_seed(o.seed);
  s.model = models::SequenceModel(s.config);
  if (!pretrained.empty()) {
    // Keep the embedding and backbone; the new head starts from its initialisation.
    std::map<std::string, at::Tensor> tensors = models::state_dict(*s.model);
    for (auto& [name, t] : tensors) {
      if (name.rfind("head.", 0) == 0) continue;
      const auto it = pretrained.find(name);
      if (it == pretrained.end())
        throw InputError(o.model + ": the model has no tensor '" + name + "' that the fine-tuning model needs");
      t = it->second;
    }
    models::load_state_dict(*s.model, tensors, o.model);
  }
  return s;
}

/// Class probabilities (n, k) or predicted values in task units (n), in row order.
std::vector<double> predict_scores(models::SequenceModel& model, const tokenize::Tokenizer& tok, const Examples& e,
                                   int64_t max_len, int64_t batch, bool classification, double mean, double sd,
                                   const at::Tensor& features = at::Tensor()) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  std::vector<double> out;
  const int64_t n = static_cast<int64_t>(e.size());
  for (int64_t b = 0; b < n; b += batch) {
    const auto rows = range_rows(b, std::min(n, b + batch));
    at::Tensor logits;
    if (features.defined()) {
      logits = model->head_logits(features.narrow(0, b, static_cast<int64_t>(rows.size())));
    } else {
      const Encoded x = encode(tok, e, rows, max_len);
      logits = model->forward(x.ids, x.mask).logits;
    }
    const at::Tensor v = classification ? at::softmax(logits.to(at::kDouble), -1).contiguous()
                                        : (logits.to(at::kDouble).squeeze(-1) * sd + mean).contiguous();
    const double* p = v.data_ptr<double>();
    out.insert(out.end(), p, p + v.numel());
  }
  if (was_training) model->train();
  return out;
}

std::map<std::string, double> score(const Examples& e, const std::vector<double>& scores, bool classification,
                                    int64_t k) {
  return classification ? train::classification_metrics(e.labels, scores, k) : train::regression_metrics(e.values, scores);
}

nlohmann::json metrics_json(const std::map<std::string, double>& m) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : m) j[k] = std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  return j;
}

void write_predictions(const std::string& path, const Examples& e, const std::vector<double>& scores,
                       const TaskSpec& spec) {
  const bool classification = spec.kind == TaskKind::Classification;
  const size_t k = spec.classes.size();
  std::ostringstream out;
  out.precision(6);
  out << "id\tlabel\tpredicted";
  if (classification)
    for (const auto& c : spec.classes) out << "\tp_" << c;
  out << '\n';
  for (size_t i = 0; i < e.size(); ++i) {
    out << e.ids[i] << '\t';
    if (classification) {
      const auto row = scores.begin() + static_cast<std::ptrdiff_t>(i * k);
      const auto best = static_cast<size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(k)) - row);
      out << spec.classes[static_cast<size_t>(e.labels[i])] << '\t' << spec.classes[best];
      for (size_t c = 0; c < k; ++c) out << '\t' << scores[i * k + c];
    } else {
      out << e.values[i] << '\t' << scores[i];
    }
    out << '\n';
  }
  io::write_file_atomic(path, out.str());
}

bool better(double candidate, double best, bool higher) {
  if (std::isnan(candidate)) return false;
  if (std::isnan(best)) return true;
  return higher ? candidate > best : candidate < best;
}

/// One training run on (train, valid), scored on test; writes OUT.
FinetuneRun run_one(const FinetuneOptions& o, const Task& task, const std::string& metric, const std::string& out,
                    FinetuneSummary& summary, const std::shared_ptr<train::Distributed>& dist) {
  // Data-parallel: every rank builds the same model and batches; each scores its rows of every
  // batch (train::shard_rows) and validates on the whole split; only rank 0 writes files.
  const bool main_rank = !dist || dist->is_main();
  const int rank = dist ? dist->rank() : 0, world = dist ? dist->world_size() : 1;
  if (o.batch < world)
    throw ConfigError("finetune: --batch " + std::to_string(o.batch) + " is smaller than the " + std::to_string(world) +
                      " ranks: every rank takes its share of each batch");
  const bool classification = task.spec.kind == TaskKind::Classification;
  const bool probe = o.mode == "probe";
  const int64_t k = classification ? static_cast<int64_t>(task.spec.classes.size()) : 1;
  const Examples train = examples_of(task.train), valid = examples_of(task.valid), test = examples_of(task.test);
  STRAND_CHECK(train.size() > 0, task.dir, ": the training split is empty");
  STRAND_CHECK(valid.size() > 0, task.dir, ": the validation split is empty");

  double mean = 0, sd = 1;
  if (!classification) {
    mean = std::accumulate(train.values.begin(), train.values.end(), 0.0) / static_cast<double>(train.size());
    double var = 0;
    for (const double v : train.values) var += (v - mean) * (v - mean);
    sd = std::sqrt(var / static_cast<double>(train.size()));
    if (!(sd > 0)) sd = 1;
  }
  Setup s = make_setup(o, task, k, mean, sd);
  fs::create_directories(out);
  const std::string best_dir = (fs::path(out) / "model").string();
  const std::string best_json = (fs::path(out) / "best.json").string();

  summary.parameters = 0;
  summary.trainable_parameters = 0;
  for (const auto& item : s.model->named_parameters(/*recurse=*/true)) {
    const bool head = item.key().rfind("head.", 0) == 0;
    if (probe && !head) item.value().set_requires_grad(false);
    summary.parameters += item.value().numel();
    if (item.value().requires_grad()) summary.trainable_parameters += item.value().numel();
  }

  // Probe: the frozen model's classifier inputs, once per split.
  at::Tensor train_features, valid_features, test_features;
  if (probe) {
    torch::NoGradGuard no_grad;
    s.model->eval();
    auto features = [&](const Examples& e, const char* name) {
      std::vector<at::Tensor> parts;
      Progress progress(std::string("probe features (") + name + ")", static_cast<int64_t>(e.size()), "sequences");
      for (int64_t b = 0; b < static_cast<int64_t>(e.size()); b += o.batch) {
        const auto rows = range_rows(b, std::min<int64_t>(static_cast<int64_t>(e.size()), b + o.batch));
        parts.push_back(classifier_input(s.model, encode(*s.tok, e, rows, o.max_len)));
        progress.add(static_cast<int64_t>(rows.size()));
      }
      progress.finish();
      return parts.empty() ? at::Tensor() : at::cat(parts);
    };
    train_features = features(train, "train");
    valid_features = features(valid, "valid");
    if (test.size() > 0) test_features = features(test, "test");
    s.model->train();
  }

  at::Tensor complement;
  std::vector<int64_t> special_ids;
  if (o.rc_augment) {
    const auto map = s.tok->complement_ids();
    if (!map) throw ConfigError("--rc-augment needs a nucleotide tokenizer with a complement map; '" + s.tok->spec() +
                                "' has none");
    complement = at::tensor(std::vector<int64_t>(map->begin(), map->end()), at::kLong);
    const auto sp = s.tok->special_tokens();
    for (const auto& id : {sp.pad, sp.unk, sp.cls, sp.bos, sp.eos, sp.mask})
      if (id) special_ids.push_back(*id);
  }

  const int64_t n = static_cast<int64_t>(train.size());
  const int64_t steps_per_epoch = (n + o.batch - 1) / o.batch;
  int64_t total = o.epochs * steps_per_epoch;
  if (o.max_steps > 0) total = std::min(total, o.max_steps);
  const int64_t eval_every = o.eval_every > 0 ? o.eval_every : steps_per_epoch;

  // The order of epoch e: a permutation drawn from its own stream, so the data position is just
  // (epoch, offset) and resumes exactly.
  int64_t epoch = 0, offset = 0;
  std::vector<int64_t> order;
  auto shuffle = [&] {
    order = range_rows(0, n);
    Rng rng(o.seed, static_cast<uint64_t>(epoch) + 1);
    for (int64_t i = n - 1; i > 0; --i)
      std::swap(order[static_cast<size_t>(i)], order[rng.uniform(static_cast<uint64_t>(i) + 1)]);
  };
  shuffle();

  const at::Tensor train_labels = at::tensor(train.labels, at::kLong);
  std::vector<double> standardised(train.values.size());
  for (size_t i = 0; i < standardised.size(); ++i) standardised[i] = (train.values[i] - mean) / sd;
  const at::Tensor train_targets = at::tensor(standardised, at::kDouble).to(at::kFloat);

  // The summed loss of `rows` (a rank's share) scaled so that the mean over ranks is the mean
  // loss of the whole batch of `batch_rows` rows (libseq/train/trainer.h).
  auto loss_of = [&](const at::Tensor& logits, const at::Tensor& rows, int64_t batch_rows) {
    const at::Tensor sum = classification
                               ? at::cross_entropy_loss(logits, train_labels.index_select(0, rows), {},
                                                        at::Reduction::Sum)
                               : at::mse_loss(logits.squeeze(-1), train_targets.index_select(0, rows), at::Reduction::Sum);
    return sum * (static_cast<double>(world) / static_cast<double>(batch_rows));
  };

  train::TrainerOptions t;
  t.out_dir = out;
  t.optimizer.weight_decay = o.weight_decay;
  t.schedule.peak_lr = o.lr >= 0 ? o.lr : (probe || o.model.empty() ? 1e-3 : 1e-4);
  t.schedule.total_steps = total;
  t.schedule.warmup_steps = static_cast<int64_t>(std::llround(o.warmup_fraction * static_cast<double>(total)));
  t.max_grad_norm = o.clip;
  t.checkpoint_every = eval_every;
  t.log_every = std::max<int64_t>(1, std::min<int64_t>(eval_every, 10));
  t.val_every = eval_every;
  t.seed = o.seed;
  t.progress_label = probe ? "probe" : "finetune";
  t.distributed = dist;

  const bool higher = train::metric_higher_is_better(metric);
  double best_value = std::numeric_limits<double>::quiet_NaN();
  int64_t best_step = 0, bad = 0;
  bool have_best = false;
  std::map<std::string, double> last_valid;
  std::map<std::string, at::Tensor> best_state;

  train::TrainerCallbacks cb;
  cb.micro_step = [&](int64_t) -> train::StepResult {
    if (offset >= n) {
      ++epoch;
      offset = 0;
      shuffle();
    }
    const int64_t end = std::min(n, offset + o.batch);
    const train::RowRange mine = train::shard_rows(end - offset, rank, world);
    const std::vector<int64_t> batch(order.begin() + offset, order.begin() + end);
    offset = end;
    // Augmentation draws for the whole batch on every rank, so the run does not depend on the
    // number of ranks; a rank scores its rows.
    const at::Tensor flip =
        complement.defined() ? at::rand({static_cast<int64_t>(batch.size())}) < 0.5 : at::Tensor();
    const std::vector<int64_t> rows(batch.begin() + mine.begin, batch.begin() + mine.end);
    const int64_t batch_rows = static_cast<int64_t>(batch.size());
    const at::Tensor index = at::tensor(rows, at::kLong);
    if (rows.empty()) {
      // A rank without rows still takes part in the gradient all-reduce with a zero loss.
      at::Tensor zero;
      for (const auto& p : s.model->parameters())
        if (p.requires_grad()) zero = zero.defined() ? zero + p.sum() * 0 : p.sum() * 0;
      return train::StepResult{zero, 0};
    }
    if (probe)
      return train::StepResult{
          loss_of(s.model->head_logits(train_features.index_select(0, index)), index, batch_rows), 0};
    Encoded x = encode(*s.tok, train, rows, o.max_len);
    if (complement.defined()) {
      at::Tensor bases = x.mask.clone();
      for (const int64_t id : special_ids) bases &= x.ids != id;
      x.ids = at::where(flip.narrow(0, mine.begin, mine.size()).unsqueeze(1),
                        train::reverse_complement_batch(x.ids, complement, bases), x.ids);
    }
    const int64_t tokens = x.mask.sum().item<int64_t>();
    return train::StepResult{loss_of(s.model->forward(x.ids, x.mask).logits, index, batch_rows), tokens};
  };
  cb.data_state = [&] { return nlohmann::json{{"epoch", epoch}, {"offset", offset}}; };
  cb.restore_data_state = [&](const nlohmann::json& j) {
    epoch = j.at("epoch").get<int64_t>();
    offset = j.at("offset").get<int64_t>();
    shuffle();
  };
  cb.validate = [&] {
    const std::vector<double> scores =
        predict_scores(s.model, *s.tok, valid, o.max_len, o.batch, classification, mean, sd, valid_features);
    last_valid = score(valid, scores, classification, k);
    train::ValidationResult r;
    for (size_t i = 0; i < valid.size(); ++i) {
      if (classification) {
        r.loss_sum -= std::log(std::max(scores[i * static_cast<size_t>(k) + static_cast<size_t>(valid.labels[i])], 1e-300));
      } else {
        const double z = (scores[i] - valid.values[i]) / sd;
        r.loss_sum += z * z;
      }
    }
    r.tokens = static_cast<int64_t>(valid.size());
    if (!main_rank) {
      // Every rank scored the whole split; the trainer sums over ranks, so one rank reports it.
      r.loss_sum = 0;
      r.tokens = 0;
    }
    return r;
  };
  cb.on_step = [&](const train::StepRecord& rec) {
    if (!rec.val_loss) return;
    const double v = last_valid.at(metric);
    std::ostringstream line;
    line << "step " << rec.step << ": valid " << metric << " " << v;
    if (!have_best || better(v, best_value, higher)) {
      have_best = true;
      best_value = v;
      best_step = rec.step;
      bad = 0;
      best_state.clear();
      for (const auto& [name, tensor] : models::state_dict(*s.model)) best_state[name] = tensor.clone();
      if (main_rank) {
        models::save_model_dir(best_dir, s.config, s.model, s.tok->to_json());
        io::write_file_atomic(best_json, nlohmann::json{{"step", best_step},
                                                      {"metric", metric},
                                                      {"value", std::isfinite(v) ? nlohmann::json(v) : nlohmann::json()},
                                                        {"valid", metrics_json(last_valid)}}
                                             .dump(2));
      }
      line << " (best)";
    } else {
      ++bad;
      line << " (best " << best_value << " at step " << best_step << ")";
    }
    STRAND_LOG_INFO(line.str());
  };

  train::Trainer trainer(s.model.ptr(), t, cb);
  if (o.resume && trainer.resume() && fs::exists(best_json)) {
    std::ifstream in(best_json);
    const nlohmann::json b = nlohmann::json::parse(in);
    have_best = true;
    best_step = b.at("step").get<int64_t>();
    best_value = b.at("value").is_number() ? b.at("value").get<double>() : std::numeric_limits<double>::quiet_NaN();
    // Validations after the best one count against the patience.
    bad = (trainer.step() - best_step) / eval_every;
    for (const auto& [name, tensor] : models::state_dict(*models::load_model_dir(best_dir).model))
      best_state[name] = tensor.clone();
  }
  while (trainer.step() < total) {
    const int64_t next = std::min(total, (trainer.step() / eval_every + 1) * eval_every);
    trainer.run(next);
    if (o.patience > 0 && bad >= o.patience) {
      STRAND_LOG_INFO("early stop at step ", trainer.step(), ": no better valid ", metric, " in ", bad,
                      " validations");
      break;
    }
  }

  FinetuneRun run;
  run.steps = trainer.step();
  run.best_step = best_step;
  if (!best_state.empty()) models::load_state_dict(*s.model, best_state, best_dir);
  run.valid = score(valid, predict_scores(s.model, *s.tok, valid, o.max_len, o.batch, classification, mean, sd,
                                          valid_features),
                    classification, k);
  nlohmann::json report = {{"task", task.spec.name},
                           {"task_dir", task.dir},
                           {"kind", task_kind_name(task.spec.kind)},
                           {"mode", o.mode},
                           {"start", s.start},
                           {"metric", metric},
                           {"steps", run.steps},
                           {"best_step", run.best_step},
                           {"examples", {{"train", train.size()}, {"valid", valid.size()}, {"test", test.size()}}},
                           {"valid", metrics_json(run.valid)}};
  if (test.size() > 0) {
    const std::vector<double> scores =
        predict_scores(s.model, *s.tok, test, o.max_len, o.batch, classification, mean, sd, test_features);
    run.test = score(test, scores, classification, k);
    report["test"] = metrics_json(run.test);
    if (main_rank) write_predictions((fs::path(out) / "predictions.tsv").string(), test, scores, task.spec);
  }
  if (main_rank) io::write_file_atomic((fs::path(out) / "metrics.json").string(), report.dump(2) + "\n");
  return run;
}

}  // namespace

FinetuneSummary run_finetune_on(const FinetuneOptions& o, const std::shared_ptr<train::Distributed>& dist);

FinetuneSummary run_finetune(const FinetuneOptions& o) {
  // Data-parallel when a launcher describes more than one rank (libseq/train/distributed.h).
  train::DistributedOptions d;
  d.timeout = std::chrono::milliseconds(std::llround(o.dist_timeout_s * 1000.0));
  if (!(o.dist_timeout_s > 0 && o.dist_timeout_s < 1e7))
    throw ConfigError("finetune: --dist-timeout must be a positive number of seconds");
  const std::shared_ptr<train::Distributed> dist = train::init_distributed(d);
  if (!dist) return run_finetune_on(o, nullptr);
  train::quiet_unless_main(*dist);
  try {
    FinetuneSummary s = run_finetune_on(o, dist);
    dist->barrier("the end of fine-tuning");
    return s;
  } catch (...) {
    train::report_current_exception(*dist);
    throw;
  }
}

FinetuneSummary run_finetune_on(const FinetuneOptions& o, const std::shared_ptr<train::Distributed>& dist) {
  if (o.model.empty() == o.arch.empty())
    throw ConfigError("finetune: give exactly one of -m MODEL (start from a model) and --arch PRESET (from scratch)");
  if (o.task.empty()) throw ConfigError("finetune: no task given (--task)");
  if (o.out.empty()) throw ConfigError("finetune: no output directory given (--out)");
  if (o.mode != "full" && o.mode != "probe")
    throw ConfigError("finetune: --mode must be 'full' or 'probe', got '" + o.mode + "'");
  if (o.mode == "probe" && o.model.empty())
    throw ConfigError("finetune: --mode probe needs a trained model (-m): a probe on a random backbone measures nothing");
  if (o.mode == "probe" && o.rc_augment) throw ConfigError("finetune: --rc-augment applies to --mode full only");
  if (o.epochs <= 0 || o.batch <= 0 || o.max_len <= 0 || o.eval_every < 0 || o.patience < 0 || o.max_steps < 0)
    throw ConfigError("finetune: --epochs, --batch and --max-len must be positive; --eval-every, --patience and "
                      "--max-steps not negative");
  if (o.folds == 1 || o.folds < 0) throw ConfigError("finetune: --folds must be 0 (one run) or at least 2");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) throw ConfigError("finetune: --val-fraction must be in (0, 1)");
  if (!(o.warmup_fraction >= 0 && o.warmup_fraction < 1))
    throw ConfigError("finetune: --warmup must be a fraction in [0, 1)");
  const auto started = std::chrono::steady_clock::now();

  Task task = load_task(o.task);
  const bool classification = task.spec.kind == TaskKind::Classification;
  if (classification && task.spec.classes.size() < 2)
    throw InputError(o.task + ": a classification task needs at least 2 classes, found " +
                     std::to_string(task.spec.classes.size()));
  FinetuneSummary summary;
  summary.metric = !o.metric.empty() ? o.metric
                   : !task.spec.metric.empty() ? task.spec.metric
                   : classification ? "mcc"
                                    : "spearman";
  static const std::set<std::string> kClassification{"accuracy", "mcc", "f1", "auroc"};
  static const std::set<std::string> kRegression{"spearman", "pearson", "rmse"};
  if ((classification ? kClassification : kRegression).count(summary.metric) == 0)
    throw ConfigError("finetune: metric '" + summary.metric + "' does not apply to a " +
                      task_kind_name(task.spec.kind) + " task (use " +
                      (classification ? "accuracy, mcc, f1 or auroc" : "spearman, pearson or rmse") + ")");

  if (o.folds == 0) {
    if (task.valid.empty()) task.valid = split_off_validation(task.train, o.val_fraction, o.seed);
    summary.runs.push_back(run_one(o, task, summary.metric, o.out, summary, dist));
  } else {
    if (o.resume) throw ConfigError("finetune: --resume applies to single runs, not --folds");
    std::vector<TaskExample> pool = task.train;
    pool.insert(pool.end(), task.valid.begin(), task.valid.end());
    const bool own_folds = task.spec.folds == o.folds &&
                           std::all_of(pool.begin(), pool.end(), [&](const TaskExample& x) { return x.fold >= 0; });
    if (!own_folds) assign_folds(pool, o.folds, o.seed);
    for (int f = 0; f < o.folds; ++f) {
      Task fold = task;
      fold.train.clear();
      fold.valid.clear();
      for (const auto& x : pool) (x.fold == f ? fold.valid : fold.train).push_back(x);
      STRAND_LOG_INFO("fold ", f + 1, "/", o.folds, ": ", fold.train.size(), " train, ", fold.valid.size(), " valid");
      summary.runs.push_back(
          run_one(o, fold, summary.metric, (fs::path(o.out) / ("fold-" + std::to_string(f))).string(), summary, dist));
    }
  }

  // Mean and half-range of the test metrics over the runs.
  std::map<std::string, std::vector<double>> values;
  for (const auto& r : summary.runs)
    for (const auto& [name, v] : r.test) values[name].push_back(v);
  for (const auto& [name, v] : values) {
    const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
    summary.test_mean[name] = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    summary.test_spread[name] = (*hi - *lo) / 2;
  }
  if (o.folds > 0) {
    nlohmann::json runs = nlohmann::json::array();
    for (size_t i = 0; i < summary.runs.size(); ++i)
      runs.push_back({{"fold", i},
                      {"steps", summary.runs[i].steps},
                      {"best_step", summary.runs[i].best_step},
                      {"valid", metrics_json(summary.runs[i].valid)},
                      {"test", metrics_json(summary.runs[i].test)}});
    const nlohmann::json report = {{"task", task.spec.name},     {"task_dir", task.dir},
                                   {"mode", o.mode},             {"metric", summary.metric},
                                   {"folds", o.folds},           {"runs", runs},
                                   {"test_mean", metrics_json(summary.test_mean)},
                                   {"test_half_range", metrics_json(summary.test_spread)},
                                   {"command_line", o.command_line}};
    if (!dist || dist->is_main()) io::write_file_atomic((fs::path(o.out) / "metrics.json").string(), report.dump(2) + "\n");
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

PredictSummary run_predict(const PredictOptions& o) {
  if (o.model.empty()) throw ConfigError("predict: no model given (-m)");
  if (o.inputs.empty()) throw ConfigError("predict: no input given (-i)");
  if (o.output.empty()) throw ConfigError("predict: no output file given (-o)");
  if (o.batch <= 0 || o.max_len < 0) throw ConfigError("predict: --batch must be positive and --max-len not negative");
  const auto started = std::chrono::steady_clock::now();
  LoadedModel loaded = load_model(o.model);
  const models::ModelConfig& config = loaded.dir.config;
  const bool classification = config.head.kind == models::HeadKind::SequenceClassification;
  if (!classification && config.head.kind != models::HeadKind::SequenceRegression)
    throw ConfigError(o.model + ": the model has a '" + models::head_kind_name(config.head.kind) +
                      "' head; predict needs a model fine-tuned by `strand finetune` (seq_cls or seq_reg)");
  const nlohmann::json& prov = config.provenance;
  if (!prov.is_object() || !prov.contains("task") || !prov.at("task").is_object())
    throw ConfigError(o.model + "/config.json: provenance.task is missing; predict needs a model written by "
                                "`strand finetune`");
  const nlohmann::json& info = prov.at("task");
  const std::string alphabet = info.value("alphabet", std::string("dna"));
  const std::vector<std::string> classes = info.value("classes", std::vector<std::string>{});
  if (classification && static_cast<int64_t>(classes.size()) != config.head.num_labels)
    throw ConfigError(o.model + "/config.json: provenance.task.classes lists " + std::to_string(classes.size()) +
                      " classes but the head has " + std::to_string(config.head.num_labels));
  const double mean = info.value("target_mean", 0.0), sd = info.value("target_sd", 1.0);
  const int64_t max_len = o.max_len > 0 ? o.max_len : info.value("max_len", int64_t{1024});

  std::ostringstream out;
  out.precision(6);
  out << "id\tpredicted";
  if (classification)
    for (const auto& c : classes) out << "\tp_" << c;
  out << '\n';
  PredictSummary summary;
  for (const auto& path : o.inputs) {
    const std::vector<TaskExample> rows = read_unlabelled(path, alphabet);
    const Examples e = examples_of(rows);
    const std::vector<double> scores = predict_scores(loaded.dir.model, *loaded.tokenizer, e, max_len, o.batch,
                                                      classification, mean, sd);
    const size_t k = classes.size();
    for (size_t i = 0; i < e.size(); ++i) {
      out << e.ids[i] << '\t';
      if (classification) {
        const auto row = scores.begin() + static_cast<std::ptrdiff_t>(i * k);
        out << classes[static_cast<size_t>(std::max_element(row, row + static_cast<std::ptrdiff_t>(k)) - row)];
        for (size_t c = 0; c < k; ++c) out << '\t' << scores[i * k + c];
      } else {
        out << scores[i];
      }
      out << '\n';
    }
    summary.rows += static_cast<int64_t>(e.size());
  }
  io::write_file_atomic(o.output, out.str());
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace strand::pipelines
