// SELFIES codec throughput on one thread over the selfies 2.2.0 conformance molecules
// (tests/data/selfies/golden_roundtrip.tsv.gz: 16,706 molecules from QM9, MoleculeNet and a
// non-fullerene set; 16,639 encodable).
//
//   build/bench/bench_selfies [--benchmark_repetitions=3]
//
// Reported as molecules per second (items_per_second). The Python reference (selfies 2.2.0,
// Python 3.11, one core) encodes ~4.6k and decodes ~6.1k of these molecules per second
// (shared/reference/selfies_chem.md, section 8); bench/RESULTS.md sets the two side by side.
//   BM_SelfiesDecode     selfies -> SMILES for every encodable molecule
//   BM_SelfiesEncode     SMILES -> selfies for every molecule (the 67 encoder errors included)
//   BM_RdkitRoundTrip    RDKit parse + canonical SMILES -> encode -> decode -> RDKit parse +
//                        canonical SMILES, the end-to-end check a user runs
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "chem/molio.h"
#include "chem/selfies/selfies.h"

namespace sf = strand::chem::selfies;

namespace {

struct Row {
  std::string smiles;
  std::string selfies;  ///< empty for encoder errors
};

const std::vector<Row>& rows() {
  static const std::vector<Row> data = [] {
    const std::string path = std::string(STRAND_SOURCE_DIR) + "/tests/data/selfies/golden_roundtrip.tsv.gz";
    gzFile f = gzopen(path.c_str(), "rb");
    if (f == nullptr) {
      std::fprintf(stderr, "cannot open %s\n", path.c_str());
      std::exit(1);
    }
    std::string text;
    char buf[1 << 16];
    int n = 0;
    while ((n = gzread(f, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
    gzclose(f);
    std::vector<Row> out;
    size_t start = text.find('\n') + 1;  // header
    while (start < text.size()) {
      const size_t end = text.find('\n', start);
      const std::string line = text.substr(start, end - start);
      start = end == std::string::npos ? text.size() : end + 1;
      const size_t a = line.find('\t');
      const size_t b = line.find('\t', a + 1);
      const size_t c = line.find('\t', b + 1);
      Row r{line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1)};
      if (r.selfies == "ERROR") r.selfies.clear();
      out.push_back(std::move(r));
    }
    return out;
  }();
  return data;
}

void BM_SelfiesDecode(benchmark::State& state) {
  int64_t n = 0;
  for (auto _ : state) {
    for (const auto& r : rows()) {
      if (r.selfies.empty()) continue;
      benchmark::DoNotOptimize(sf::decode(r.selfies));
      ++n;
    }
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_SelfiesDecode)->Unit(benchmark::kMillisecond);

void BM_SelfiesEncode(benchmark::State& state) {
  int64_t n = 0;
  for (auto _ : state) {
    for (const auto& r : rows()) {
      try {
        benchmark::DoNotOptimize(sf::encode(r.smiles));
      } catch (const sf::EncoderError&) {
      }
      ++n;
    }
  }
  state.SetItemsProcessed(n);
}
BENCHMARK(BM_SelfiesEncode)->Unit(benchmark::kMillisecond);

void BM_RdkitRoundTrip(benchmark::State& state) {
  int64_t n = 0;
  int64_t same = 0;
  for (auto _ : state) {
    for (const auto& r : rows()) {
      if (r.selfies.empty()) continue;
      auto in = strand::chem::parse_smiles(r.smiles);
      const std::string canon_in = RDKit::MolToSmiles(*in);
      auto out = strand::chem::parse_smiles(sf::decode(sf::encode(canon_in)));
      same += out != nullptr && RDKit::MolToSmiles(*out) == canon_in ? 1 : 0;
      ++n;
    }
  }
  state.SetItemsProcessed(n);
  state.counters["same_molecule"] = static_cast<double>(same) / static_cast<double>(n);
}
BENCHMARK(BM_RdkitRoundTrip)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
