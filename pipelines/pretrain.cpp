#include "pipelines/pretrain.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>

#include "bio/data/dataset.h"
#include "libseq/core/error.h"
#include "libseq/core/log.h"
#include "libseq/core/random.h"
#include "libseq/core/version.h"
#include "libseq/models/model.h"
#include "libseq/train/distributed.h"
#include "libseq/train/objectives.h"
#include "libseq/train/trainer.h"
#include "pipelines/presets.h"
#include "pipelines/registry.h"

namespace strand::pipelines {

namespace {

bio::data::SplitBy choose_split(const PretrainOptions& o) {
  if (o.split == "record") return bio::data::SplitBy::Record;
  if (o.split == "region") return bio::data::SplitBy::Region;
  if (o.split != "auto") throw ConfigError("--split must be record, region or auto, got '" + o.split + "'");
  // Reads are held out whole; genomes and contigs lose the end of every record.
  for (const auto& path : o.data)
    if (bio::io::detect_format(path) != bio::io::SequenceFormat::Fasta) return bio::data::SplitBy::Record;
  return bio::data::SplitBy::Region;
}

// Token classes for the objectives: which ids may be masked, and the contiguous id range random
// replacements are drawn from (the longest run of maskable ids: A C G T, the 6-mers, codons...).
struct TokenClasses {
  at::Tensor maskable;  // (V) bool
  at::Tensor special;   // (V) bool
  int64_t random_lo = 0;
  int64_t random_hi = 0;
};

TokenClasses token_classes(const tokenize::Tokenizer& tok) {
  const int64_t v = tok.vocab_size();
  TokenClasses c;
  c.maskable = at::zeros({v}, at::kBool);
  c.special = at::zeros({v}, at::kBool);
  auto* m = c.maskable.data_ptr<bool>();
  auto* sp = c.special.data_ptr<bool>();
  int64_t run_start = 0;
  for (int64_t id = 0; id <= v; ++id) {
    bool ok = false;
    if (id < v) {
      const auto t = static_cast<tokenize::TokenId>(id);
      sp[id] = tok.is_special(t);
      ok = !sp[id] && tok.token(t) != "N" && tok.token(t) != "n";
      m[id] = ok;
    }
    if (!ok) {
      if (id - run_start > c.random_hi - c.random_lo) {
        c.random_lo = run_start;
        c.random_hi = id;
      }
      run_start = id + 1;
    }
  }
  STRAND_CHECK(c.random_hi > c.random_lo, "tokenizer '", tok.spec(), "' has no ordinary (non-special) tokens");
  return c;
}

// table (V) looked up at every id of ids (B, L) -> (B, L).
at::Tensor per_token(const at::Tensor& table, const at::Tensor& ids) { return table.index({ids}); }

// A batch made ready for the model. Augmentation and MLM corruption are applied to the whole
// global batch, so every rank of a data-parallel job draws the same random numbers as a single
// process would, and then scores its own rows.
struct PreparedBatch {
  at::Tensor input;   // (B, L) ids the model sees
  at::Tensor ids;     // (B, L) ids after augmentation (CLM targets)
  at::Tensor mask;    // (B, L) bool
  at::Tensor labels;  // (B, L) MLM targets (undefined for CLM)
};

// Rows [begin, end) of t, or t itself when that is all of it.
at::Tensor rows_of(const at::Tensor& t, int64_t begin, int64_t end) {
  return begin == 0 && end == t.size(0) ? t : t.narrow(0, begin, end - begin);
}

PretrainSummary run_pretrain_on(const PretrainOptions& o, const std::shared_ptr<train::Distributed>& dist) {
  const auto started = std::chrono::steady_clock::now();
  const int rank = dist ? dist->rank() : 0;
  const int world = dist ? dist->world_size() : 1;
  if (o.batch < world) {
    throw ConfigError("pretrain: --batch " + std::to_string(o.batch) + " is smaller than the " + std::to_string(world) +
                      " ranks: every rank takes its share of each batch of --batch windows");
  }

  std::shared_ptr<const tokenize::Tokenizer> tok =
      o.tokenizer_file.empty() ? std::shared_ptr<const tokenize::Tokenizer>(tokenizer_registry().create(o.tokenizer))
                               : std::shared_ptr<const tokenize::Tokenizer>(tokenizer_registry().load(o.tokenizer_file));
  models::ModelConfig config = model_config_for(o.arch, *tok, o.objective);
  nlohmann::json data = nlohmann::json::array();
  for (const auto& path : o.data) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    data.push_back({{"path", std::filesystem::absolute(path).lexically_normal().string()},
                    {"bytes", ec ? -1 : static_cast<int64_t>(size)}});
  }
  config.provenance = {{"version", version()},
                       {"git_hash", git_hash()},
                       {"command_line", o.command_line},
                       {"training_data", data},
                       {"objective", o.objective},
                       {"steps", o.steps},
                       {"seq_len", o.seq_len},
                       {"seed", o.seed}};
  const bool mlm = o.objective == "mlm";

  manual_seed(o.seed);
  models::SequenceModel model(config);
  PretrainSummary summary;
  summary.out = o.out;
  summary.rank = rank;
  summary.world_size = world;
  for (const auto& p : model->parameters()) summary.parameters += p.numel();

  bio::data::WindowDatasetOptions d;
  d.paths = o.data;
  d.read = o.read;
  d.window = o.seq_len;
  d.batch_size = o.batch;
  d.seed = o.seed;
  d.split.validation_fraction = o.val_fraction;
  d.split.by = choose_split(o);
  d.split.seed = o.seed;
  bio::data::WindowDataset dataset(d, tok);

  const TokenClasses classes = token_classes(*tok);
  at::Tensor complement;
  if (o.rc_augment) {
    const auto map = tok->complement_ids();
    if (!map) throw ConfigError("--rc-augment needs a nucleotide tokenizer with a complement map; '" + tok->spec() +
                                "' has none");
    complement = at::tensor(std::vector<int64_t>(map->begin(), map->end()), at::kLong);
  }
  train::MlmMaskOptions mask_options;
  if (mlm) {
    const auto mask_id = tok->special_tokens().mask;
    if (!mask_id) throw ConfigError("--objective mlm needs a tokenizer with a mask token; '" + tok->spec() + "' has none");
    mask_options.mask_token_id = *mask_id;
    mask_options.random_lo = classes.random_lo;
    mask_options.random_hi = classes.random_hi;
    mask_options.select_prob = o.mask_prob;
    mask_options.mean_span_length = o.mean_span;
    mask_options.validate();
  }

  // Augmentation and (MLM) corruption of one batch. `generator` fixes the MLM masks of validation
  // batches, so every validation scores the same positions.
  const auto prepare = [&](const bio::data::Batch& b, bool augment,
                           compat::optional<at::Generator> generator) -> PreparedBatch {
    at::Tensor ids = b.ids;
    const at::Tensor& mask = b.attention_mask;
    if (augment && complement.defined()) {
      const at::Tensor flip = at::rand({ids.size(0)}) < 0.5;
      // Every real token but the specials (<cls>, <eos>) is reversed and complemented, N included.
      const at::Tensor bases = mask & ~per_token(classes.special, ids);
      const at::Tensor rc = train::reverse_complement_batch(ids, complement, bases);
      ids = at::where(flip.unsqueeze(1), rc, ids);
    }
    if (!mlm) return PreparedBatch{ids, ids, mask, at::Tensor()};
    const at::Tensor content = mask & per_token(classes.maskable, ids);
    const train::MlmBatch masked = train::mlm_mask(ids, content, mask_options, generator);
    return PreparedBatch{masked.input_ids, ids, mask, masked.labels};
  };
  // Loss of rows [begin, end) of a prepared batch: the summed loss in nats and the number of
  // scored tokens.
  const auto score = [&](const PreparedBatch& p, int64_t begin, int64_t end) -> train::TokenLoss {
    const at::Tensor input = rows_of(p.input, begin, end);
    const at::Tensor mask = rows_of(p.mask, begin, end);
    if (!mlm) return train::clm_loss(model->forward(input, mask).logits, rows_of(p.ids, begin, end), mask);
    return train::mlm_loss(model->forward(input, mask).logits, rows_of(p.labels, begin, end));
  };
  // Targets the loss of the whole batch averages over (what clm_loss / mlm_loss count).
  const auto scored_targets = [&](const PreparedBatch& p) -> int64_t {
    if (mlm) return (p.labels != train::kIgnoreIndex).sum().item<int64_t>();
    const int64_t l = p.mask.size(1);
    if (l < 2) return 0;
    return (p.mask.narrow(1, 0, l - 1) & p.mask.narrow(1, 1, l - 1)).sum().item<int64_t>();
  };

  // Order-0 baseline over the validation targets (see pretrain.h), computed once.
  {
    auto pass = dataset.validation(o.val_windows);
    bio::data::Batch b;
    std::map<int64_t, int64_t> counts;
    int64_t targets = 0, scored_bases = 0;
    while (pass.next(b)) {
      const at::Tensor& mask = b.attention_mask;
      at::Tensor chosen;
      if (mlm) {
        chosen = b.ids.masked_select(mask & per_token(classes.maskable, b.ids));
      } else {
        const int64_t l = b.ids.size(1);
        chosen = b.ids.narrow(1, 1, l - 1).masked_select(mask.narrow(1, 0, l - 1) & mask.narrow(1, 1, l - 1));
      }
      const auto* p = chosen.data_ptr<int64_t>();
      for (int64_t i = 0; i < chosen.numel(); ++i) ++counts[p[i]];
      targets += chosen.numel();
      scored_bases += b.real_bases;
    }
    STRAND_CHECK(targets > 0 && scored_bases > 0, "pretrain: the validation split holds no data (",
                 o.val_fraction, " of the input); use more data or a larger --val-fraction");
    double bits = 0;
    for (const auto& [id, n] : counts) bits -= static_cast<double>(n) * std::log2(static_cast<double>(n) / targets);
    summary.baseline_bits_per_base = bits / static_cast<double>(scored_bases);
  }

  train::TrainerOptions t;
  t.out_dir = o.out;
  t.optimizer.weight_decay = o.weight_decay;
  t.schedule.peak_lr = o.lr;
  t.schedule.total_steps = o.steps;
  t.schedule.warmup_steps = o.warmup >= 0 ? std::min(o.warmup, o.steps) : o.steps / 20;
  t.schedule.min_lr_ratio = o.min_lr_ratio;
  t.accum_steps = o.accum;
  t.max_grad_norm = o.clip;
  t.checkpoint_every = o.checkpoint_every;
  t.log_every = o.log_every;
  t.val_every = o.val_every;
  t.seed = o.seed;
  t.progress_label = "pretrain";
  t.distributed = dist;

  train::TrainerCallbacks cb;
  cb.micro_step = [&](int64_t) {
    bio::data::Batch b;
    if (!dataset.next(b)) throw InternalError("the training stream ended although it is endless");
    const PreparedBatch p = prepare(b, true, compat::nullopt);
    if (!dist) {
      const train::TokenLoss loss = score(p, 0, p.input.size(0));
      return train::StepResult{loss.mean, b.attention_mask.sum().item<int64_t>()};
    }
    // Every rank read the same global batch; this one scores its rows, weighted so that the mean
    // over ranks of the returned losses is the loss of the whole batch (see trainer.h).
    const train::RowRange rows = train::shard_rows(p.input.size(0), rank, world);
    const train::TokenLoss loss = score(p, rows.begin, rows.end);
    const double weight = static_cast<double>(world) / static_cast<double>(std::max<int64_t>(1, scored_targets(p)));
    const int64_t tokens = rows_of(p.mask, rows.begin, rows.end).sum().item<int64_t>();
    return train::StepResult{loss.sum * weight, tokens};
  };
  cb.data_state = [&] { return dataset.state(); };
  cb.restore_data_state = [&](const nlohmann::json& s) { dataset.restore(s); };
  cb.validate = [&] {
    auto pass = dataset.validation(o.val_windows);
    at::Generator gen = at::detail::createCPUGenerator(o.seed ^ 0x5eedULL);
    bio::data::Batch b;
    train::ValidationResult r;
    int64_t bases = 0, maskable = 0, index = 0;
    while (pass.next(b)) {
      const PreparedBatch p = prepare(b, false, gen);
      // Data-parallel: batch i is scored by rank i mod world (every rank still draws every batch's
      // masks, so the masks do not depend on the number of ranks).
      if (index++ % world != rank) continue;
      const train::TokenLoss loss = score(p, 0, p.input.size(0));
      r.loss_sum += loss.sum.item<double>();
      r.tokens += loss.count.item<int64_t>();
      bases += b.real_bases;
      if (mlm) maskable += (b.attention_mask & per_token(classes.maskable, b.ids))
                               .sum()
                               .item<int64_t>();
    }
    // MLM scores a sample of the tokens: its bases are the share of bases those tokens stand for.
    // (Data-parallel: each rank's share, which the trainer adds up; a rank may have none.)
    const int64_t sampled_bases =
        std::llround(static_cast<double>(bases) * r.tokens / std::max<int64_t>(1, maskable));
    r.bases = mlm ? (dist ? sampled_bases : std::max<int64_t>(1, sampled_bases)) : bases;
    return r;
  };
  cb.on_step = [&](const train::StepRecord& rec) {
    summary.last_loss = rec.loss;
    if (rec.val_bits_per_base) {
      if (!summary.first_val_bits_per_base) summary.first_val_bits_per_base = rec.val_bits_per_base;
      summary.val_bits_per_base = rec.val_bits_per_base;
    }
  };

  train::Trainer trainer(model.ptr(), t, cb);
  if (o.resume) {
    if (!trainer.resume()) STRAND_LOG_INFO("no checkpoint in ", o.out, "/train_state: starting from step 0");
  }
  const int64_t until = o.stop_after > 0 ? std::min(o.steps, trainer.step() + o.stop_after) : o.steps;
  const int64_t tokens_before = trainer.tokens_seen();
  const auto train_start = std::chrono::steady_clock::now();
  trainer.run(until);
  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - train_start).count();
  summary.steps = trainer.step();
  const auto run_tokens = static_cast<double>(trainer.tokens_seen() - tokens_before);  // all ranks
  summary.tokens_per_s = train_seconds > 0 ? run_tokens / train_seconds : 0;
  if (summary.steps >= o.steps) {
    if (!dist || dist->is_main()) models::save_model_dir(o.out, config, model, tok->to_json());
    summary.finished = true;
  }
  // Nobody reports success before rank 0 has written the model (or failed to).
  if (dist) dist->barrier("the end of training");
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return summary;
}

}  // namespace

PretrainSummary run_pretrain(const PretrainOptions& o) {
  if (o.data.empty()) throw ConfigError("pretrain: no training data given (--data)");
  if (o.out.empty()) throw ConfigError("pretrain: no output directory given (--out)");
  if (o.steps <= 0 || o.batch <= 0 || o.accum <= 0 || o.seq_len <= 0)
    throw ConfigError("pretrain: --steps, --batch, --accum and --seq-len must be positive");
  if (!(o.val_fraction > 0 && o.val_fraction < 1)) throw ConfigError("pretrain: --val-fraction must be in (0, 1)");
  if (!(o.dist_timeout_s > 0 && o.dist_timeout_s < 1e7))
    throw ConfigError("pretrain: --dist-timeout must be a positive number of seconds");

  // Data-parallel when a launcher describes more than one rank (libseq/train/distributed.h).
  train::DistributedOptions d;
  d.timeout = std::chrono::milliseconds(std::llround(o.dist_timeout_s * 1000.0));
  const std::shared_ptr<train::Distributed> dist = train::init_distributed(d);
  if (!dist) return run_pretrain_on(o, nullptr);
  train::quiet_unless_main(*dist);
  try {
    return run_pretrain_on(o, dist);
  } catch (...) {
    train::report_current_exception(*dist);
    throw;
  }
}

}  // namespace strand::pipelines
