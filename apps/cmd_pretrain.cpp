#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/presets.h"
#include "pipelines/pretrain.h"

namespace strand::apps {

int cmd_pretrain(int argc, char** argv) {
  CommonOptions common;
  pipelines::PretrainOptions o;
  std::string presets;
  for (const auto& [name, summary] : pipelines::model_presets()) presets += "\n  " + name + ": " + summary;
  po::options_description opts("pretrain options");
  opts.add_options()
    ("data,d", po::value<std::vector<std::string>>(&o.data)->multitoken()->composing()->required(),
     "training sequences: FASTA/FASTQ (plain, gzip, bgzip), SAM, BAM or CRAM; repeatable")
    ("out,o", po::value<std::string>(&o.out)->required(), "output directory (model, metrics.jsonl, train_state/)")
    ("tokenizer,k", po::value<std::string>(&o.tokenizer)->default_value(o.tokenizer),
     "tokenizer spec: char, ntv2-6mer, caduceus, kmer-overlap:K, codon, protein")
    ("tokenizer-file", po::value<std::string>(&o.tokenizer_file), "load the tokenizer from a tokenizer.json")
    ("arch", po::value<std::string>(&o.arch)->default_value(o.arch),
     ("preset (parameter counts with the char tokenizer) or config.json:" + presets).c_str())
    ("objective", po::value<std::string>(&o.objective)->default_value(o.objective),
     "clm (causal, next token) or mlm (masked, bidirectional)")
    ("steps", po::value<int64_t>(&o.steps)->default_value(o.steps), "optimizer steps")
    ("batch", po::value<int64_t>(&o.batch)->default_value(o.batch), "windows per micro-batch")
    ("accum", po::value<int64_t>(&o.accum)->default_value(o.accum), "micro-batches per step (gradient accumulation)")
    ("seq-len", po::value<int64_t>(&o.seq_len)->default_value(o.seq_len), "bases per training window")
    ("lr", po::value<double>(&o.lr)->default_value(o.lr), "peak learning rate (AdamW)")
    ("warmup", po::value<int64_t>(&o.warmup)->default_value(o.warmup), "warm-up steps (-1 = 5% of --steps), then cosine decay")
    ("min-lr-ratio", po::value<double>(&o.min_lr_ratio)->default_value(o.min_lr_ratio), "final learning rate / peak")
    ("weight-decay", po::value<double>(&o.weight_decay)->default_value(o.weight_decay),
     "decoupled weight decay (not on norms, biases, embeddings)")
    ("clip", po::value<double>(&o.clip)->default_value(o.clip), "gradient-norm clipping (0 = off)")
    ("val-fraction", po::value<double>(&o.val_fraction)->default_value(o.val_fraction), "held-out share of the data")
    ("split", po::value<std::string>(&o.split)->default_value(o.split),
     "record (hold out whole records), region (the end of every record) or auto")
    ("val-every", po::value<int64_t>(&o.val_every)->default_value(o.val_every), "steps between validations")
    ("val-windows", po::value<int64_t>(&o.val_windows)->default_value(o.val_windows), "windows per validation")
    ("checkpoint-every", po::value<int64_t>(&o.checkpoint_every)->default_value(o.checkpoint_every),
     "steps between checkpoints in OUT/train_state")
    ("log-every", po::value<int64_t>(&o.log_every)->default_value(o.log_every), "steps between metrics.jsonl lines")
    ("rc-augment", po::bool_switch(&o.rc_augment), "reverse-complement half of the windows (DNA tokenizers)")
    ("mask-prob", po::value<double>(&o.mask_prob)->default_value(o.mask_prob), "mlm: share of tokens selected")
    ("mean-span", po::value<double>(&o.mean_span)->default_value(o.mean_span), "mlm: mean masked span length")
    ("resume", po::bool_switch(&o.resume), "continue from the last checkpoint in OUT/train_state")
    ("stop-after", po::value<int64_t>(&o.stop_after)->default_value(0),
     "stop this run after N steps (checkpointed), e.g. to fit a batch-job time limit; 0 = run to --steps")
    ("skip-invalid", po::bool_switch(&o.read.skip_invalid), "skip malformed records (counted)")
    ("dist-timeout", po::value<double>(&o.dist_timeout_s)->default_value(o.dist_timeout_s),
     "data-parallel runs (torchrun, srun, mpirun): seconds to wait for the other ranks at start-up and in "
     "each collective before failing");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand pretrain --data FILE... --out DIR [options]",
                     "Pretrains a model (tokenizer + backbone + LM head) on sequence files with a causal or masked "
                     "language-modelling objective. Writes OUT/config.json, model.safetensors and tokenizer.json "
                     "when done, metrics.jsonl as it goes, and checkpoints that --resume continues exactly. "
                     "Started by torchrun, srun or mpirun with several processes, it trains data-parallel (each "
                     "process takes its share of every batch; rank 0 writes the outputs).",
                     opts, common, vm))
    return 0;
  o.seed = common.seed;
  o.command_line = command_line(argc, argv);
  const auto s = pipelines::run_pretrain(o);
  if (s.rank != 0) return 0;  // rank 0 speaks for a data-parallel job
  std::fprintf(stderr, "model: %lld parameters; %lld steps; last training loss %.4f; %.0f tokens/s\n",
               static_cast<long long>(s.parameters), static_cast<long long>(s.steps), s.last_loss, s.tokens_per_s);
  if (s.val_bits_per_base)
    std::fprintf(stderr, "validation: %.4f bits per base (order-0 entropy of the validation data: %.4f)\n",
                 *s.val_bits_per_base, s.baseline_bits_per_base);
  std::cerr << (s.finished ? "model directory: " : "stopped before --steps; resume with --resume: ") << s.out << "\n";
  return 0;
}

}  // namespace strand::apps
