// Shared pieces of the benchmark programs: the input genome and a reporter that prints each
// benchmark's throughput as a ratio to a baseline measured in the same run.
#pragma once

#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

namespace strand::bench {

/// The genome the benchmarks read: $STRAND_BENCH_FASTA, else E. coli 536 from Debian's
/// bowtie-examples, else C. elegans from htslib-test. Exits with a message when none exists.
std::string genome_path();

/// Sequences of a FASTA file (headers dropped, line breaks removed), read with HTSlib's kseq.
std::vector<std::string> read_sequences(const std::string& path);

/// Console reporter that also prints, after the run, bytes_per_second of every benchmark divided
/// by that of the benchmark named `baseline` (e.g. "BM_Memcpy"); medians when repeated.
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  explicit RatioReporter(std::string baseline) : baseline_(std::move(baseline)) {}
  void ReportRuns(const std::vector<Run>& runs) override;
  void Finalize() override;

 private:
  std::string baseline_;
  std::vector<std::pair<std::string, double>> rates_;
};

/// Initialises Google Benchmark, runs everything with a RatioReporter, prints ratios.
int run_with_ratios(int argc, char** argv, const std::string& baseline);

}  // namespace strand::bench
