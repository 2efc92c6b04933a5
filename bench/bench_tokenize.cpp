// Tokenizer throughput on one thread against memcpy of the same bytes.
//
//   build/bench/bench_tokenize [--benchmark_filter=...]
//
// Every benchmark walks the same real genome record by record; bytes processed = sequence bytes.
// Tokenizers use the ids-only path into a reused buffer, as `strand tokenize` does.
#include <cstring>
#include <memory>

#include "bench_common.h"
#include "libseq/core/parallel.h"
#include "pipelines/registry.h"

namespace {

const std::vector<std::string>& genome() {
  static const auto seqs = strand::bench::read_sequences(strand::bench::genome_path());
  return seqs;
}

int64_t genome_bytes() {
  int64_t n = 0;
  for (const auto& s : genome()) n += static_cast<int64_t>(s.size());
  return n;
}

void BM_Memcpy(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    for (const auto& s : genome()) {
      out.resize(s.size());
      std::memcpy(out.data(), s.data(), s.size());
      benchmark::DoNotOptimize(out.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(state.iterations() * genome_bytes());
}
BENCHMARK(BM_Memcpy)->Unit(benchmark::kMillisecond);

void BM_Tokenize(benchmark::State& state, const char* spec) {
  strand::set_num_threads(1);
  const auto tok = strand::pipelines::tokenizer_registry().create(spec);
  std::vector<strand::tokenize::TokenId> ids;
  for (auto _ : state) {
    for (const auto& s : genome()) {
      tok->encode_ids_into(s, ids);
      benchmark::DoNotOptimize(ids.data());
      benchmark::ClobberMemory();
    }
  }
  state.SetBytesProcessed(state.iterations() * genome_bytes());
}
BENCHMARK_CAPTURE(BM_Tokenize, char, "char")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, ntv2_6mer, "ntv2-6mer")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, codon, "codon")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, kmer_overlap_6, "kmer-overlap:6")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Tokenize, caduceus, "caduceus")->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return strand::bench::run_with_ratios(argc, argv, "BM_Memcpy"); }
