// Byte kernels behind the tokenizers' encode hot path: table lookup of every byte, widening to
// int32 ids, packing 2-bit codes into k-mer ids, soft-mask detection.
//
// Each kernel has a plain scalar loop (the readable reference) and an AVX2 version chosen at run
// time on x86-64 CPUs that have it; both give identical results for every input, which
// tests/libseq/test_tokenize_kernels.cpp checks on random data. `isa` selects the version; the
// default is the fastest the CPU supports. Passing an Isa the CPU lacks throws UnsupportedError.
//
// No function keeps state between calls; all are thread-safe. Source and destination ranges must
// not overlap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace strand::tokenize {

enum class Isa { Scalar, Avx2 };

/// The fastest instruction set compiled in and supported by this CPU.
Isa best_isa();
/// True when kernels can run with `isa` on this CPU.
bool isa_supported(Isa isa);

/// How the int32-writing kernels store: through the caches, or with non-temporal (streaming)
/// stores that bypass them. Streaming pays off for outputs far larger than the caches, which
/// would be evicted before use anyway, and it saves the read a regular store does first.
enum class Stores {
  Auto,       ///< streaming when this call writes at least kStreamingBytes
  Cached,
  Streaming,  ///< always: a large output written block by block in calls that are each small
};
/// Measured on a Xeon (large shared L3): streaming loses while the output still fits the cache
/// (20 MB) and wins by 1.7-2x beyond it (64 MB).
inline constexpr size_t kStreamingBytes = size_t{32} << 20;
/// The choice Auto makes for an output of `bytes` in total, for callers writing it in blocks.
inline Stores stores_for(size_t bytes) { return bytes >= kStreamingBytes ? Stores::Streaming : Stores::Cached; }

/// A lookup table from every byte value to a byte. Lookups are vectorised by 16-entry rows (the
/// high nibble of the byte): rows that hold only the fill value cost nothing, and a row equal to
/// the row 0x20 above or below it (upper- and lower-case letters mapped alike) is looked up once.
/// Tables with few distinct rows (ASCII letters plus a few symbols) are therefore the fast case.
/// Not thread-safe while being filled; read-only use is thread-safe.
class ByteTable {
 public:
  /// Every byte maps to `fill`.
  explicit ByteTable(uint8_t fill = 0);

  void set(char c, uint8_t value);
  /// set() for both the upper- and lower-case form of an ASCII letter (other characters once).
  void set_any_case(char c, uint8_t value);
  uint8_t operator[](char c) const noexcept { return table_[static_cast<unsigned char>(c)]; }
  uint8_t fill() const noexcept { return fill_; }

  /// dst[i] = table[src[i]] for i < n. Returns the bitwise OR of all values written (0 for
  /// n = 0), so a caller can tell at once whether any value with a given bit occurred.
  uint8_t map(const char* src, size_t n, uint8_t* dst, Isa isa = best_isa()) const;
  /// dst[i] = table[src[i]] + offset for i < n, as int32.
  void map_widen(const char* src, size_t n, int32_t offset, int32_t* dst, Isa isa = best_isa(),
                 Stores stores = Stores::Auto) const;

  /// The table's distinct non-fill rows as used by the vector lookup (exposed for tests).
  struct Row {
    uint8_t high = 0;      ///< high nibble the row serves
    bool both_cases = false;  ///< also serves high ^ 2 (the row 0x20 apart)
  };
  const std::array<Row, 16>& rows() const noexcept { return rows_; }
  int row_count() const noexcept { return row_count_; }

 private:
  void update_rows();

  std::array<uint8_t, 256> table_{};
  std::array<Row, 16> rows_{};
  int row_count_ = 0;
  uint8_t fill_ = 0;
};

/// The index of the first code in codes[0..n) greater than `threshold`, or n when there is none.
size_t find_first_above(const uint8_t* codes, size_t n, uint8_t threshold, Isa isa = best_isa());

/// Overlapping windows: dst[i] = base + sum_{j<k} (codes[i+j] & 3) * 4^(k-1-j) for i < windows,
/// i.e. the base-4 number of codes[i..i+k) with the first code most significant. Reads
/// codes[0 .. windows+k-1). Requires 1 <= k <= 8 (InternalError otherwise).
void pack_windows(const uint8_t* codes, size_t windows, int k, int32_t base, int32_t* dst, Isa isa = best_isa(),
                  Stores stores = Stores::Auto);

/// Non-overlapping chunks: dst[c] = base + base-4 number of (codes[c*k .. c*k+k) & 3) for
/// c < chunks. Reads codes[0 .. chunks*k). Requires 1 <= k <= 8 (InternalError otherwise);
/// k = 3 (codons) and k = 6 are vectorised.
void pack_chunks(const uint8_t* codes, size_t chunks, int k, int32_t base, int32_t* dst, Isa isa = best_isa());

/// dst[i] = 1 when src[i] is an ASCII lower-case letter 'a'..'z', else 0, for i < n.
void lowercase_mask(const char* src, size_t n, uint8_t* dst, Isa isa = best_isa());

}  // namespace strand::tokenize
