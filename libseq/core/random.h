// Deterministic seeding. One user seed (--seed) drives every random stream in strand: LibTorch's
// generator and strand's own Rng streams, each derived from (seed, stream id) so adding a stream
// never shifts another.
#pragma once

#include <cstdint>

namespace strand {

/// Seeds LibTorch's default CPU (and, when present, CUDA) generators.
void manual_seed(uint64_t seed);

/// Small, fast, reproducible generator (xoshiro256**), seeded by splitmix64 from (seed, stream).
/// Same (seed, stream) -> same sequence on every platform. Not thread-safe: one per thread/stream.
class Rng {
 public:
  explicit Rng(uint64_t seed, uint64_t stream = 0);
  uint64_t next();
  /// Uniform integer in [0, bound) without modulo bias; bound must be > 0.
  uint64_t uniform(uint64_t bound);
  /// Uniform double in [0, 1).
  double uniform01();

 private:
  uint64_t s_[4];
};

}  // namespace strand
