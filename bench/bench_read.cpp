// FASTA reading + tokenization against raw HTSlib reading of the same file, one thread.
//
//   build/bench/bench_read [--benchmark_filter=...]      (STRAND_BENCH_FASTA=FILE to choose the file)
//
// BM_HtslibKseq is the baseline: HTSlib's kseq parser over BGZF (plain, gzip or bgzip input), the
// usual fastest way to stream FASTA with HTSlib. The strand benchmarks stream the same file through
// bio::io::open_sequences and tokenize every record into a reused buffer.
#include <htslib/bgzf.h>
#include <htslib/kseq.h>

#include <sys/stat.h>

#include "bench_common.h"
#include "bio/io/reader.h"
#include "libseq/core/parallel.h"
#include "pipelines/registry.h"

KSEQ_INIT(BGZF*, bgzf_read)

namespace {

int64_t file_bases() {
  static const int64_t n = [] {
    int64_t total = 0;
    for (const auto& s : strand::bench::read_sequences(strand::bench::genome_path())) total += static_cast<int64_t>(s.size());
    return total;
  }();
  return n;
}

void BM_HtslibKseq(benchmark::State& state) {
  const auto path = strand::bench::genome_path();
  for (auto _ : state) {
    BGZF* fp = bgzf_open(path.c_str(), "r");
    kseq_t* seq = kseq_init(fp);
    int64_t bases = 0;
    while (kseq_read(seq) >= 0) bases += static_cast<int64_t>(seq->seq.l);
    benchmark::DoNotOptimize(bases);
    kseq_destroy(seq);
    bgzf_close(fp);
  }
  state.SetBytesProcessed(state.iterations() * file_bases());
}
BENCHMARK(BM_HtslibKseq)->Unit(benchmark::kMillisecond);

void BM_StrandRead(benchmark::State& state) {
  const auto path = strand::bench::genome_path();
  strand::bio::io::SequenceRecord r;  // reused across files, as the reader documents
  for (auto _ : state) {
    auto reader = strand::bio::io::open_sequences(path);
    int64_t bases = 0;
    while (reader->next(r)) bases += static_cast<int64_t>(r.seq.size());
    benchmark::DoNotOptimize(bases);
  }
  state.SetBytesProcessed(state.iterations() * file_bases());
}
BENCHMARK(BM_StrandRead)->Unit(benchmark::kMillisecond);

void BM_StrandReadTokenize(benchmark::State& state, const char* spec) {
  strand::set_num_threads(1);
  const auto path = strand::bench::genome_path();
  const auto tok = strand::pipelines::tokenizer_registry().create(spec);
  std::vector<strand::tokenize::TokenId> ids;
  strand::bio::io::SequenceRecord r;
  for (auto _ : state) {
    auto reader = strand::bio::io::open_sequences(path);
    while (reader->next(r)) {
      tok->encode_ids_into(r.seq, ids);
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(state.iterations() * file_bases());
}
BENCHMARK_CAPTURE(BM_StrandReadTokenize, char, "char")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_StrandReadTokenize, ntv2_6mer, "ntv2-6mer")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_StrandReadTokenize, codon, "codon")->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) { return strand::bench::run_with_ratios(argc, argv, "BM_HtslibKseq"); }
