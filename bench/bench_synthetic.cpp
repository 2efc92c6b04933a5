// Synthetic tasks of the Mamba paper (Gu & Dao 2023, arXiv:2312.00752, §4.1 and App. E.1),
// trained from scratch on the CPU with strand's models and kernels:
//
//   induction  Induction heads: random tokens over a 16-symbol vocabulary, one special token
//              (id 15) at a random position followed by the token to recall, and the special
//              token again at the end; the model must output the recalled token at the last
//              position. Trained at one length, tested at longer ones (length extrapolation).
//   copying    Selective copying: M data tokens (ids 1..14) at random positions of a region of
//              noise tokens (id 0), followed by M marker tokens (id 15); at the i-th marker the
//              model must output the i-th data token. A time-invariant model cannot solve it
//              with a fixed-lag kernel because the positions are random.
//
// Models (--model): "mamba" (2 Mamba-1 blocks, d_model 64, no MLP: the paper's setting),
// "lti" (the same with the selective scan replaced by its time-invariant ablation: Δ, B and C do
// not depend on the input), "attention" (2 attention blocks with rotary positions and a SwiGLU
// MLP, d_model 128, 8 heads: the paper's MHA-RoPE baseline width).
//
// Training: fresh random batches every step, Adam (no weight decay), constant learning rate,
// loss on the answer positions only. Every --eval-every steps the model is evaluated on
// --eval-samples fresh sequences at the training length; training stops early once that
// accuracy reaches --target. At the end it is evaluated at every --test-lens length and one
// markdown table row is printed per length.
//
//   build/bench/bench_synthetic induction --model mamba --steps 20000
//   build/bench/bench_synthetic copying --model lti --len 256 --tokens 8
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/types.h>
#include <torch/nn/utils/clip_grad.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <sstream>
#include <string>
#include <vector>

#include "libseq/core/parallel.h"
#include "libseq/core/random.h"
#include "libseq/models/model.h"
#include "libseq/train/optim.h"

namespace {

constexpr int64_t kVocab = 16;
constexpr int64_t kSpecial = 15;  // induction: the cue; copying: the marker
constexpr int64_t kNoise = 0;     // copying only

struct Options {
  std::string task;
  std::string model = "mamba";
  int64_t len = 256;          // induction: sequence length; copying: region length
  int64_t tokens = 8;         // copying: data tokens to memorise
  int64_t steps = 20000;
  int64_t batch = 8;
  double lr = 1e-3;
  int64_t eval_every = 250;
  int64_t eval_samples = 512;
  double target = 1.0;
  std::vector<int64_t> test_lens;
  uint64_t seed = 1;
  int threads = 0;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "%s\nusage: bench_synthetic induction|copying [--model mamba|lti|attention] [--len N] [--tokens M]\n"
               "       [--steps N] [--batch N] [--lr X] [--eval-every N] [--eval-samples N] [--target ACC]\n"
               "       [--test-lens N,N,...] [--seed N] [--threads N]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("missing task");
  Options o;
  o.task = argv[1];
  if (o.task != "induction" && o.task != "copying") usage("unknown task '" + o.task + "'");
  for (int i = 2; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage("missing value for " + key);
    const std::string value = argv[++i];
    try {
      if (key == "--model") o.model = value;
      else if (key == "--len") o.len = std::stoll(value);
      else if (key == "--tokens") o.tokens = std::stoll(value);
      else if (key == "--steps") o.steps = std::stoll(value);
      else if (key == "--batch") o.batch = std::stoll(value);
      else if (key == "--lr") o.lr = std::stod(value);
      else if (key == "--eval-every") o.eval_every = std::stoll(value);
      else if (key == "--eval-samples") o.eval_samples = std::stoll(value);
      else if (key == "--target") o.target = std::stod(value);
      else if (key == "--seed") o.seed = std::stoull(value);
      else if (key == "--threads") o.threads = std::stoi(value);
      else if (key == "--test-lens") {
        std::stringstream ss(value);
        std::string item;
        while (std::getline(ss, item, ',')) o.test_lens.push_back(std::stoll(item));
      } else {
        usage("unknown option " + key);
      }
    } catch (const std::logic_error&) {
      usage("bad value '" + value + "' for " + key);
    }
  }
  if (o.model != "mamba" && o.model != "lti" && o.model != "attention") usage("unknown model '" + o.model + "'");
  if (o.len < 4 || o.tokens < 1 || o.steps < 1 || o.batch < 1 || o.eval_every < 1 || o.eval_samples < 1)
    usage("sizes must be positive (and --len >= 4)");
  if (o.task == "copying" && o.tokens > o.len) usage("--tokens must not exceed --len");
  if (o.test_lens.empty()) o.test_lens = {o.len};
  return o;
}

/// A batch of sequences with the positions whose prediction is scored and the expected tokens.
struct Batch {
  at::Tensor ids;       // (batch, length) int64
  at::Tensor positions; // (batch, answers) int64: where each answer is predicted
  at::Tensor answers;   // (batch, answers) int64
};

Batch induction_batch(strand::Rng& rng, int64_t batch, int64_t len) {
  at::Tensor ids = at::empty({batch, len}, at::kLong);
  at::Tensor answers = at::empty({batch, 1}, at::kLong);
  auto* p = ids.data_ptr<int64_t>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t* row = p + b * len;
    for (int64_t t = 0; t < len; ++t) row[t] = static_cast<int64_t>(rng.uniform(kSpecial));  // 0..14
    const int64_t cue = static_cast<int64_t>(rng.uniform(static_cast<uint64_t>(len - 2)));   // 0..len-3
    row[cue] = kSpecial;
    row[len - 1] = kSpecial;
    answers[b][0] = row[cue + 1];
  }
  return {ids, at::full({batch, 1}, len - 1, at::kLong), answers};
}

Batch copying_batch(strand::Rng& rng, int64_t batch, int64_t region, int64_t tokens) {
  const int64_t len = region + tokens;
  at::Tensor ids = at::full({batch, len}, kNoise, at::kLong);
  at::Tensor answers = at::empty({batch, tokens}, at::kLong);
  auto* p = ids.data_ptr<int64_t>();
  auto* a = answers.data_ptr<int64_t>();
  std::vector<char> used(static_cast<size_t>(region));
  for (int64_t b = 0; b < batch; ++b) {
    int64_t* row = p + b * len;
    std::fill(used.begin(), used.end(), 0);
    for (int64_t chosen = 0; chosen < tokens;) {  // `tokens` distinct positions
      const auto pos = rng.uniform(static_cast<uint64_t>(region));
      if (used[pos]) continue;
      used[pos] = 1;
      ++chosen;
    }
    int64_t k = 0;
    for (int64_t t = 0; t < region; ++t) {
      if (!used[static_cast<size_t>(t)]) continue;
      row[t] = 1 + static_cast<int64_t>(rng.uniform(kVocab - 2));  // 1..14
      a[b * tokens + k++] = row[t];
    }
    for (int64_t t = region; t < len; ++t) row[t] = kSpecial;
  }
  at::Tensor positions = at::arange(region, len, at::kLong).unsqueeze(0).expand({batch, tokens}).contiguous();
  return {ids, positions, answers};
}

Batch make_batch(const Options& o, strand::Rng& rng, int64_t batch, int64_t len) {
  return o.task == "induction" ? induction_batch(rng, batch, len) : copying_batch(rng, batch, len, o.tokens);
}

strand::models::ModelConfig model_config(const Options& o) {
  strand::models::ModelConfig c;
  c.vocab_size = kVocab;
  c.pad_id = 0;
  c.head.kind = strand::models::HeadKind::CausalLM;
  c.backbone.causal = true;
  if (o.model == "attention") {
    c.backbone.d_model = 128;
    c.backbone.pattern = "AA";
    c.backbone.mixers = {{"A", {{"n_heads", 8}}}};
  } else {
    c.backbone.d_model = 64;
    c.backbone.pattern = "MM";
    c.backbone.mlp = strand::nn::MlpKind::None;
    c.backbone.mixers = {{"M", {{"selective", o.model == "mamba"}}}};
  }
  c.backbone.normalise("bench_synthetic");
  return c;
}

/// Logits at the answer positions: (batch, answers, vocab).
at::Tensor answer_logits(strand::models::SequenceModel& model, const Batch& b) {
  const at::Tensor logits = model->forward(b.ids, at::Tensor()).logits;
  const at::Tensor index = b.positions.unsqueeze(-1).expand({b.positions.size(0), b.positions.size(1), kVocab});
  return logits.gather(1, index);
}

double evaluate(const Options& o, strand::models::SequenceModel& model, strand::Rng& rng, int64_t len,
                int64_t samples) {
  const at::NoGradGuard no_grad;
  model->eval();
  // Long sequences in smaller batches: memory grows with batch x length.
  const int64_t per_batch = std::max<int64_t>(1, std::min<int64_t>(64, (int64_t{1} << 18) / len));
  int64_t correct = 0, total = 0;
  for (int64_t done = 0; done < samples; done += per_batch) {
    const Batch b = make_batch(o, rng, std::min(per_batch, samples - done), len);
    const at::Tensor predicted = answer_logits(model, b).argmax(-1);
    correct += predicted.eq(b.answers).sum().item<int64_t>();
    total += b.answers.numel();
  }
  model->train();
  return static_cast<double>(correct) / static_cast<double>(total);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    strand::set_num_threads(o.threads);
    strand::manual_seed(o.seed);
    strand::Rng train_rng(o.seed, 1), eval_rng(o.seed, 2);
    strand::models::SequenceModel model(model_config(o));
    int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    strand::train::AdamWOptions adam;
    adam.lr = o.lr;
    adam.weight_decay = 0.0;
    auto optimizer = strand::train::make_adamw(*model, adam);
    std::printf("task %s, model %s (%lld parameters), train length %lld, batch %lld, lr %g, %d threads\n",
                o.task.c_str(), o.model.c_str(), static_cast<long long>(params), static_cast<long long>(o.len),
                static_cast<long long>(o.batch), o.lr, strand::num_threads());
    const auto start = std::chrono::steady_clock::now();
    const auto seconds = [&] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    int64_t step = 0;
    double loss_sum = 0;
    double accuracy = 0;
    for (step = 1; step <= o.steps; ++step) {
      const Batch b = make_batch(o, train_rng, o.batch, o.len);
      const at::Tensor logits = answer_logits(model, b);
      const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, kVocab}), b.answers.reshape({-1}));
      optimizer->zero_grad();
      loss.backward();
      torch::nn::utils::clip_grad_norm_(model->parameters(), 1.0);
      optimizer->step();
      loss_sum += loss.item<double>();
      if (step % o.eval_every == 0 || step == o.steps) {
        accuracy = evaluate(o, model, eval_rng, o.len, o.eval_samples);
        const int64_t n = step % o.eval_every == 0 ? o.eval_every : step % o.eval_every;
        std::printf("step %lld  loss %.4f  accuracy@%lld %.4f  %.0f s\n", static_cast<long long>(step),
                    loss_sum / static_cast<double>(n), static_cast<long long>(o.len), accuracy, seconds());
        std::fflush(stdout);
        loss_sum = 0;
        if (accuracy >= o.target) break;
      }
    }
    const int64_t trained = std::min(step, o.steps);
    std::printf("\n| task | model | params | steps | train s | test length | accuracy |\n|---|---|---|---|---|---|---|\n");
    const double train_seconds = seconds();
    for (const int64_t len : o.test_lens) {
      const double acc = evaluate(o, model, eval_rng, len, std::max<int64_t>(o.eval_samples, 256));
      std::printf("| %s | %s | %lld | %lld | %.0f | %lld | %.2f%% |\n", o.task.c_str(), o.model.c_str(),
                  static_cast<long long>(params), static_cast<long long>(trained), train_seconds,
                  static_cast<long long>(len), 100.0 * acc);
      std::fflush(stdout);
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_synthetic: %s\n", e.what());
    return 1;
  }
}
