// safetensors reader/writer: bit-exact round trips, byte-level layout against the specification,
// zero-copy mapping, sharded checkpoints, hostile files and atomic writes.
#include "libseq/io/safetensors.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <ostream>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace {

namespace fs = std::filesystem;
using strand::io::SafetensorsFile;
using TensorMap = std::map<std::string, at::Tensor>;

class Safetensors : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string(info->test_suite_name()) + "_" + info->name();
    for (char& c : name)
      if (c == '/') c = '_';
    dir_ = fs::path(::testing::TempDir()) / ("strand_st_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }

  std::set<std::string> listing() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.insert(e.path().filename().string());
    return out;
  }

  fs::path dir_;
};

void write_raw(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good());
}

std::string le64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

// A file laid out by the specification: length prefix, header padded with spaces to a multiple
// of 8 bytes, then `buffer`.
std::string st_bytes(std::string header, const std::string& buffer) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le64(header.size()) + header + buffer;
}

std::string tensor_bytes(const at::Tensor& t) {
  const at::Tensor c = t.contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
}

void expect_bit_equal(const at::Tensor& expected, const at::Tensor& actual, const std::string& what) {
  ASSERT_TRUE(actual.defined()) << what;
  EXPECT_EQ(actual.scalar_type(), expected.scalar_type()) << what;
  EXPECT_EQ(actual.sizes(), expected.sizes()) << what;
  EXPECT_TRUE(tensor_bytes(expected) == tensor_bytes(actual)) << what << ": bytes differ";
}

// Tensor filled with random bytes: every bit pattern (NaN payloads, subnormals, -0) is possible.
at::Tensor random_bits(at::ScalarType dtype, std::vector<int64_t> shape, std::mt19937& rng) {
  at::Tensor t = at::empty(shape, at::TensorOptions().dtype(dtype));
  auto* p = static_cast<uint8_t*>(t.data_ptr());
  for (size_t i = 0; i < t.nbytes(); ++i) p[i] = static_cast<uint8_t>(rng() & 0xff);
  if (dtype == at::kBool)
    for (size_t i = 0; i < t.nbytes(); ++i) p[i] &= 1;
  return t;
}

at::Tensor from_u16(at::ScalarType dtype, const std::vector<uint16_t>& bits) {
  at::Tensor t = at::empty({static_cast<int64_t>(bits.size())}, at::TensorOptions().dtype(dtype));
  std::memcpy(t.data_ptr(), bits.data(), bits.size() * 2);
  return t;
}

TEST(SafetensorsDtype, MapsEveryTorchCounterpartBothWays) {
  const std::vector<std::pair<const char*, at::ScalarType>> pairs = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}, {"C64", at::kComplexFloat}};
  for (const auto& [name, type] : pairs) {
    EXPECT_EQ(strand::io::torch_dtype_from_safetensors(name), type) << name;
    EXPECT_EQ(strand::io::safetensors_dtype_from_torch(type), std::string_view(name)) << name;
  }
  EXPECT_FALSE(strand::io::torch_dtype_from_safetensors("U16"));
  EXPECT_FALSE(strand::io::torch_dtype_from_safetensors("F8_E4M3"));
  EXPECT_FALSE(strand::io::torch_dtype_from_safetensors("f32"));
  EXPECT_FALSE(strand::io::safetensors_dtype_from_torch(at::kComplexDouble));
  EXPECT_FALSE(strand::io::safetensors_dtype_from_torch(at::kQInt8));
}

TEST_F(Safetensors, RoundTripEveryDtypeBitExact) {
  std::mt19937 rng(20240607);
  TensorMap in;
  for (const auto type : {at::kDouble, at::kFloat, at::kHalf, at::kBFloat16, at::kLong, at::kInt, at::kShort,
                          at::kChar, at::kByte, at::kBool, at::kComplexFloat}) {
    in["random." + std::string(*strand::io::safetensors_dtype_from_torch(type))] = random_bits(type, {3, 5}, rng);
  }
  // -0, +inf, a NaN with payload, the smallest subnormal: must survive as bits, not values.
  in["special.F16"] = from_u16(at::kHalf, {0x8000, 0x7c00, 0x7e01, 0x0001, 0xfbff});
  in["special.BF16"] = from_u16(at::kBFloat16, {0x8000, 0x7f80, 0x7fc1, 0x0001, 0xff7f});
  const std::string file = path("all.safetensors");
  strand::io::save_safetensors(file, in);

  for (const bool copy : {false, true}) {
    const TensorMap out = strand::io::load_safetensors(file, {copy});
    ASSERT_EQ(out.size(), in.size());
    for (const auto& [name, t] : in) {
      ASSERT_EQ(out.count(name), 1u) << name;
      expect_bit_equal(t, out.at(name), name + (copy ? " (copy)" : " (view)"));
      EXPECT_TRUE(out.at(name).is_contiguous());
      EXPECT_TRUE(out.at(name).device().is_cpu());
    }
  }
  // BOOL is one byte per element on disk.
  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_EQ(f.info("random.BOOL").dtype, "BOOL");
  EXPECT_EQ(f.info("random.BOOL").nbytes(), 15u);
}

TEST_F(Safetensors, ZeroDimAndEmptyTensors) {
  TensorMap in;
  in["scalar"] = at::scalar_tensor(3.5, at::kFloat);
  in["empty"] = at::empty({0}, at::kLong);
  in["empty3d"] = at::empty({2, 0, 3}, at::kBFloat16);
  const std::string file = path("edge.safetensors");
  strand::io::save_safetensors(file, in);

  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_TRUE(f.info("scalar").shape.empty());
  EXPECT_EQ(f.info("scalar").nbytes(), 4u);
  EXPECT_EQ(f.info("empty").nbytes(), 0u);
  EXPECT_EQ(f.info("empty3d").shape, (std::vector<int64_t>{2, 0, 3}));

  const TensorMap out = f.tensors();
  EXPECT_EQ(out.at("scalar").dim(), 0);
  EXPECT_EQ(out.at("scalar").item<float>(), 3.5f);
  EXPECT_EQ(out.at("empty").sizes(), at::IntArrayRef({0}));
  EXPECT_EQ(out.at("empty").scalar_type(), at::kLong);
  EXPECT_EQ(out.at("empty3d").sizes(), at::IntArrayRef({2, 0, 3}));
  EXPECT_EQ(out.at("empty3d").scalar_type(), at::kBFloat16);
}

TEST_F(Safetensors, NonContiguousInputsAreWrittenInLogicalOrder) {
  const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
  TensorMap in;
  in["transposed"] = base.t();
  in["strided"] = at::arange(20, at::kInt).slice(0, 1, 20, 3);
  in["expanded"] = at::arange(4, at::kDouble).reshape({1, 4}).expand({3, 4});
  in["narrowed"] = base.narrow(1, 1, 2);
  in["conj"] = at::complex(at::arange(3, at::kFloat), at::ones({3}, at::kFloat)).conj();
  ASSERT_FALSE(in["transposed"].is_contiguous());
  ASSERT_TRUE(in["conj"].is_conj());
  const std::string file = path("views.safetensors");
  strand::io::save_safetensors(file, in);

  const TensorMap out = strand::io::load_safetensors(file);
  for (const auto& [name, t] : in) {
    EXPECT_TRUE(at::equal(out.at(name), t.resolve_conj())) << name;
    EXPECT_EQ(out.at(name).sizes(), t.sizes()) << name;
  }
  EXPECT_EQ(out.at("strided")[2].item<int32_t>(), 7);
  EXPECT_EQ(out.at("conj")[1].item<c10::complex<float>>(), c10::complex<float>(1.0f, -1.0f));
  EXPECT_EQ(SafetensorsFile::open(file).info("expanded").nbytes(), 12u * 8u);
}

TEST_F(Safetensors, MetadataRoundTrip) {
  const std::map<std::string, std::string> meta = {
      {"format", "pt"}, {"greek", "\xce\xb1\xce\xb2\xce\xb3"}, {"escapes", "a\"b\\c\nd\te"}, {"empty", ""}};
  const std::string file = path("meta.safetensors");
  strand::io::save_safetensors(file, {{"x", at::ones({2}, at::kFloat)}}, meta);
  EXPECT_EQ(SafetensorsFile::open(file).metadata(), meta);

  strand::io::save_safetensors(file, {{"x", at::ones({2}, at::kFloat)}});
  EXPECT_TRUE(SafetensorsFile::open(file).metadata().empty());
}

// Expected bytes assembled by hand from the specification: u64 little-endian header length,
// compact JSON with "__metadata__" first and entries in data order, spaces up to a multiple of 8,
// then the buffer with tensors ordered by decreasing alignment (F64, F32, I8), then name.
TEST_F(Safetensors, GoldenBytesMatchTheSpecification) {
  TensorMap in;
  in["a"] = at::tensor({1.0f, -2.0f});
  in["b"] = at::tensor({1, -2, 3}, at::kChar);
  in["c"] = at::tensor({0.5}, at::kDouble);
  const std::string file = path("golden.safetensors");
  strand::io::save_safetensors(file, in, {{"format", "pt"}});

  const std::string json =
      R"({"__metadata__":{"format":"pt"},)"
      R"("c":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
      R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
      R"("b":{"dtype":"I8","shape":[3],"data_offsets":[16,19]}})";
  ASSERT_EQ(json.size(), 193u);
  std::string expected;
  expected += std::string("\xc8\0\0\0\0\0\0\0", 8);  // 200 = 193 rounded up to a multiple of 8
  expected += json + std::string(7, ' ');
  expected += std::string("\0\0\0\0\0\0\xe0\x3f", 8);  // 0.5 as IEEE-754 double, little-endian
  expected += std::string("\0\0\x80\x3f", 4);          // 1.0f
  expected += std::string("\0\0\0\xc0", 4);            // -2.0f
  expected += std::string("\x01\xfe\x03", 3);          // int8 1, -2, 3
  EXPECT_EQ(strand::io::read_file(file), expected);

  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(f.data_offset(), 8u + 200u);
  EXPECT_EQ(f.info("a").begin, 8u);
  EXPECT_EQ(f.info("a").end, 16u);
  EXPECT_EQ(f.info("b").dtype, "I8");
}

// Byte vectors from the reference implementation's own tests (safetensors/src/tensor.rs:
// test_serialization_forced_alignement and test_empty).
TEST_F(Safetensors, GoldenBytesMatchTheReferenceImplementation) {
  const std::string file = path("ref.safetensors");
  strand::io::save_safetensors(file, {{"attn0", at::arange(6, at::kFloat).reshape({1, 1, 2, 3})}});
  const std::vector<uint8_t> forced_alignment = {
      72,  0,   0,   0,   0,   0,   0,   0,   123, 34,  97,  116, 116, 110, 48,  34,  58,  123, 34,  100, 116,
      121, 112, 101, 34,  58,  34,  70,  51,  50,  34,  44,  34,  115, 104, 97,  112, 101, 34,  58,  91,  49,
      44,  49,  44,  50,  44,  51,  93,  44,  34,  100, 97,  116, 97,  95,  111, 102, 102, 115, 101, 116, 115,
      34,  58,  91,  48,  44,  50,  52,  93,  125, 125, 32,  32,  32,  32,  32,  32,  32,  0,   0,   0,   0,
      0,   0,   128, 63,  0,   0,   0,   64,  0,   0,   64,  64,  0,   0,   128, 64,  0,   0,   160, 64};
  EXPECT_EQ(strand::io::read_file(file), std::string(forced_alignment.begin(), forced_alignment.end()));

  strand::io::save_safetensors(file, {});
  EXPECT_EQ(strand::io::read_file(file), std::string("\x08\0\0\0\0\0\0\0{}      ", 16));

  strand::io::save_safetensors(file, {}, {{"framework", "pt"}});
  const std::vector<uint8_t> empty_with_metadata = {
      40, 0,   0,   0,  0,   0,  0,  0,  123, 34, 95,  95,  109, 101, 116, 97,  100,
      97, 116, 97,  95, 95,  34, 58, 123, 34, 102, 114, 97,  109, 101, 119, 111, 114,
      107, 34, 58,  34, 112, 116, 34, 125, 125, 32, 32,  32,  32,  32};
  EXPECT_EQ(strand::io::read_file(file), std::string(empty_with_metadata.begin(), empty_with_metadata.end()));
  EXPECT_EQ(SafetensorsFile::open(file).size(), 0u);
  EXPECT_EQ(SafetensorsFile::open(file).metadata().at("framework"), "pt");
}

TEST_F(Safetensors, ZeroCopyViewsLieInsideTheMapping) {
  const std::string file = path("zc.safetensors");
  const at::Tensor x = at::arange(1000, at::kFloat).reshape({10, 100});
  strand::io::save_safetensors(file, {{"x", x}, {"y", at::ones({7}, at::kShort)}});

  at::Tensor view;
  const char* expected_ptr = nullptr;
  {
    const SafetensorsFile f = SafetensorsFile::open(file);
    view = f.tensor("x");
    const std::string_view mapped = f.bytes();
    const auto* p = static_cast<const char*>(view.data_ptr());
    EXPECT_GE(p, mapped.data());
    EXPECT_LE(p + view.nbytes(), mapped.data() + mapped.size());
    expected_ptr = mapped.data() + f.data_offset() + f.info("x").begin;
    EXPECT_EQ(p, expected_ptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 4, 0u);

    const at::Tensor copy = f.tensor("x", {true});
    const auto* q = static_cast<const char*>(copy.data_ptr());
    EXPECT_TRUE(q + copy.nbytes() <= mapped.data() || q >= mapped.data() + mapped.size());
    EXPECT_TRUE(at::equal(copy, x));
  }
  // The file object is gone; the view keeps the mapping alive.
  EXPECT_EQ(static_cast<const char*>(view.data_ptr()), expected_ptr);
  EXPECT_TRUE(at::equal(view, x));
}

TEST_F(Safetensors, InPlaceWritesToViewsNeverReachTheFile) {
  const std::string file = path("cow.safetensors");
  strand::io::save_safetensors(file, {{"w", at::zeros({256}, at::kFloat)}});
  const std::string before = strand::io::read_file(file);
  at::Tensor w = SafetensorsFile::open(file).tensor("w");
  w.add_(1.0);
  EXPECT_EQ(w[0].item<float>(), 1.0f);
  EXPECT_EQ(strand::io::read_file(file), before);
  EXPECT_EQ(SafetensorsFile::open(file).tensor("w")[0].item<float>(), 0.0f);
}

TEST_F(Safetensors, ReplacingTheFileKeepsOldViewsIntact) {
  const std::string file = path("replace.safetensors");
  strand::io::save_safetensors(file, {{"w", at::full({64}, 1.0f)}});
  const at::Tensor old_view = SafetensorsFile::open(file).tensor("w");
  strand::io::save_safetensors(file, {{"w", at::full({64}, 2.0f)}});
  EXPECT_TRUE(at::equal(old_view, at::full({64}, 1.0f)));
  EXPECT_TRUE(at::equal(strand::io::load_safetensors(file).at("w"), at::full({64}, 2.0f)));
}

// Files from writers that order tensors by name only can put an F32 at an odd offset.
TEST_F(Safetensors, MisalignedTensorIsReturnedAsAlignedCopy) {
  const std::string file = path("misaligned.safetensors");
  const std::string header =
      R"({"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"F32","shape":[1],"data_offsets":[3,7]}})";
  write_raw(file, st_bytes(header, std::string("\x01\x02\x03", 3) + std::string("\0\0\x80\x3f", 4)));
  const SafetensorsFile f = SafetensorsFile::open(file);
  const at::Tensor b = f.tensor("b");
  EXPECT_EQ(b.item<float>(), 1.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data_ptr()) % 4, 0u);
  const at::Tensor a = f.tensor("a");
  EXPECT_EQ(static_cast<const char*>(a.data_ptr()), f.bytes().data() + f.data_offset());
  EXPECT_EQ(a[2].item<uint8_t>(), 3);
}

// Valid by the specification: no element, so no byte, whatever the other dimensions say.
TEST_F(Safetensors, HugeDimensionsWithZeroElementsLoad) {
  const std::string file = path("zero.safetensors");
  write_raw(file, st_bytes(R"({"a":{"dtype":"F32","shape":[0,9223372036854775807],"data_offsets":[0,0]},)"
                           R"("b":{"dtype":"I64","shape":[9223372036854775807,0],"data_offsets":[0,0]}})",
                           ""));
  for (const bool copy : {false, true}) {
    const TensorMap out = strand::io::load_safetensors(file, {copy});
    EXPECT_EQ(out.at("a").numel(), 0);
    EXPECT_EQ(out.at("a").size(1), std::numeric_limits<int64_t>::max());
    EXPECT_EQ(out.at("b").numel(), 0);
  }
}

TEST_F(Safetensors, DtypeWithoutTorchTypeIsListedButNotLoaded) {
  const std::string file = path("u16.safetensors");
  write_raw(file, st_bytes(R"({"w":{"dtype":"U16","shape":[2],"data_offsets":[0,4]}})", std::string(4, '\x01')));
  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_EQ(f.info("w").dtype, "U16");
  EXPECT_FALSE(f.info("w").scalar_type.has_value());
  try {
    f.tensor("w");
    FAIL() << "expected UnsupportedError";
  } catch (const strand::UnsupportedError& e) {
    EXPECT_NE(std::string(e.what()).find(file), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor 'w'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("U16"), std::string::npos) << e.what();
  }
}

TEST_F(Safetensors, BoolBytesOtherThanZeroOrOneAreRejected) {
  const std::string file = path("bool.safetensors");
  write_raw(file, st_bytes(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", std::string("\x01\x00\x02", 3)));
  const SafetensorsFile f = SafetensorsFile::open(file);
  try {
    f.tensor("m");
    FAIL() << "expected ParseError";
  } catch (const strand::ParseError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(file), std::string::npos) << what;
    EXPECT_NE(what.find("tensor 'm'"), std::string::npos) << what;
    EXPECT_NE(what.find("element 2 is byte 2"), std::string::npos) << what;
  }
}

TEST_F(Safetensors, UnknownTensorNameIsAnInputError) {
  const std::string file = path("one.safetensors");
  strand::io::save_safetensors(file, {{"w", at::ones({1})}});
  const SafetensorsFile f = SafetensorsFile::open(file);
  EXPECT_FALSE(f.contains("v"));
  EXPECT_THROW(f.tensor("v"), strand::InputError);
  EXPECT_THROW(f.info("v"), strand::InputError);
}

// ---------------------------------------------------------------------------------------------
// Hostile and truncated files: one case per rule. Each must raise ParseError naming the file,
// the tensor where one is involved, and the problem.

struct HostileCase {
  const char* name;
  std::string bytes;
  const char* tensor;  // "" when the problem is not about one tensor
  const char* problem;
};

void PrintTo(const HostileCase& c, std::ostream* os) { *os << c.name; }

std::string entry(const std::string& name, const std::string& body) { return "\"" + name + "\":" + body; }

std::vector<HostileCase> hostile_cases() {
  const std::string f32x2 = R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const std::string zeros8(8, '\0');
  return {
      {"EmptyFile", "", "", "file is 0 bytes, shorter than the 8-byte header length"},
      {"ShorterThan8Bytes", std::string("\x02\0\0", 3), "", "file is 3 bytes, shorter than the 8-byte header length"},
      {"HeaderLengthPastEndOfFile", le64(100) + "{}", "", "header length 100 runs past the end of the file (10 bytes"},
      {"HeaderLengthOver100MB", le64(100000001) + "{}      ", "", "header length 100000001 exceeds the limit of 100000000"},
      {"HeaderLengthMaxU64", le64(~0ull) + "{}", "", "header length 18446744073709551615 exceeds the limit"},
      {"HeaderLengthZero", le64(0) + "{}", "", "header length is 0"},
      {"InvalidJson", st_bytes(R"({"w":{"dtype":)", ""), "", "invalid JSON"},
      {"HeaderNotAnObject", st_bytes("[1,2]", ""), "", "starting with '{', found byte 0x5b"},
      {"GarbageAfterJson", st_bytes("{} x", ""), "", "invalid JSON"},
      {"NulPaddingIsNotWhitespace", le64(8) + std::string("{}\0\0\0\0\0\0", 8), "", "invalid JSON: NUL byte at offset 2"},
      {"TextAfterNulIsNotIgnored", st_bytes(std::string("{}\0{\"w\":1}", 10), ""), "", "invalid JSON: NUL byte"},
      {"HeaderNotUtf8", st_bytes("{\"\xff\":1}", ""), "", "invalid JSON"},
      {"EntryNotAnObject", st_bytes("{" + entry("w", "[0,8]") + "}", zeros8), "w", "header entry must be an object"},
      {"MissingDataOffsets", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2]})") + "}", zeros8), "w",
       "missing key 'data_offsets'"},
      {"UnknownKeyInEntry",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8],"strides":[1]})") + "}", zeros8),
       "w", "unknown key 'strides'"},
      {"UnknownDtype", st_bytes("{" + entry("w", R"({"dtype":"F13","shape":[2],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "unknown dtype 'F13'"},
      {"DtypeNotAString", st_bytes("{" + entry("w", R"({"dtype":32,"shape":[2],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "dtype must be a string, found 32"},
      {"NegativeShape", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[-2],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "shape[0] must be a non-negative integer, found -2"},
      {"FractionalShape",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[1,2.5],"data_offsets":[0,8]})") + "}", zeros8), "w",
       "shape[1] must be a non-negative integer, found 2.5"},
      {"StringShape", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":["2"],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "shape[0] must be a non-negative integer, found \"2\""},
      {"ShapeNotAnArray", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":2,"data_offsets":[0,8]})") + "}", zeros8),
       "w", "shape must be an array, found 2"},
      {"ShapeProductOverflows",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]})") + "}",
                zeros8),
       "w", "has more elements than 64 bits can count"},
      {"ShapeBeyondInt64",
       st_bytes("{" + entry("w", R"({"dtype":"U8","shape":[9223372036854775808],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "shape[0] must be a non-negative integer, found 9223372036854775808"},
      {"ByteSizeOverflows",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]})") + "}",
                zeros8),
       "w", "needs more bytes than 64 bits can count"},
      {"OffsetsOneInteger", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[8]})") + "}", zeros8),
       "w", "data_offsets must be two non-negative integers [begin, end], found [8]"},
      {"OffsetsThreeIntegers",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8,8]})") + "}", zeros8), "w",
       "data_offsets must be two non-negative integers"},
      {"OffsetsNegative", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[-8,0]})") + "}", zeros8),
       "w", "data_offsets must be two non-negative integers [begin, end], found [-8,0]"},
      {"OffsetsNotIntegers",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8.0]})") + "}", zeros8), "w",
       "data_offsets must be two non-negative integers"},
      {"OffsetsDecreasing", st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[8,0]})") + "}", zeros8),
       "w", "data_offsets [8, 0] end before they begin"},
      {"OffsetsEndPastBuffer",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,8]})") + "}", std::string(4, '\0')),
       "w", "data_offsets [0, 8] end past the 4-byte data buffer"},
      {"ByteSizeMismatch",
       st_bytes("{" + entry("w", R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})") + "}", std::string(4, '\0')),
       "w", "data_offsets [0, 4] hold 4 bytes but shape [2] of F32 needs 8"},
      {"OverlappingTensors",
       st_bytes("{" + entry("a", f32x2) + "," + entry("b", R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})") + "}",
                std::string(12, '\0')),
       "b", "overlap tensor 'a', which ends at 8"},
      {"GapBetweenTensors",
       st_bytes("{" + entry("a", f32x2) + "," + entry("b", R"({"dtype":"F32","shape":[1],"data_offsets":[12,16]})") + "}",
                std::string(16, '\0')),
       "b", "leave bytes [8, 12) of the data buffer unused"},
      {"GapAtStart", st_bytes("{" + entry("a", R"({"dtype":"F32","shape":[2],"data_offsets":[4,12]})") + "}",
                              std::string(12, '\0')),
       "a", "leave bytes [0, 4) of the data buffer unused"},
      {"TrailingBytesAfterLastTensor", st_bytes("{" + entry("a", f32x2) + "}", std::string(12, '\0')), "",
       "bytes [8, 12) at the end of the data buffer belong to no tensor"},
      {"DuplicateTensorName", st_bytes("{" + entry("w", f32x2) + "," + entry("w", f32x2) + "}", zeros8), "w",
       "tensor name appears twice in the header"},
      {"DuplicateKeyInsideEntry",
       st_bytes("{" + entry("w", R"({"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]})") + "}", zeros8),
       "w", "key 'dtype' appears twice in the entry"},
      {"DuplicateMetadataKey", st_bytes(R"({"__metadata__":{"format":"pt","format":"np"}})", ""), "",
       "__metadata__ key 'format' appears twice"},
      {"MetadataValueNotString", st_bytes(R"({"__metadata__":{"format":"pt","epoch":3}})", ""), "",
       "__metadata__ value of 'epoch' must be a string, found 3"},
      {"MetadataNotAnObject", st_bytes(R"({"__metadata__":["pt"]})", ""), "",
       "__metadata__ must be an object of strings, found [\"pt\"]"},
  };
}

class SafetensorsHostile : public Safetensors, public ::testing::WithParamInterface<HostileCase> {};

TEST_P(SafetensorsHostile, RaisesParseErrorNamingFileAndProblem) {
  const HostileCase& c = GetParam();
  const std::string file = path(std::string(c.name) + ".safetensors");
  write_raw(file, c.bytes);
  try {
    SafetensorsFile::open(file);
    FAIL() << "expected ParseError for " << c.name;
  } catch (const strand::ParseError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.rfind(file + ": ", 0), 0u) << what;
    EXPECT_NE(what.find(c.problem), std::string::npos) << "message: " << what << "\nexpected: " << c.problem;
    if (*c.tensor != '\0') {
      EXPECT_NE(what.find(std::string("tensor '") + c.tensor + "'"), std::string::npos) << what;
    }
  }
  EXPECT_THROW(strand::io::load_safetensors(file), strand::ParseError);
}

INSTANTIATE_TEST_SUITE_P(Rules, SafetensorsHostile, ::testing::ValuesIn(hostile_cases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) { return info.param.name; });

TEST_F(Safetensors, MissingFileIsAnIoError) {
  EXPECT_THROW(SafetensorsFile::open(path("absent.safetensors")), strand::IoError);
  EXPECT_THROW(SafetensorsFile::open(dir_.string()), strand::IoError);
}

// ---------------------------------------------------------------------------------------------
// Writer failures: nothing at the final path but complete files.

TEST_F(Safetensors, RejectedInputWritesNothing) {
  const std::string file = path("model.safetensors");
  strand::io::save_safetensors(file, {{"good", at::ones({4})}});
  const std::string before = strand::io::read_file(file);

  const at::Tensor ok = at::ones({1000});
  const std::vector<std::pair<std::string, TensorMap>> bad = {
      {"complex double", {{"a", ok}, {"z", at::zeros({2}, at::kComplexDouble)}}},
      {"reserved name", {{"__metadata__", ok}}},
      {"undefined", {{"a", ok}, {"u", at::Tensor()}}},
      {"sparse", {{"a", ok}, {"s", at::eye(3).to_sparse()}}},
      {"name not UTF-8", {{"a", ok}, {"\xff", ok}}},
  };
  for (const auto& [what, tensors] : bad) {
    EXPECT_THROW(strand::io::save_safetensors(file, tensors), strand::InputError) << what;
    EXPECT_EQ(listing(), (std::set<std::string>{"model.safetensors"})) << what;
    EXPECT_EQ(strand::io::read_file(file), before) << what;
  }
  EXPECT_THROW(strand::io::save_safetensors(file, {{"a", ok}}, {{"k", "\xc3"}}), strand::InputError);
  EXPECT_EQ(listing(), (std::set<std::string>{"model.safetensors"}));
}

// Lowers RLIMIT_FSIZE so that write(2) fails with EFBIG part-way through the data.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    ok_ = setrlimit(RLIMIT_FSIZE, &lowered) == 0;
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST_F(Safetensors, FailedWriteLeavesNoTemporaryAndNoPartialFile) {
  const std::string file = path("model.safetensors");
  strand::io::save_safetensors(file, {{"old", at::full({16}, 7.0f)}});
  const std::string before = strand::io::read_file(file);
  {
    FileSizeLimit limit(64 * 1024);
    ASSERT_TRUE(limit.ok());
    EXPECT_THROW(strand::io::save_safetensors(file, {{"big", at::ones({1 << 20}, at::kFloat)}}), strand::IoError);
  }
  EXPECT_EQ(listing(), (std::set<std::string>{"model.safetensors"}));
  EXPECT_EQ(strand::io::read_file(file), before);
  EXPECT_TRUE(at::equal(strand::io::load_safetensors(file).at("old"), at::full({16}, 7.0f)));
}

size_t open_descriptors() {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

TEST_F(Safetensors, NoFileDescriptorOutlivesACall) {
  const std::string file = path("fd.safetensors");
  write_raw(path("bad.safetensors"), st_bytes("{} x", ""));
  const size_t before = open_descriptors();
  std::vector<at::Tensor> views;
  for (int i = 0; i < 20; ++i) {
    strand::io::save_safetensors(file, {{"w", at::full({8}, static_cast<float>(i))}});
    views.push_back(SafetensorsFile::open(file).tensor("w"));
    EXPECT_THROW(SafetensorsFile::open(path("bad.safetensors")), strand::ParseError);
    EXPECT_THROW(SafetensorsFile::open(path("absent")), strand::IoError);
  }
  EXPECT_EQ(open_descriptors(), before);
  EXPECT_EQ(views[3][0].item<float>(), 3.0f);
}

// ---------------------------------------------------------------------------------------------
// Sharded checkpoints (Hugging Face layout).

TensorMap split_case() {
  // Byte sizes 40, 40, 40, 200, 10 with a 100-byte limit.
  return {{"a", at::full({10}, 1.0f)},
          {"b", at::full({10}, 2.0f)},
          {"c", at::full({10}, 3.0f)},
          {"d", at::arange(50, at::kFloat)},
          {"e", at::arange(10, at::kByte)}};
}

void expect_same(const TensorMap& expected, const TensorMap& actual) {
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& [name, t] : expected) {
    ASSERT_EQ(actual.count(name), 1u) << name;
    expect_bit_equal(t, actual.at(name), name);
  }
}

TEST_F(Safetensors, ShardedRoundTripFollowsTheHuggingFaceSplit) {
  const TensorMap in = split_case();
  const auto written = strand::io::save_sharded(dir_.string(), in, 100, {{"format", "pt"}});
  // a+b fill shard 1; c would overflow it; d exceeds the limit and gets its own shard, placed
  // when met; c and e share the last one.
  const std::string s1 = "model-00001-of-00003.safetensors";
  const std::string s2 = "model-00002-of-00003.safetensors";
  const std::string s3 = "model-00003-of-00003.safetensors";
  EXPECT_EQ(written, (std::vector<std::string>{path(s1), path(s2), path(s3), path("model.safetensors.index.json")}));
  EXPECT_EQ(listing(), (std::set<std::string>{s1, s2, s3, "model.safetensors.index.json"}));
  EXPECT_EQ(SafetensorsFile::open(path(s1)).names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(SafetensorsFile::open(path(s2)).names(), (std::vector<std::string>{"d"}));
  EXPECT_EQ(SafetensorsFile::open(path(s3)).names(), (std::vector<std::string>{"c", "e"}));
  EXPECT_EQ(SafetensorsFile::open(path(s3)).metadata().at("format"), "pt");

  // json.dumps(index, indent=2, sort_keys=True) + "\n", as transformers writes it.
  const std::string index_text =
      "{\n"
      "  \"metadata\": {\n"
      "    \"total_size\": 330\n"
      "  },\n"
      "  \"weight_map\": {\n"
      "    \"a\": \"model-00001-of-00003.safetensors\",\n"
      "    \"b\": \"model-00001-of-00003.safetensors\",\n"
      "    \"c\": \"model-00003-of-00003.safetensors\",\n"
      "    \"d\": \"model-00002-of-00003.safetensors\",\n"
      "    \"e\": \"model-00003-of-00003.safetensors\"\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(strand::io::read_file(path("model.safetensors.index.json")), index_text);
  const auto index = strand::io::read_safetensors_index(path("model.safetensors.index.json"));
  EXPECT_EQ(index.total_size, 330u);
  EXPECT_EQ(index.weight_map.at("d"), s2);

  expect_same(in, strand::io::load_sharded(dir_.string()));
  expect_same(in, strand::io::load_sharded(path("model.safetensors.index.json"), {true}));
  expect_same(in, strand::io::load_weights(dir_.string()));
  expect_same(in, strand::io::load_weights(path("model.safetensors.index.json")));
}

TEST_F(Safetensors, OneShardIsWrittenAsModelSafetensors) {
  const TensorMap in = split_case();
  const auto written = strand::io::save_sharded(dir_.string(), in, 1 << 20);
  EXPECT_EQ(written, (std::vector<std::string>{path("model.safetensors")}));
  EXPECT_EQ(listing(), (std::set<std::string>{"model.safetensors"}));
  expect_same(in, strand::io::load_weights(dir_.string()));
  expect_same(in, strand::io::load_weights(path("model.safetensors")));
}

TEST_F(Safetensors, SavingRemovesTheStaleLayout) {
  const TensorMap in = split_case();
  write_raw(path("notes.txt"), "kept");
  strand::io::save_sharded(dir_.string(), in, 1 << 20);
  strand::io::save_sharded(dir_.string(), in, 100);
  EXPECT_EQ(listing(), (std::set<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                              "model-00003-of-00003.safetensors", "model.safetensors.index.json",
                                              "notes.txt"}));
  strand::io::save_sharded(dir_.string(), in, 250);
  EXPECT_EQ(listing(), (std::set<std::string>{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                                              "model.safetensors.index.json", "notes.txt"}));
  expect_same(in, strand::io::load_weights(dir_.string()));
  strand::io::save_sharded(dir_.string(), in, 1 << 20);
  EXPECT_EQ(listing(), (std::set<std::string>{"model.safetensors", "notes.txt"}));
  expect_same(in, strand::io::load_weights(dir_.string()));
}

TEST_F(Safetensors, ShardLimitMustBePositive) {
  EXPECT_THROW(strand::io::save_sharded(dir_.string(), split_case(), 0), strand::InputError);
}

TEST_F(Safetensors, LoadWeightsNeedsACheckpointInTheDirectory) {
  try {
    strand::io::load_weights(dir_.string());
    FAIL() << "expected InputError";
  } catch (const strand::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("neither model.safetensors nor model.safetensors.index.json"),
              std::string::npos)
        << e.what();
  }
}

// Hostile index files: each names the index, the tensor and the problem.
class SafetensorsIndexHostile : public Safetensors {
 protected:
  void SetUp() override {
    Safetensors::SetUp();
    strand::io::save_sharded(dir_.string(), split_case(), 100);
  }
  void edit_index(const std::function<void(nlohmann::json&)>& change) {
    const std::string index_path = path("model.safetensors.index.json");
    nlohmann::json index = nlohmann::json::parse(strand::io::read_file(index_path));
    change(index);
    write_raw(index_path, index.dump(2));
  }
  void expect_parse_error(const std::string& tensor, const std::string& problem) {
    const std::string index_path = path("model.safetensors.index.json");
    try {
      strand::io::load_sharded(dir_.string());
      FAIL() << "expected ParseError: " << problem;
    } catch (const strand::ParseError& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.rfind(index_path + ": ", 0), 0u) << what;
      if (!tensor.empty()) {
        EXPECT_NE(what.find("tensor '" + tensor + "'"), std::string::npos) << what;
      }
      EXPECT_NE(what.find(problem), std::string::npos) << "message: " << what << "\nexpected: " << problem;
    }
  }
};

TEST_F(SafetensorsIndexHostile, MissingShard) {
  fs::remove(path("model-00002-of-00003.safetensors"));
  expect_parse_error("d", "shard 'model-00002-of-00003.safetensors' does not exist");
}

TEST_F(SafetensorsIndexHostile, TensorMissingFromItsShard) {
  edit_index([](nlohmann::json& j) { j["weight_map"]["z"] = "model-00001-of-00003.safetensors"; });
  expect_parse_error("z", "not found in shard 'model-00001-of-00003.safetensors'");
}

TEST_F(SafetensorsIndexHostile, ShardHoldsATensorTheIndexDoesNotList) {
  edit_index([](nlohmann::json& j) { j["weight_map"].erase("e"); });
  expect_parse_error("e", "holds this tensor but the index does not list it");
}

TEST_F(SafetensorsIndexHostile, TensorAssignedToTheWrongShard) {
  edit_index([](nlohmann::json& j) { j["weight_map"]["e"] = "model-00001-of-00003.safetensors"; });
  expect_parse_error("e", "not found in shard 'model-00001-of-00003.safetensors'");
}

TEST_F(SafetensorsIndexHostile, WeightMapNotAnObject) {
  edit_index([](nlohmann::json& j) { j["weight_map"] = nlohmann::json::array({"a"}); });
  expect_parse_error("", "\"weight_map\" must be an object");
}

TEST_F(SafetensorsIndexHostile, WeightMapMissing) {
  edit_index([](nlohmann::json& j) { j.erase("weight_map"); });
  expect_parse_error("", "missing key \"weight_map\"");
}

TEST_F(SafetensorsIndexHostile, ShardNameNotAString) {
  edit_index([](nlohmann::json& j) { j["weight_map"]["a"] = 1; });
  expect_parse_error("a", "shard file must be a string, found 1");
}

TEST_F(SafetensorsIndexHostile, ShardPathEscapesTheDirectory) {
  edit_index([](nlohmann::json& j) { j["weight_map"]["a"] = "../model-00001-of-00003.safetensors"; });
  expect_parse_error("a", "must be a relative name inside the index's directory");
}

TEST_F(SafetensorsIndexHostile, DuplicateTensorInIndex) {
  write_raw(path("model.safetensors.index.json"),
            R"({"weight_map":{"a":"model-00001-of-00003.safetensors","a":"model-00003-of-00003.safetensors"}})");
  expect_parse_error("a", "tensor appears twice in \"weight_map\"");
}

TEST_F(SafetensorsIndexHostile, InvalidJson) {
  write_raw(path("model.safetensors.index.json"), R"({"weight_map":{"a":)");
  expect_parse_error("", "invalid JSON");
}

TEST_F(SafetensorsIndexHostile, CorruptShardNamesTheShardFile) {
  write_raw(path("model-00002-of-00003.safetensors"), std::string("\x01\x02", 2));
  try {
    strand::io::load_sharded(dir_.string());
    FAIL() << "expected ParseError";
  } catch (const strand::ParseError& e) {
    EXPECT_NE(std::string(e.what()).find(path("model-00002-of-00003.safetensors")), std::string::npos) << e.what();
  }
}

}  // namespace
