// Decode-step latency after a long prefix: one token through a 4-block causal model (d_model
// 256, character vocabulary) at contexts of 1k and 64k tokens (attention: 1k and 16k, since its
// prefill is quadratic in the context), batch 1, on one thread by default.
//
//   build/bench/bench_decode [--threads=N] [--benchmark_filter=...] [--benchmark_repetitions=5]
//
// --threads: intra-op threads (default 1; 0 = all cores). A batch-1 step is a chain of small ops
// (matrix-vector products of a few hundred rows), for which waking a thread pool costs more than
// it saves and adds scheduling jitter to every step.
//
// A Mamba model carries a fixed-size state (conv_state and ssm_state per block), so its step
// costs the same at any context; an attention model reads its whole KV cache every step, so its
// step grows with the context. The prefix is consumed by prefill() (the parallel scan) before
// timing; each timed iteration is one step() that advances the state by one token (1000 steps per
// repetition for Mamba, 100 for attention, so the context grows by at most that while timing).
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <c10/core/GradMode.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "libseq/core/parallel.h"
#include "libseq/core/random.h"
#include "libseq/models/model.h"

namespace {

constexpr int64_t kVocab = 16;
constexpr int64_t kPrefillChunk = 4096;

strand::models::ModelConfig config_for(char letter) {
  strand::models::ModelConfig c;
  c.vocab_size = kVocab;
  c.pad_id = 0;
  c.head.kind = strand::models::HeadKind::CausalLM;
  c.backbone.d_model = 256;
  c.backbone.pattern = std::string(4, letter);
  c.backbone.causal = true;
  if (letter != 'A') c.backbone.mlp = strand::nn::MlpKind::None;
  c.backbone.normalise("bench_decode");
  return c;
}

void BM_DecodeStep(benchmark::State& state, char letter) {
  const int64_t context = state.range(0);
  const at::NoGradGuard no_grad;
  strand::manual_seed(1);
  strand::models::SequenceModel model(config_for(letter));
  model->eval();
  auto decode = model->make_state(1);
  for (int64_t done = 0; done < context; done += kPrefillChunk) {
    const at::Tensor ids = at::randint(4, 8, {1, std::min(kPrefillChunk, context - done)}, at::kLong);
    model->backbone()->prefill(model->embedding()->forward(ids), decode);
  }
  const at::Tensor token = at::full({1}, 5, at::kLong);
  for (auto _ : state) {
    at::Tensor logits = model->step(token, decode);
    benchmark::DoNotOptimize(logits.data_ptr<float>());
  }
  state.counters["context"] = static_cast<double>(context);
}

}  // namespace

BENCHMARK_CAPTURE(BM_DecodeStep, mamba, 'M')->Arg(1024)->Arg(65536)->Iterations(1000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_DecodeStep, mamba2, '2')->Arg(1024)->Arg(65536)->Iterations(1000)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_DecodeStep, attention, 'A')->Arg(1024)->Arg(16384)->Iterations(100)->Unit(benchmark::kMicrosecond)->UseRealTime();

int main(int argc, char** argv) {
  int threads = 1;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      char* end = nullptr;
      const long n = std::strtol(argv[i] + 10, &end, 10);
      if (*end != '\0' || n < 0) {
        std::fprintf(stderr, "bench_decode: --threads expects a non-negative integer, got '%s'\n", argv[i] + 10);
        return 2;
      }
      threads = static_cast<int>(n);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  strand::set_num_threads(threads);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
