// Tokenizer byte kernels. Oracle: the definitions written out as plain loops in this file (not the
// library's scalar versions), applied to random bytes at every length around the vector widths,
// for every instruction set this CPU supports.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/tokenize/byte_kernels.h"

namespace tk = strand::tokenize;

namespace {

std::vector<tk::Isa> isas() {
  std::vector<tk::Isa> v = {tk::Isa::Scalar};
  if (tk::isa_supported(tk::Isa::Avx2)) v.push_back(tk::Isa::Avx2);
  return v;
}

const char* name(tk::Isa isa) { return isa == tk::Isa::Scalar ? "scalar" : "avx2"; }

// Lengths 0..80 cover every tail of the 16- and 32-wide loops; the larger ones several blocks.
std::vector<size_t> lengths() {
  std::vector<size_t> v;
  for (size_t n = 0; n <= 80; ++n) v.push_back(n);
  for (size_t n : {127, 128, 129, 255, 256, 257, 1000, 4099}) v.push_back(n);
  return v;
}

// Outputs of kStreamingBytes and more are written with non-temporal stores: one length past that.
constexpr size_t kStreamingLength = tk::kStreamingBytes / sizeof(int32_t) + 45;

// int32 destinations start at these element offsets from a 32-byte boundary, so that the
// scalar steps that align the vector stores run for every misalignment.
constexpr size_t kDstShifts[] = {0, 1, 3, 7};

// A destination of n int32 slots (plus a guard slot) starting `shift` elements past a 32-byte
// boundary.
struct Destination {
  Destination(size_t n, size_t shift) : storage(n + shift + 16, -7) {
    auto addr = reinterpret_cast<uintptr_t>(storage.data());
    const size_t skip = ((32 - addr % 32) % 32) / sizeof(int32_t);
    data = storage.data() + skip + shift;
  }
  std::vector<int32_t> storage;
  int32_t* data;
};

std::string random_bytes(size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xFF);
  return s;
}

std::vector<uint8_t> random_codes(size_t n, std::mt19937& rng, unsigned mod) {
  std::vector<uint8_t> v(n);
  for (auto& c : v) c = static_cast<uint8_t>(rng() % mod);
  return v;
}

int32_t base4(const uint8_t* codes, int k) {
  int32_t v = 0;
  int32_t scale = 1;
  for (int j = k - 1; j >= 0; --j) {
    v += (codes[j] % 4) * scale;
    scale *= 4;
  }
  return v;
}

// A DNA-like table: letters in both cases, a few symbols, one high byte.
tk::ByteTable dna_table() {
  tk::ByteTable t(200);
  t.set_any_case('A', 5);
  t.set_any_case('C', 6);
  t.set_any_case('G', 7);
  t.set_any_case('T', 8);
  t.set_any_case('U', 8);
  t.set_any_case('N', 9);
  t.set('-', 30);
  t.set('*', 255);
  t.set(static_cast<char>(0xE9), 17);
  return t;
}

}  // namespace

TEST(ByteTable, MergesRowsThatServeBothCases) {
  tk::ByteTable t = dna_table();
  ASSERT_EQ(t.row_count(), 4);
  EXPECT_EQ(t.rows()[0].high, 2);  // '-' and '*'
  EXPECT_FALSE(t.rows()[0].both_cases);
  EXPECT_EQ(t.rows()[1].high, 4);  // A-O and a-o
  EXPECT_TRUE(t.rows()[1].both_cases);
  EXPECT_EQ(t.rows()[2].high, 5);  // P-Z and p-z
  EXPECT_TRUE(t.rows()[2].both_cases);
  EXPECT_EQ(t.rows()[3].high, 0xE);
  t.set('a', 99);  // lower case now differs from upper case: rows 4 and 6 split
  EXPECT_EQ(t.row_count(), 5);
}

TEST(ByteTable, MapAndWidenMatchTheTableForEveryByte) {
  std::mt19937 rng(7);
  for (const tk::ByteTable& table : {dna_table(), tk::ByteTable(3)}) {
    for (tk::Isa isa : isas()) {
      for (size_t n : lengths()) {
        const std::string src = random_bytes(n, rng);
        std::vector<uint8_t> mapped(n + 1, 0xAB);
        const uint8_t any = table.map(src.data(), n, mapped.data(), isa);
        uint8_t expected_any = 0;
        for (size_t i = 0; i < n; ++i) {
          ASSERT_EQ(mapped[i], table[src[i]]) << name(isa) << " n=" << n << " i=" << i;
          expected_any |= mapped[i];
        }
        EXPECT_EQ(any, expected_any) << name(isa) << " n=" << n;
        EXPECT_EQ(mapped[n], 0xAB);  // nothing written past the end
        for (size_t shift : kDstShifts) {
          Destination wide(n, shift);
          table.map_widen(src.data(), n, 1000, wide.data, isa);
          for (size_t i = 0; i < n; ++i)
            ASSERT_EQ(wide.data[i], 1000 + table[src[i]]) << name(isa) << " n=" << n << " i=" << i << " shift=" << shift;
          EXPECT_EQ(wide.data[n], -7);
        }
      }
    }
  }
}

TEST(ByteTable, WidenLargeOutputs) {
  std::mt19937 rng(8);
  const tk::ByteTable table = dna_table();
  const std::string src = random_bytes(kStreamingLength, rng);
  for (tk::Isa isa : isas()) {
    Destination wide(src.size(), 1);
    table.map_widen(src.data(), src.size(), -3, wide.data, isa);
    for (size_t i = 0; i < src.size(); ++i) ASSERT_EQ(wide.data[i], table[src[i]] - 3) << name(isa) << " i=" << i;
    EXPECT_EQ(wide.data[src.size()], -7);
  }
}

TEST(ByteTable, AllByteValuesInOneCall) {
  const tk::ByteTable table = dna_table();
  std::string src(256, '\0');
  for (int i = 0; i < 256; ++i) src[static_cast<size_t>(i)] = static_cast<char>(i);
  for (tk::Isa isa : isas()) {
    std::vector<uint8_t> out(256);
    table.map(src.data(), 256, out.data(), isa);
    for (int i = 0; i < 256; ++i) {
      uint8_t expected = 200;
      const char c = static_cast<char>(i);
      if (c == 'A' || c == 'a') expected = 5;
      if (c == 'C' || c == 'c') expected = 6;
      if (c == 'G' || c == 'g') expected = 7;
      if (c == 'T' || c == 't' || c == 'U' || c == 'u') expected = 8;
      if (c == 'N' || c == 'n') expected = 9;
      if (c == '-') expected = 30;
      if (c == '*') expected = 255;
      if (i == 0xE9) expected = 17;
      EXPECT_EQ(out[static_cast<size_t>(i)], expected) << name(isa) << " byte " << i;
    }
  }
}

TEST(ByteKernels, FindFirstAbove) {
  std::mt19937 rng(11);
  for (tk::Isa isa : isas()) {
    for (size_t n : lengths()) {
      for (uint8_t threshold : {0, 3, 200, 254, 255}) {
        std::vector<uint8_t> codes = random_codes(n, rng, 4);
        // Plant one large value at a random place (or none).
        if (n > 0 && rng() % 4 != 0) codes[rng() % n] = static_cast<uint8_t>(threshold == 255 ? 255 : threshold + 1);
        size_t expected = n;
        for (size_t i = 0; i < n; ++i)
          if (codes[i] > threshold) {
            expected = i;
            break;
          }
        ASSERT_EQ(tk::find_first_above(codes.data(), n, threshold, isa), expected)
            << name(isa) << " n=" << n << " threshold=" << int(threshold);
      }
    }
  }
}

TEST(ByteKernels, PackWindowsIsTheBase4NumberOfEachWindow) {
  std::mt19937 rng(13);
  for (tk::Isa isa : isas()) {
    for (int k = 1; k <= 8; ++k) {
      for (size_t windows : lengths()) {
        // Codes up to 7: only the low two bits count.
        const auto codes = random_codes(windows + static_cast<size_t>(k) - 1, rng, 8);
        for (size_t shift : kDstShifts) {
          Destination out(windows, shift);
          tk::pack_windows(codes.data(), windows, k, 5, out.data, isa);
          for (size_t i = 0; i < windows; ++i)
            ASSERT_EQ(out.data[i], 5 + base4(codes.data() + i, k))
                << name(isa) << " k=" << k << " windows=" << windows << " shift=" << shift;
          EXPECT_EQ(out.data[windows], -7);
        }
      }
    }
  }
}

TEST(ByteKernels, PackWindowsLargeOutputs) {
  std::mt19937 rng(14);
  for (tk::Isa isa : isas()) {
    for (int k : {3, 6}) {
      const auto codes = random_codes(kStreamingLength + static_cast<size_t>(k) - 1, rng, 4);
      Destination out(kStreamingLength, 3);
      tk::pack_windows(codes.data(), kStreamingLength, k, 5, out.data, isa);
      for (size_t i = 0; i < kStreamingLength; ++i)
        ASSERT_EQ(out.data[i], 5 + base4(codes.data() + i, k)) << name(isa) << " k=" << k << " i=" << i;
      EXPECT_EQ(out.data[kStreamingLength], -7);
    }
  }
}

TEST(ByteKernels, PackChunksIsTheBase4NumberOfEachChunk) {
  std::mt19937 rng(17);
  for (tk::Isa isa : isas()) {
    for (int k = 1; k <= 8; ++k) {
      for (size_t chunks : lengths()) {
        const auto codes = random_codes(chunks * static_cast<size_t>(k), rng, 8);
        for (size_t shift : kDstShifts) {
          Destination out(chunks, shift);
          tk::pack_chunks(codes.data(), chunks, k, 6, out.data, isa);
          for (size_t c = 0; c < chunks; ++c)
            ASSERT_EQ(out.data[c], 6 + base4(codes.data() + c * static_cast<size_t>(k), k))
                << name(isa) << " k=" << k << " chunks=" << chunks << " c=" << c << " shift=" << shift;
          EXPECT_EQ(out.data[chunks], -7);
        }
      }
    }
  }
}

TEST(ByteKernels, PackRejectsUnsupportedK) {
  uint8_t codes[16] = {};
  int32_t out[4];
  EXPECT_THROW(tk::pack_windows(codes, 1, 0, 0, out), strand::InternalError);
  EXPECT_THROW(tk::pack_chunks(codes, 1, 9, 0, out), strand::InternalError);
}

TEST(ByteKernels, LowercaseMask) {
  std::mt19937 rng(19);
  for (tk::Isa isa : isas()) {
    for (size_t n : lengths()) {
      const std::string src = random_bytes(n, rng);
      std::vector<uint8_t> out(n);
      tk::lowercase_mask(src.data(), n, out.data(), isa);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(out[i], (src[i] >= 'a' && src[i] <= 'z') ? 1 : 0) << name(isa);
    }
  }
}

TEST(ByteKernels, UnsupportedIsaIsAnError) {
  if (tk::isa_supported(tk::Isa::Avx2)) {
    EXPECT_EQ(tk::best_isa(), tk::Isa::Avx2);
    GTEST_SKIP() << "this CPU has AVX2";
  }
  uint8_t out[1];
  EXPECT_THROW(tk::lowercase_mask("a", 1, out, tk::Isa::Avx2), strand::UnsupportedError);
}
