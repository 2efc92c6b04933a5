#include "libseq/tokenize/byte_kernels.h"

#include <algorithm>
#include <cstring>

#include "libseq/core/error.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STRAND_TOKENIZE_AVX2 1
#include <immintrin.h>
#endif

namespace strand::tokenize {
namespace {

// ---------------------------------------------------------------------------------------------
// Scalar reference versions.

uint8_t map_scalar(const uint8_t* table, const char* src, size_t n, uint8_t* dst) {
  uint8_t any = 0;
  for (size_t i = 0; i < n; ++i) {
    dst[i] = table[static_cast<unsigned char>(src[i])];
    any |= dst[i];
  }
  return any;
}

void map_widen_scalar(const uint8_t* table, const char* src, size_t n, int32_t offset, int32_t* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = static_cast<int32_t>(table[static_cast<unsigned char>(src[i])]) + offset;
}

size_t find_first_above_scalar(const uint8_t* codes, size_t n, uint8_t threshold) {
  for (size_t i = 0; i < n; ++i)
    if (codes[i] > threshold) return i;
  return n;
}

int32_t pack_one(const uint8_t* codes, int k) {
  int32_t v = 0;
  for (int j = 0; j < k; ++j) v = (v << 2) | (codes[j] & 3);
  return v;
}

void pack_windows_scalar(const uint8_t* codes, size_t windows, int k, int32_t base, int32_t* dst) {
  for (size_t i = 0; i < windows; ++i) dst[i] = base + pack_one(codes + i, k);
}

void pack_chunks_scalar(const uint8_t* codes, size_t chunks, int k, int32_t base, int32_t* dst) {
  for (size_t c = 0; c < chunks; ++c) dst[c] = base + pack_one(codes + c * static_cast<size_t>(k), k);
}

void lowercase_mask_scalar(const char* src, size_t n, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) dst[i] = (src[i] >= 'a' && src[i] <= 'z') ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// AVX2 versions. Every loop handles whole 16/32-byte blocks and leaves the tail to the scalar
// reference, so both paths agree byte for byte.

#ifdef STRAND_TOKENIZE_AVX2

// Stores that straddle cache lines cost twice: kernels writing int32 align the destination to
// 32 bytes first (with scalar steps, or with one overlapping unaligned vector step).
inline bool aligned32(const void* p) { return (reinterpret_cast<uintptr_t>(p) & 31) == 0; }

template <bool Stream>
__attribute__((target("avx2"))) inline void store32(int32_t* dst, __m256i v) {
  if constexpr (Stream) {
    _mm256_stream_si256(reinterpret_cast<__m256i*>(dst), v);
  } else {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), v);
  }
}

struct VectorRows {
  __m256i lookup[16];
  __m256i high[16];
  bool both_cases[16];
  int count;
};

__attribute__((target("avx2"))) void load_rows(const uint8_t* table, const ByteTable& t, VectorRows& v) {
  v.count = t.row_count();
  for (int r = 0; r < v.count; ++r) {
    const auto& row = t.rows()[static_cast<size_t>(r)];
    v.lookup[r] = _mm256_broadcastsi128_si256(
        _mm_loadu_si128(reinterpret_cast<const __m128i*>(table + 16 * static_cast<int>(row.high))));
    // Rows serving both cases are compared against (high nibble | 2), which folds 0x4_/0x6_ and
    // 0x5_/0x7_ together.
    v.high[r] = _mm256_set1_epi8(static_cast<char>(row.both_cases ? (row.high | 2) : row.high));
    v.both_cases[r] = row.both_cases;
  }
}

__attribute__((target("avx2"))) inline __m256i lookup32(const VectorRows& v, __m256i fill, __m256i x) {
  const __m256i nibble = _mm256_set1_epi8(0x0F);
  const __m256i lo = _mm256_and_si256(x, nibble);
  const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(x, 4), nibble);
  const __m256i hi_folded = _mm256_or_si256(hi, _mm256_set1_epi8(2));
  __m256i out = fill;
  for (int r = 0; r < v.count; ++r) {
    const __m256i sel = _mm256_cmpeq_epi8(v.both_cases[r] ? hi_folded : hi, v.high[r]);
    out = _mm256_blendv_epi8(out, _mm256_shuffle_epi8(v.lookup[r], lo), sel);
  }
  return out;
}

__attribute__((target("avx2"))) size_t map_avx2(const uint8_t* table, const ByteTable& t, const char* src,
                                                size_t n, uint8_t* dst, uint8_t& any) {
  VectorRows v;
  load_rows(table, t, v);
  const __m256i fill = _mm256_set1_epi8(static_cast<char>(t.fill()));
  __m256i seen = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i y = lookup32(v, fill, x);
    seen = _mm256_or_si256(seen, y);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), y);
  }
  alignas(32) uint8_t lanes[32];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), seen);
  any = 0;
  for (uint8_t b : lanes) any |= b;
  return i;
}

template <bool Stream>
__attribute__((target("avx2"))) size_t map_widen_avx2_impl(const uint8_t* table, const ByteTable& t, const char* src,
                                                           size_t n, int32_t offset, int32_t* dst) {
  VectorRows v;
  load_rows(table, t, v);
  const __m256i fill = _mm256_set1_epi8(static_cast<char>(t.fill()));
  const __m256i add = _mm256_set1_epi32(offset);
  size_t i = 0;
  for (; i < n && !aligned32(dst + i); ++i)
    dst[i] = static_cast<int32_t>(table[static_cast<unsigned char>(src[i])]) + offset;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i y = lookup32(v, fill, x);
    const __m128i lo = _mm256_castsi256_si128(y);
    const __m128i hi = _mm256_extracti128_si256(y, 1);
    store32<Stream>(dst + i + 0, _mm256_add_epi32(_mm256_cvtepu8_epi32(lo), add));
    store32<Stream>(dst + i + 8, _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(lo, 8)), add));
    store32<Stream>(dst + i + 16, _mm256_add_epi32(_mm256_cvtepu8_epi32(hi), add));
    store32<Stream>(dst + i + 24, _mm256_add_epi32(_mm256_cvtepu8_epi32(_mm_srli_si128(hi, 8)), add));
  }
  if constexpr (Stream) _mm_sfence();
  return i;
}

size_t map_widen_avx2(const uint8_t* table, const ByteTable& t, const char* src, size_t n, int32_t offset,
                      int32_t* dst, bool stream) {
  if (stream) return map_widen_avx2_impl<true>(table, t, src, n, offset, dst);
  return map_widen_avx2_impl<false>(table, t, src, n, offset, dst);
}

__attribute__((target("avx2"))) size_t find_first_above_avx2(const uint8_t* codes, size_t n, uint8_t threshold,
                                                             bool& found) {
  found = false;
  if (threshold == 0xFF) return n;
  const __m256i limit = _mm256_set1_epi8(static_cast<char>(threshold + 1));
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(codes + i));
    // x >= threshold + 1 (unsigned) exactly when max(x, threshold + 1) == x.
    const auto mask = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(_mm256_max_epu8(x, limit), x)));
    if (mask != 0) {
      found = true;
      return i + static_cast<size_t>(__builtin_ctz(mask));
    }
  }
  return i;
}

// 32 lanes of the base-4 number of M <= 4 consecutive codes starting at p + lane (fits a byte).
// Byte values stay small enough that 16-bit shifts never carry into the neighbouring byte.
__attribute__((target("avx2"))) inline __m256i code32(const uint8_t* p) {
  return _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), _mm256_set1_epi8(3));
}

__attribute__((target("avx2"))) inline __m256i load32(const uint8_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// Byte values below stay small enough that 16-bit shifts never carry into the next byte.
__attribute__((target("avx2"))) inline __m256i shift_or(__m256i a, int bits, __m256i b) {
  return _mm256_or_si256(_mm256_sll_epi16(a, _mm_cvtsi32_si128(bits)), b);
}

// pairs[x] = 4 * (codes[x] & 3) + (codes[x + 1] & 3) for x < count; reads codes[0 .. count].
__attribute__((target("avx2"))) void make_pairs(const uint8_t* codes, size_t count, uint8_t* pairs) {
  size_t x = 0;
  for (; x + 32 <= count; x += 32)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(pairs + x), shift_or(code32(codes + x), 2, code32(codes + x + 1)));
  for (; x < count; ++x) pairs[x] = static_cast<uint8_t>(((codes[x] & 3) << 2) | (codes[x + 1] & 3));
}

// 32 lanes of the base-4 number of M <= 4 consecutive codes starting at lane (fits a byte),
// from the codes and their pairs at the same position.
template <int M>
__attribute__((target("avx2"))) inline __m256i base4_bytes(const uint8_t* pairs, const uint8_t* codes) {
  if constexpr (M == 0) return _mm256_setzero_si256();
  if constexpr (M == 1) return code32(codes);
  if constexpr (M == 2) return load32(pairs);
  if constexpr (M == 3) return shift_or(load32(pairs), 2, code32(codes + 2));
  if constexpr (M == 4) return shift_or(load32(pairs), 4, load32(pairs + 2));
}

// Writes 32 values from their high and low bytes: interleaved into 16-bit, zero-extended to
// 32-bit, plus base. The unpacks work within 128-bit lanes; the permutes restore window order.
template <bool Stream, bool Aligned>
__attribute__((target("avx2"))) inline void emit32(__m256i lo, __m256i hi, __m256i add, int32_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  const __m256i w0 = _mm256_unpacklo_epi8(lo, hi);    // windows 0-7 | 16-23
  const __m256i w1 = _mm256_unpackhi_epi8(lo, hi);    // windows 8-15 | 24-31
  const __m256i a = _mm256_unpacklo_epi16(w0, zero);  // 0-3 | 16-19
  const __m256i b = _mm256_unpackhi_epi16(w0, zero);  // 4-7 | 20-23
  const __m256i d = _mm256_unpacklo_epi16(w1, zero);  // 8-11 | 24-27
  const __m256i e = _mm256_unpackhi_epi16(w1, zero);  // 12-15 | 28-31
  const __m256i v[4] = {_mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), add),
                        _mm256_add_epi32(_mm256_permute2x128_si256(d, e, 0x20), add),
                        _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x31), add),
                        _mm256_add_epi32(_mm256_permute2x128_si256(d, e, 0x31), add)};
  for (int q = 0; q < 4; ++q) {
    if constexpr (Aligned) {
      store32<Stream>(out + 8 * q, v[q]);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * q), v[q]);
    }
  }
}

// 32 windows straight from the codes (no pairs buffer), stored unaligned: the first and last
// step of pack_windows_avx2_k, which may overlap the aligned steps.
template <int K>
__attribute__((target("avx2"))) inline void windows32_unaligned(const uint8_t* codes, __m256i add, int32_t* out) {
  constexpr int kLow = K < 4 ? K : 4;
  uint8_t pairs[40];
  if constexpr (K >= 2) make_pairs(codes, 32 + K - 2, pairs);
  emit32<false, false>(base4_bytes<kLow>(pairs + (K - kLow), codes + (K - kLow)), base4_bytes<K - kLow>(pairs, codes),
                       add, out);
}

template <int K, bool Stream>
__attribute__((target("avx2"))) size_t pack_windows_avx2_k(const uint8_t* codes, size_t windows, int32_t base,
                                                           int32_t* dst) {
  constexpr int kLow = K < 4 ? K : 4;  // codes in the low byte of the value; the others in the high byte
  constexpr size_t kChunk = 2048;      // windows per pass over the pairs buffer
  if (windows < 32) return 0;
  const __m256i add = _mm256_set1_epi32(base);
  uint8_t pairs[kChunk + 8];
  // An unaligned first step, then aligned steps from the first 32-byte boundary, then an
  // unaligned last step ending at `windows`: no scalar head or tail. Overlapping windows are
  // written twice with the same value.
  windows32_unaligned<K>(codes, add, dst);
  size_t i = 0;
  while (!aligned32(dst + i)) ++i;
  while (windows - i >= 32) {
    // Pairs of codes first, once per position (each is read by several windows), then 32
    // windows per step.
    const size_t w = std::min(kChunk, (windows - i) / 32 * 32);
    const uint8_t* c = codes + i;
    if constexpr (K >= 2) make_pairs(c, w + K - 2, pairs);
    for (size_t j = 0; j < w; j += 32)
      emit32<Stream, true>(base4_bytes<kLow>(pairs + j + (K - kLow), c + j + (K - kLow)),
                           base4_bytes<K - kLow>(pairs + j, c + j), add, dst + i + j);
    i += w;
  }
  if constexpr (Stream) _mm_sfence();
  if (i < windows) windows32_unaligned<K>(codes + windows - 32, add, dst + windows - 32);
  return windows;
}

template <bool Stream>
size_t pack_windows_avx2_dispatch(const uint8_t* codes, size_t windows, int k, int32_t base, int32_t* dst) {
  switch (k) {
    case 1: return pack_windows_avx2_k<1, Stream>(codes, windows, base, dst);
    case 2: return pack_windows_avx2_k<2, Stream>(codes, windows, base, dst);
    case 3: return pack_windows_avx2_k<3, Stream>(codes, windows, base, dst);
    case 4: return pack_windows_avx2_k<4, Stream>(codes, windows, base, dst);
    case 5: return pack_windows_avx2_k<5, Stream>(codes, windows, base, dst);
    case 6: return pack_windows_avx2_k<6, Stream>(codes, windows, base, dst);
    case 7: return pack_windows_avx2_k<7, Stream>(codes, windows, base, dst);
    default: return pack_windows_avx2_k<8, Stream>(codes, windows, base, dst);
  }
}

size_t pack_windows_avx2(const uint8_t* codes, size_t windows, int k, int32_t base, int32_t* dst, bool stream) {
  if (stream) return pack_windows_avx2_dispatch<true>(codes, windows, k, base, dst);
  return pack_windows_avx2_dispatch<false>(codes, windows, k, base, dst);
}

// Loads bytes [p, p+16) into the low lane and [p+12, p+28) into the high lane: each lane then
// starts with 12 bytes of consecutive chunks.
__attribute__((target("avx2"))) inline __m256i load_two_lanes_of_12(const uint8_t* p) {
  const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12));
  return _mm256_and_si256(_mm256_inserti128_si256(_mm256_castsi128_si256(a), b, 1), _mm256_set1_epi8(3));
}

__attribute__((target("avx2"))) size_t pack_codons_avx2(const uint8_t* codes, size_t chunks, int32_t base,
                                                       int32_t* dst) {
  // Codon m of a lane goes to dword m as bytes (c0, c1, c2, 0); c0*16 + c1*4 + c2 follows from
  // two multiply-adds.
  const __m256i spread = _mm256_setr_epi8(0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1,  //
                                          0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1);
  const __m256i weights = _mm256_set1_epi32(0x00010410);  // bytes 16, 4, 1, 0
  const __m256i ones = _mm256_set1_epi16(1);
  const __m256i add = _mm256_set1_epi32(base);
  size_t c = 0;
  for (; c < chunks && !aligned32(dst + c); ++c) dst[c] = base + pack_one(codes + 3 * c, 3);
  // Each step reads 28 bytes for 8 codons (24 bytes).
  for (; (c + 8) * 3 + 4 <= chunks * 3; c += 8) {
    const __m256i x = _mm256_shuffle_epi8(load_two_lanes_of_12(codes + 3 * c), spread);
    const __m256i v = _mm256_madd_epi16(_mm256_maddubs_epi16(x, weights), ones);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c), _mm256_add_epi32(v, add));
  }
  return c;
}

__attribute__((target("avx2"))) size_t pack_sixmers_avx2(const uint8_t* codes, size_t chunks, int32_t base,
                                                        int32_t* dst) {
  // 6-mer m of a lane goes to qword m as bytes (c0..c5, 0, 0). maddubs gives the words
  // (4c0+c1, 4c2+c3, 4c4+c5, 0); madd with (256, 16, 1, 0) gives the dwords
  // (256w0 + 16w1, w2), whose sum is the 12-bit value; hadd adds each pair.
  const __m256i spread = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1,  //
                                          0, 1, 2, 3, 4, 5, -1, -1, 6, 7, 8, 9, 10, 11, -1, -1);
  const __m256i pairs = _mm256_set1_epi64x(0x0000010401040104LL);  // bytes 4, 1, 4, 1, 4, 1, 0, 0
  const __m256i words = _mm256_set1_epi64x(0x0000000100100100LL);  // words 256, 16, 1, 0
  const __m256i add = _mm256_set1_epi32(base);
  size_t c = 0;
  for (; c < chunks && !aligned32(dst + c); ++c) dst[c] = base + pack_one(codes + 6 * c, 6);
  // Each step reads 52 bytes for 8 six-mers (48 bytes).
  for (; (c + 8) * 6 + 4 <= chunks * 6; c += 8) {
    const uint8_t* p = codes + 6 * c;
    const __m256i a = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(load_two_lanes_of_12(p), spread), pairs), words);
    const __m256i b =
        _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_shuffle_epi8(load_two_lanes_of_12(p + 24), spread), pairs), words);
    // hadd: lane 0 = (a.m0, a.m1, b.m0, b.m1) = six-mers 0 1 4 5; lane 1 = six-mers 2 3 6 7.
    const __m256i h = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xD8);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + c), _mm256_add_epi32(h, add));
  }
  return c;
}

__attribute__((target("avx2"))) size_t lowercase_mask_avx2(const char* src, size_t n, uint8_t* dst) {
  const __m256i below_a = _mm256_set1_epi8('a' - 1);
  const __m256i above_z = _mm256_set1_epi8('z' + 1);
  const __m256i one = _mm256_set1_epi8(1);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    // Signed compares: bytes >= 0x80 are negative and never inside 'a'..'z'.
    const __m256i in = _mm256_and_si256(_mm256_cmpgt_epi8(x, below_a), _mm256_cmpgt_epi8(above_z, x));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_and_si256(in, one));
  }
  return i;
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") != 0;
  return has;
}

bool streaming(Stores stores, size_t count) {
  if (stores == Stores::Auto) stores = stores_for(count * sizeof(int32_t));
  return stores == Stores::Streaming;
}

#endif  // STRAND_TOKENIZE_AVX2

void require(Isa isa) {
  if (!isa_supported(isa)) throw UnsupportedError("tokenizer kernels: this build or CPU has no AVX2 support");
}

}  // namespace

bool isa_supported(Isa isa) {
  if (isa == Isa::Scalar) return true;
#ifdef STRAND_TOKENIZE_AVX2
  return cpu_has_avx2();
#else
  return false;
#endif
}

Isa best_isa() { return isa_supported(Isa::Avx2) ? Isa::Avx2 : Isa::Scalar; }

ByteTable::ByteTable(uint8_t fill) : fill_(fill) {
  table_.fill(fill);
  update_rows();
}

void ByteTable::set(char c, uint8_t value) {
  table_[static_cast<unsigned char>(c)] = value;
  update_rows();
}

void ByteTable::set_any_case(char c, uint8_t value) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  table_[static_cast<unsigned char>(c)] = value;
  if (c >= 'A' && c <= 'Z') table_[static_cast<unsigned char>(c - 'A' + 'a')] = value;
  update_rows();
}

void ByteTable::update_rows() {
  auto row_is_fill = [&](int h) {
    for (int j = 0; j < 16; ++j)
      if (table_[static_cast<size_t>(16 * h + j)] != fill_) return false;
    return true;
  };
  auto rows_equal = [&](int a, int b) {
    return std::memcmp(table_.data() + 16 * a, table_.data() + 16 * b, 16) == 0;
  };
  row_count_ = 0;
  for (int h = 0; h < 16; ++h) {
    if (row_is_fill(h)) continue;
    const int partner = h ^ 2;
    if (rows_equal(h, partner)) {
      // Served once by the row with bit 1 of the high nibble clear.
      if (h & 2) continue;
      rows_[static_cast<size_t>(row_count_++)] = Row{static_cast<uint8_t>(h), true};
    } else {
      rows_[static_cast<size_t>(row_count_++)] = Row{static_cast<uint8_t>(h), false};
    }
  }
}

uint8_t ByteTable::map(const char* src, size_t n, uint8_t* dst, Isa isa) const {
  require(isa);
  size_t done = 0;
  uint8_t any = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2) done = map_avx2(table_.data(), *this, src, n, dst, any);
#endif
  return static_cast<uint8_t>(any | map_scalar(table_.data(), src + done, n - done, dst + done));
}

void ByteTable::map_widen(const char* src, size_t n, int32_t offset, int32_t* dst, Isa isa, Stores stores) const {
  require(isa);
  size_t done = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2) done = map_widen_avx2(table_.data(), *this, src, n, offset, dst, streaming(stores, n));
#else
  (void)stores;
#endif
  map_widen_scalar(table_.data(), src + done, n - done, offset, dst + done);
}

size_t find_first_above(const uint8_t* codes, size_t n, uint8_t threshold, Isa isa) {
  require(isa);
  size_t done = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2) {
    bool found = false;
    done = find_first_above_avx2(codes, n, threshold, found);
    if (found) return done;
  }
#endif
  return done + find_first_above_scalar(codes + done, n - done, threshold);
}

void pack_windows(const uint8_t* codes, size_t windows, int k, int32_t base, int32_t* dst, Isa isa,
                  Stores stores) {
  STRAND_ASSERT(k >= 1 && k <= 8, "pack_windows: k must be in 1..8, got ", k);
  require(isa);
  size_t done = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2) done = pack_windows_avx2(codes, windows, k, base, dst, streaming(stores, windows));
#else
  (void)stores;
#endif
  pack_windows_scalar(codes + done, windows - done, k, base, dst + done);
}

void pack_chunks(const uint8_t* codes, size_t chunks, int k, int32_t base, int32_t* dst, Isa isa) {
  STRAND_ASSERT(k >= 1 && k <= 8, "pack_chunks: k must be in 1..8, got ", k);
  require(isa);
  size_t done = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2 && k == 3) done = pack_codons_avx2(codes, chunks, base, dst);
  if (isa == Isa::Avx2 && k == 6) done = pack_sixmers_avx2(codes, chunks, base, dst);
#endif
  pack_chunks_scalar(codes + done * static_cast<size_t>(k), chunks - done, k, base, dst + done);
}

void lowercase_mask(const char* src, size_t n, uint8_t* dst, Isa isa) {
  require(isa);
  size_t done = 0;
#ifdef STRAND_TOKENIZE_AVX2
  if (isa == Isa::Avx2) done = lowercase_mask_avx2(src, n, dst);
#endif
  lowercase_mask_scalar(src + done, n - done, dst + done);
}

}  // namespace strand::tokenize
