#include "bench_common.h"

#include <htslib/bgzf.h>
#include <htslib/kseq.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sys/stat.h>

KSEQ_INIT(BGZF*, bgzf_read)

namespace strand::bench {

std::string genome_path() {
  if (const char* env = std::getenv("STRAND_BENCH_FASTA")) return env;
  for (const char* p : {"/usr/share/doc/bowtie/examples/genomes/NC_008253.fna.gz", "/usr/share/htslib-test/test/ce.fa"}) {
    struct stat st {};
    if (::stat(p, &st) == 0) return p;
  }
  std::cerr << "no benchmark genome: set STRAND_BENCH_FASTA or apt-get install bowtie-examples\n";
  std::exit(2);
}

std::vector<std::string> read_sequences(const std::string& path) {
  BGZF* fp = bgzf_open(path.c_str(), "r");
  if (fp == nullptr) {
    std::cerr << "cannot open " << path << "\n";
    std::exit(2);
  }
  kseq_t* seq = kseq_init(fp);
  std::vector<std::string> out;
  while (kseq_read(seq) >= 0) out.emplace_back(seq->seq.s, seq->seq.l);
  kseq_destroy(seq);
  bgzf_close(fp);
  return out;
}

void RatioReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  // With --benchmark_repetitions the median is used, otherwise the single iteration run.
  for (const auto& run : runs) {
    const auto it = run.counters.find("bytes_per_second");
    if (it == run.counters.end()) continue;
    const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
    const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    if (single || median) rates_.emplace_back(run.run_name.str(), it->second.value);
  }
}

void RatioReporter::Finalize() {
  ConsoleReporter::Finalize();
  double base = 0;
  for (const auto& [name, rate] : rates_)
    if (name.rfind(baseline_, 0) == 0) base = rate;
  if (base <= 0) return;
  std::printf("\nthroughput relative to %s (same run, same bytes):\n", baseline_.c_str());
  for (const auto& [name, rate] : rates_) std::printf("  %-40s %8.1f MB/s  %6.1f%%\n", name.c_str(), rate / 1e6, 100.0 * rate / base);
}

int run_with_ratios(int argc, char** argv, const std::string& baseline) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter(baseline);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

}  // namespace strand::bench
