// mzML reader: the real depthcharge sample (tests/data/spectra, provenance in its README), its gzip
// copy, and small hand-made documents for the encodings and for bad records and bad files.
//
// Expected numbers for the real file were computed independently with Python 3's standard library
// (xml.etree to walk the document, base64.b64decode + struct.unpack('<d' / '<f') for the arrays,
// float(value) * 60 for scan start times in minutes). Base64 strings of the hand-made documents
// were made the same way (struct.pack + zlib.compress + base64.b64encode).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bio/spectra/spectrum.h"
#include "libseq/core/error.h"
#include "tests/message_of.h"
#include "tests/temp_dir.h"

namespace {

namespace sp = strand::bio::spectra;

const std::string kMzml = std::string(STRAND_TEST_DATA) + "/spectra/depthcharge_TMT10-Trial-8.mzML";

std::vector<sp::Spectrum> read_all(sp::SpectrumReader& reader) {
  std::vector<sp::Spectrum> out;
  sp::Spectrum s;
  while (reader.next(s)) out.push_back(s);
  return out;
}

std::vector<sp::Spectrum> read_text(const std::string& text, sp::ReadStats* stats = nullptr) {
  auto reader = sp::open_mzml_text(text, "test.mzML");
  auto out = read_all(*reader);
  if (stats != nullptr) *stats = reader->stats();
  return out;
}


std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}


void write_gzip(const std::string& path, const std::string& data) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, data.data(), static_cast<unsigned>(data.size())), static_cast<int>(data.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

// ---- building small documents ----------------------------------------------------------------

std::string base64(const std::string& bytes) {
  static const char* digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16) |
                       (static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    for (int s = 18; s >= 0; s -= 6) out += digits[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out += digits[(v >> 18) & 63];
    out += digits[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? digits[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

/// Little-endian 64-bit doubles (assembled byte by byte, independent of the host).
std::string le_doubles(const std::vector<double>& values) {
  std::string out;
  for (double v : values) {
    uint64_t u = 0;
    std::memcpy(&u, &v, sizeof u);
    for (int b = 0; b < 8; ++b) out += static_cast<char>((u >> (8 * b)) & 0xff);
  }
  return out;
}

/// A zlib stream of `zeros` zero bytes, compressed in pieces (a "zlib bomb" when zeros is large).
std::string zlib_zeros(size_t zeros) {
  z_stream zs{};
  EXPECT_EQ(deflateInit(&zs, Z_BEST_COMPRESSION), Z_OK);
  const std::vector<unsigned char> block(size_t{1} << 20, 0);
  std::string out;
  std::vector<unsigned char> buf(size_t{1} << 16);
  size_t left = zeros;
  int flush = Z_NO_FLUSH;
  do {
    const size_t n = std::min(left, block.size());
    left -= n;
    flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    zs.next_in = const_cast<unsigned char*>(block.data());
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      out.append(reinterpret_cast<const char*>(buf.data()), buf.size() - zs.avail_out);
    } while (zs.avail_out == 0);
  } while (flush != Z_FINISH);
  deflateEnd(&zs);
  return out;
}

const char* const kMz64 = R"(<cvParam cvRef="MS" accession="MS:1000523" name="64-bit float" value=""/>)";
const char* const kF32 = R"(<cvParam cvRef="MS" accession="MS:1000521" name="32-bit float" value=""/>)";
const char* const kNone = R"(<cvParam cvRef="MS" accession="MS:1000576" name="no compression" value=""/>)";
const char* const kZlib = R"(<cvParam cvRef="MS" accession="MS:1000574" name="zlib compression" value=""/>)";
const char* const kMzArray = R"(<cvParam cvRef="MS" accession="MS:1000514" name="m/z array" value=""/>)";
const char* const kIntArray = R"(<cvParam cvRef="MS" accession="MS:1000515" name="intensity array" value=""/>)";

// Python: base64.b64encode(struct.pack('<3d', 100.5, 200.25, 300.125))
const char* const kMz3Plain = "AAAAAAAgWUAAAAAAAAhpQAAAAAAAwnJA";
// Python: base64.b64encode(zlib.compress(struct.pack('<3d', 100.5, 200.25, 300.125)))
const char* const kMz3Zlib = "eJxjYAAChUgHEMXAkQmhDxU5AAAXFgLf";
// Python: base64.b64encode(struct.pack('<3f', 10.0, 20.5, 1e6))
const char* const kInt3Plain = "AAAgQQAApEEAJHRJ";
// Python: base64.b64encode(zlib.compress(struct.pack('<3f', 10.0, 20.5, 1e6)))
const char* const kInt3Zlib = "eJxjYFBwZGBY4sigUuIJAApPAig=";

std::string array(const std::string& params, const std::string& binary, const std::string& attrs = "") {
  return "<binaryDataArray encodedLength=\"" + std::to_string(binary.size()) + "\"" + attrs + ">" + params +
         "<binary>" + binary + "</binary></binaryDataArray>";
}

/// A 3-peak spectrum: 64-bit m/z, 32-bit intensity; `mz_binary` / `int_binary` replace the arrays.
struct Spec {
  std::string id = "controllerType=0 controllerNumber=1 scan=7";
  int index = 0;
  std::string length = "3";
  std::string level = R"(<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="2"/>)";
  std::string scan = R"(<scanList count="1"><scan><cvParam cvRef="MS" accession="MS:1000016" name="scan start time")"
                     R"( value="1.5" unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"/></scan></scanList>)";
  std::string precursor;
  std::string mz = array(std::string(kMz64) + kNone + kMzArray, kMz3Plain);
  std::string intensity = array(std::string(kF32) + kNone + kIntArray, kInt3Plain);

  std::string xml() const {
    return "<spectrum index=\"" + std::to_string(index) + "\" id=\"" + id + "\" defaultArrayLength=\"" + length +
           "\">\n  " + level + "\n  " + scan + "\n  " + precursor + "\n  <binaryDataArrayList count=\"2\">" + mz +
           intensity + "</binaryDataArrayList>\n</spectrum>\n";
  }
};

std::string document(const std::vector<Spec>& spectra, bool indexed = false) {
  std::string body = "<run id=\"r\"><spectrumList count=\"" + std::to_string(spectra.size()) + "\">\n";
  for (const auto& s : spectra) body += s.xml();
  body += "</spectrumList></run>\n";
  if (!indexed) {
    return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<mzML xmlns=\"http://psi.hupo.org/ms/mzml\" "
           "version=\"1.1.0\">\n" +
           body + "</mzML>\n";
  }
  return "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<indexedmzML xmlns=\"http://psi.hupo.org/ms/mzml\">\n"
         "<mzML xmlns=\"http://psi.hupo.org/ms/mzml\" version=\"1.1.0\">\n" +
         body +
         "</mzML>\n<indexList count=\"1\"><index name=\"spectrum\"><offset idRef=\"x\">0</offset></index></indexList>\n"
         "<indexListOffset>0</indexListOffset>\n</indexedmzML>\n";
}

/// One spectrum per test case: index i, id "s<i>".
Spec spec(int index) {
  Spec s;
  s.index = index;
  s.id = "s" + std::to_string(index);
  return s;
}

// ---- the real file ---------------------------------------------------------------------------

struct Expected {
  const char* id;
  int ms_level;
  size_t peaks;
  double mz_first, mz_last, int_first, int_last;
  double rt_min;  // scan start time as written (minutes)
};

// Python (see the top of the file): per spectrum, id, MS:1000511, len(arrays), first/last m/z and
// intensity, MS:1000016 value.
const Expected kExpected[] = {
    {"index=500", 1, 483, 551.8281860351562, 1732.8310546875, 2633.525146484375, 5426.2236328125, 1.06908425945},
    {"controllerType=0 controllerNumber=1 scan=501", 2, 118, 284.9170227050781, 1570.0240478515625, 12.935371398925781,
     34.62841796875, 1.06991494585},
    {"controllerType=0 controllerNumber=1 scan=502", 3, 21, 101.62646484375, 246.4464569091797, 1509.4171142578125,
     2291.41796875, 1.07191289545},
    {"controllerType=0 controllerNumber=1 scan=503", 1, 525, 552.3925170898438, 1752.7672119140625, 2568.51123046875,
     5124.2900390625, 1.07591777331667},
    {"controllerType=0 controllerNumber=1 scan=504", 2, 76, 311.8630065917969, 1731.43505859375, 11.070932388305664,
     6.736405372619629, 1.07677296771667},
    {"controllerType=0 controllerNumber=1 scan=505", 3, 35, 100.60972595214844, 281.3289489746094, 1449.7288818359375,
     2250.423828125, 1.07873549118333},
    {"controllerType=0 controllerNumber=1 scan=506", 1, 591, 551.3468627929688, 1784.6610107421875, 3821.228271484375,
     4485.75830078125, 1.08286500613333},
    {"controllerType=0 controllerNumber=1 scan=507", 2, 62, 338.66900634765625, 1859.51806640625, 17.75226593017578,
     19.459474563598633, 1.08368752105},
    {"controllerType=0 controllerNumber=1 scan=508", 3, 41, 102.13258361816406, 181.84249877929688, 1378.071044921875,
     2348.197021484375, 1.08569582266667},
    {"controllerType=0 controllerNumber=1 scan=509", 1, 559, 553.3674926757812, 1550.177490234375, 2840.82373046875,
     5140.10546875, 1.08968822558333},
    {"controllerType=0 controllerNumber=1 scan=510", 2, 107, 247.79200744628906, 1943.083984375, 12.090676307678223,
     37.34141159057617, 1.09051016131667},
};

void expect_real_file(const std::vector<sp::Spectrum>& all) {
  ASSERT_EQ(all.size(), std::size(kExpected));
  for (size_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE("spectrum " + std::to_string(i));
    const sp::Spectrum& s = all[i];
    const Expected& e = kExpected[i];
    EXPECT_EQ(s.id, e.id);
    EXPECT_EQ(s.index, static_cast<int64_t>(i));
    EXPECT_EQ(s.ms_level, e.ms_level);
    EXPECT_EQ(s.scans, i == 0 ? "" : std::to_string(500 + i));
    EXPECT_DOUBLE_EQ(s.retention_time_s, e.rt_min * 60);
    EXPECT_TRUE(s.peptide.empty());
    ASSERT_EQ(s.mz.size(), e.peaks);
    ASSERT_EQ(s.intensity.size(), e.peaks);
    EXPECT_DOUBLE_EQ(s.mz.front(), e.mz_first);
    EXPECT_DOUBLE_EQ(s.mz.back(), e.mz_last);
    EXPECT_DOUBLE_EQ(s.intensity.front(), e.int_first);
    EXPECT_DOUBLE_EQ(s.intensity.back(), e.int_last);
    if (e.ms_level == 1) {
      EXPECT_EQ(s.precursor_mz, 0);
      EXPECT_EQ(s.precursor_charge, 0);
    }
  }
  // Precursors, Python: first precursor's first selectedIon, MS:1000744 / MS:1000041 (else
  // MS:1000633) / MS:1000042.
  EXPECT_DOUBLE_EQ(all[1].precursor_mz, 804.774963378906);
  EXPECT_EQ(all[1].precursor_charge, 3);  // MS:1000633 possible charge state (hand-edited upstream)
  EXPECT_DOUBLE_EQ(all[1].precursor_intensity, 11531.6333007813);
  EXPECT_DOUBLE_EQ(all[4].precursor_mz, 1001.6693);
  EXPECT_EQ(all[4].precursor_charge, 2);
  EXPECT_DOUBLE_EQ(all[4].precursor_intensity, 11786.2670898438);
  EXPECT_DOUBLE_EQ(all[5].precursor_mz, 914.367980957031);
  EXPECT_EQ(all[5].precursor_charge, 0);  // scan 505's first precursor has no charge
  EXPECT_DOUBLE_EQ(all[5].precursor_intensity, 90.3927612304688);
  EXPECT_DOUBLE_EQ(all[8].precursor_mz, 962.856994628906);
  EXPECT_EQ(all[8].precursor_charge, 2);
  EXPECT_DOUBLE_EQ(all[10].precursor_mz, 800.4349);
  EXPECT_EQ(all[10].precursor_charge, 3);
  // Whole-array sums, Python: sum() of the decoded values (in file order).
  double mz_sum = 0;
  double int_sum = 0;
  for (double v : all[1].mz) mz_sum += v;
  for (double v : all[1].intensity) int_sum += v;
  EXPECT_NEAR(mz_sum, 97096.00964355469, 1e-6);
  EXPECT_NEAR(int_sum, 6488.9930028915405, 1e-6);
  mz_sum = 0;
  for (double v : all[6].mz) mz_sum += v;
  EXPECT_NEAR(mz_sum, 451314.26654052734, 1e-5);
}

TEST(MzmlFile, ReadsTheDepthchargeSample) {
  auto reader = sp::open_mzml(kMzml);
  EXPECT_EQ(reader->source(), kMzml);
  const auto all = read_all(*reader);
  expect_real_file(all);
  EXPECT_EQ(reader->stats().spectra, 11);
  EXPECT_EQ(reader->stats().skipped, 0);
  EXPECT_TRUE(reader->stats().reasons.empty());
  sp::Spectrum s;
  EXPECT_FALSE(reader->next(s));  // stays at the end
}

TEST(MzmlFile, OpenSpectraDispatchesOnTheName) {
  auto reader = sp::open_spectra(kMzml);
  expect_real_file(read_all(*reader));
}

TEST(MzmlFile, GzipCopyReadsIdentically) {
  strand_tests::TempDir dir("mzml");
  const std::string gz = (dir.path / "sample.mzML.gz").string();
  write_gzip(gz, slurp(kMzml));
  auto plain = read_all(*sp::open_mzml(kMzml));
  auto reader = sp::open_spectra(gz);
  auto zipped = read_all(*reader);
  expect_real_file(zipped);
  ASSERT_EQ(plain.size(), zipped.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    EXPECT_EQ(plain[i].mz, zipped[i].mz);
    EXPECT_EQ(plain[i].intensity, zipped[i].intensity);
  }
}

TEST(MzmlFile, InMemoryTextReadsIdentically) { expect_real_file(read_text(slurp(kMzml))); }

TEST(MzmlFile, MissingFileIsAnIoError) {
  EXPECT_THROW(sp::open_mzml(std::string(STRAND_TEST_DATA) + "/spectra/no_such_file.mzML"), strand::IoError);
}

TEST(MzmlFile, TruncatedFileIsAParseErrorNamingTheSpectrum) {
  const std::string text = slurp(kMzml);
  const size_t start = text.find("<spectrum index=\"3\"");
  ASSERT_NE(start, std::string::npos);
  const std::string cut = text.substr(0, start + 3000);  // inside spectrum 3's arrays

  auto reader = sp::open_mzml_text(cut, "cut.mzML");
  sp::Spectrum s;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(reader->next(s));
  std::string message = strand_tests::message_of<strand::ParseError>([&] { reader->next(s); });
  EXPECT_NE(message.find("cut.mzML"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("spectrum 3 'controllerType=0 controllerNumber=1 scan=503'"), std::string::npos) << message;
  EXPECT_FALSE(reader->next(s));

  // The same from a gzip file, cut inside the start tag.
  strand_tests::TempDir dir("mzml");
  const std::string gz = (dir.path / "cut.mzML.gz").string();
  write_gzip(gz, text.substr(0, start + 12));
  message = strand_tests::message_of<strand::ParseError>([&] { read_all(*sp::open_mzml(gz)); });
  EXPECT_NE(message.find(gz), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("spectrum 3"), std::string::npos) << message;

  // Cut between two spectra: the list is never closed.
  const size_t next = text.find("<spectrum index=\"4\"");
  message = strand_tests::message_of<strand::ParseError>([&] { read_text(text.substr(0, next)); });
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
}

TEST(MzmlFile, CorruptGzipIsAParseError) {
  strand_tests::TempDir dir("mzml");
  const std::string gz = (dir.path / "bad.mzML.gz").string();
  write_gzip(gz, slurp(kMzml));
  const std::string bytes = slurp(gz);
  const auto rewrite = [&](const std::string& data) {
    std::ofstream out(gz, std::ios::binary | std::ios::trunc);
    out << data;
  };
  // The chromatogram after the spectra takes most of the compressed size: 1/20 of the stream ends
  // inside spectrum 3 (found by trying).
  rewrite(bytes.substr(0, bytes.size() / 20));
  std::string message = strand_tests::message_of<strand::ParseError>([&] { read_all(*sp::open_mzml(gz)); });
  EXPECT_NE(message.find(gz), std::string::npos) << message;
  EXPECT_NE(message.find("truncated"), std::string::npos) << message;
  EXPECT_NE(message.find("spectrum 3"), std::string::npos) << message;
  // Overwrite compressed bytes inside the spectra.
  std::string corrupt = bytes;
  for (size_t i = corrupt.size() / 20; i < corrupt.size() / 20 + 64; ++i) corrupt[i] = static_cast<char>(0xff);
  rewrite(corrupt);
  message = strand_tests::message_of<strand::ParseError>([&] { read_all(*sp::open_mzml(gz)); });
  EXPECT_NE(message.find(gz), std::string::npos) << message;
}

// ---- hand-made documents ---------------------------------------------------------------------

TEST(MzmlText, PlainAndZlibArraysOfBothWidths) {
  Spec plain = spec(0);
  Spec zipped = spec(1);
  zipped.mz = array(std::string(kMz64) + kZlib + kMzArray, kMz3Zlib);
  zipped.intensity = array(std::string(kF32) + kZlib + kIntArray, kInt3Zlib);
  sp::ReadStats stats;
  const auto all = read_text(document({plain, zipped}), &stats);
  ASSERT_EQ(all.size(), 2u);
  for (const auto& s : all) {
    EXPECT_EQ(s.mz, (std::vector<double>{100.5, 200.25, 300.125}));
    EXPECT_EQ(s.intensity, (std::vector<double>{10.0, 20.5, 1e6}));
    EXPECT_EQ(s.ms_level, 2);
  }
  EXPECT_EQ(all[0].id, "s0");
  EXPECT_EQ(all[1].id, "s1");
  EXPECT_EQ(all[1].index, 1);
  EXPECT_EQ(stats.spectra, 2);
  EXPECT_EQ(stats.skipped, 0);
}

TEST(MzmlText, ZlibArrayBuiltInTheTest) {
  Spec s = spec(0);
  s.length = "5";
  const std::vector<double> mz = {1.25, 2.5, 1e-300, 123456.789, 0};
  std::string packed = le_doubles(mz);
  std::vector<unsigned char> z(compressBound(static_cast<uLong>(packed.size())));
  uLongf zlen = static_cast<uLongf>(z.size());
  ASSERT_EQ(
      compress2(z.data(), &zlen, reinterpret_cast<const Bytef*>(packed.data()), static_cast<uLong>(packed.size()), 9),
      Z_OK);
  s.mz =
      array(std::string(kMz64) + kZlib + kMzArray, base64(std::string(reinterpret_cast<const char*>(z.data()), zlen)));
  s.intensity = array(std::string(kMz64) + kNone + kIntArray, base64(le_doubles({5, 4, 3, 2, 1})));
  const auto all = read_text(document({s}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].mz, mz);
  EXPECT_EQ(all[0].intensity, (std::vector<double>{5, 4, 3, 2, 1}));
}

TEST(MzmlText, IndexedAndPlainWrappersReadAlike) {
  const std::vector<Spec> spectra = {spec(0), spec(1), spec(2)};
  const auto plain = read_text(document(spectra, false));
  const auto indexed = read_text(document(spectra, true));
  ASSERT_EQ(plain.size(), 3u);
  ASSERT_EQ(indexed.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(plain[i].id, indexed[i].id);
    EXPECT_EQ(plain[i].id, "s" + std::to_string(i));
    EXPECT_EQ(plain[i].mz, indexed[i].mz);
  }
}

TEST(MzmlText, RetentionTimeUnits) {
  Spec minutes = spec(0);  // 1.5 minutes
  Spec seconds = spec(1);
  seconds.scan = R"(<scanList count="1"><scan><cvParam cvRef="MS" accession="MS:1000016" name="scan start time")"
                 R"( value="12.25" unitCvRef="UO" unitAccession="UO:0000010" unitName="second"/></scan></scanList>)";
  Spec none = spec(2);
  none.scan.clear();
  const auto all = read_text(document({minutes, seconds, none}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_DOUBLE_EQ(all[0].retention_time_s, 90.0);
  EXPECT_DOUBLE_EQ(all[1].retention_time_s, 12.25);
  EXPECT_LT(all[2].retention_time_s, 0);
}

TEST(MzmlText, PrecursorChargeFallsBackToPossibleChargeState) {
  const std::string ion_begin =
      R"(<precursorList count="1"><precursor><selectedIonList count="1"><selectedIon>)"
      R"(<cvParam cvRef="MS" accession="MS:1000744" name="selected ion m/z" value="500.25"/>)";
  const std::string ion_end = R"(<cvParam cvRef="MS" accession="MS:1000042" name="peak intensity" value="1234.5"/>)"
                              R"(</selectedIon></selectedIonList></precursor>)"
                              R"(<precursor><selectedIonList count="1"><selectedIon>)"
                              R"(<cvParam cvRef="MS" accession="MS:1000744" name="selected ion m/z" value="999"/>)"
                              R"(<cvParam cvRef="MS" accession="MS:1000041" name="charge state" value="5"/>)"
                              R"(</selectedIon></selectedIonList></precursor></precursorList>)";
  Spec possible = spec(0);
  possible.precursor =
      ion_begin + R"(<cvParam cvRef="MS" accession="MS:1000633" name="possible charge state" value="4"/>)" + ion_end;
  Spec both = spec(1);
  both.precursor = ion_begin +
                   R"(<cvParam cvRef="MS" accession="MS:1000633" name="possible charge state" value="4"/>)" +
                   R"(<cvParam cvRef="MS" accession="MS:1000041" name="charge state" value="2"/>)" + ion_end;
  Spec neither = spec(2);
  neither.precursor = ion_begin + ion_end;
  const auto all = read_text(document({possible, both, neither}));
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].precursor_charge, 4);
  EXPECT_EQ(all[1].precursor_charge, 2);  // MS:1000041 wins
  EXPECT_EQ(all[2].precursor_charge, 0);  // only the first precursor counts
  for (const auto& s : all) {
    EXPECT_DOUBLE_EQ(s.precursor_mz, 500.25);
    EXPECT_DOUBLE_EQ(s.precursor_intensity, 1234.5);
  }
}

TEST(MzmlText, EmptySpectrumAndMsLevelsAreKept) {
  Spec empty = spec(0);
  empty.length = "0";
  empty.mz = array(std::string(kMz64) + kZlib + kMzArray, "");
  empty.intensity = array(std::string(kF32) + kNone + kIntArray, "");
  Spec ms1 = spec(1);
  ms1.level = R"(<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="1"/>)";
  const auto all = read_text(document({empty, ms1}));
  ASSERT_EQ(all.size(), 2u);
  EXPECT_TRUE(all[0].mz.empty());
  EXPECT_TRUE(all[0].intensity.empty());
  EXPECT_EQ(all[1].ms_level, 1);
  EXPECT_EQ(all[1].mz.size(), 3u);
}

TEST(MzmlText, MarkupInsideAndAroundElementsDoesNotConfuseTheScanner) {
  Spec tricky = spec(0);
  // '>' inside the start tag's attribute values, and comments that look like the end tag.
  tricky.id = "a>b scan=42";
  tricky.level += "<!-- </spectrum> <spectrum index=\"9\"> -->";
  std::string text = document({tricky, spec(1)});
  text.insert(text.find("<spectrumList"), "<!-- <spectrum id=\"fake\"> </spectrumList> -->\n");
  const auto all = read_text(text);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "a>b scan=42");
  EXPECT_EQ(all[0].scans, "42");
  EXPECT_EQ(all[0].mz.size(), 3u);
  EXPECT_EQ(all[1].id, "s1");
}

TEST(MzmlText, WhitespaceInsideBase64IsAllowed) {
  Spec s = spec(0);
  s.mz = array(std::string(kMz64) + kNone + kMzArray, "\n  AAAAAAAgWUAAAAAA\n  AAhpQAAAAAAAwnJA  \n");
  const auto all = read_text(document({s}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].mz, (std::vector<double>{100.5, 200.25, 300.125}));
}

TEST(MzmlText, ArrayLengthAttributeOverridesTheDefault) {
  Spec s = spec(0);
  s.length = "7";
  // Python: base64.b64encode(struct.pack('<2d', 100.5, 200.25))
  s.mz = array(std::string(kMz64) + kNone + kMzArray, "AAAAAAAgWUAAAAAAAAhpQA==", " arrayLength=\"2\"");
  s.intensity = array(std::string(kMz64) + kNone + kIntArray, base64(le_doubles({1, 2})), " arrayLength=\"2\"");
  const auto all = read_text(document({s}));
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].mz, (std::vector<double>{100.5, 200.25}));
}

TEST(MzmlBadRecords, AreSkippedCountedAndLaterSpectraRead) {
  std::vector<Spec> spectra;
  spectra.push_back(spec(0));  // good

  Spec bad_base64 = spec(1);
  bad_base64.mz = array(std::string(kMz64) + kNone + kMzArray, "AAAAAAAg*WUAAAAAAAAhpQAAAAAAAwnJA");
  spectra.push_back(bad_base64);

  Spec short_array = spec(2);  // 2 values for a length of 3
  short_array.mz = array(std::string(kMz64) + kNone + kMzArray, "AAAAAAAgWUAAAAAAAAhpQA==");
  spectra.push_back(short_array);

  Spec numpress = spec(3);
  numpress.mz = array(
      std::string(kMz64) + kMzArray +
          R"(<cvParam cvRef="MS" accession="MS:1002312" name="MS-Numpress linear prediction compression" value=""/>)",
      kMz3Plain);
  spectra.push_back(numpress);

  Spec no_level = spec(4);
  no_level.level.clear();
  spectra.push_back(no_level);

  Spec no_intensity = spec(5);
  no_intensity.intensity.clear();
  spectra.push_back(no_intensity);

  Spec malformed = spec(6);
  malformed.level = R"(<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="2">)";  // never closed
  spectra.push_back(malformed);

  Spec nan = spec(7);
  // Python: base64.b64encode(struct.pack('<3d', 100.5, float('nan'), 300.125))
  nan.mz = array(std::string(kMz64) + kNone + kMzArray, "AAAAAAAgWUAAAAAAAAD4fwAAAAAAwnJA");
  spectra.push_back(nan);

  Spec bad_value = spec(8);
  bad_value.level = R"(<cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="two"/>)";
  spectra.push_back(bad_value);

  Spec bad_zlib = spec(9);
  // Python: base64.b64encode(b'\x78\x9c\xff\xff\xff\xff\x00\x01\x02\x03\x04\x05')
  bad_zlib.mz = array(std::string(kMz64) + kZlib + kMzArray, "eJz/////AAECAwQF");
  spectra.push_back(bad_zlib);

  Spec too_many = spec(10);
  too_many.length = std::to_string(sp::kMaxPeaks + 1);
  spectra.push_back(too_many);

  Spec bad_rt = spec(11);
  bad_rt.scan = R"(<scanList count="1"><scan><cvParam cvRef="MS" accession="MS:1000016" name="scan start time")"
                R"( value="1.5x" unitCvRef="UO" unitAccession="UO:0000031" unitName="minute"/></scan></scanList>)";
  spectra.push_back(bad_rt);

  spectra.push_back(spec(12));  // good

  sp::ReadStats stats;
  const auto all = read_text(document(spectra), &stats);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, "s0");
  EXPECT_EQ(all[1].id, "s12");
  EXPECT_EQ(all[1].index, 12);
  EXPECT_EQ(all[1].mz, (std::vector<double>{100.5, 200.25, 300.125}));
  EXPECT_EQ(stats.spectra, 2);
  EXPECT_EQ(stats.skipped, 11);
  const std::map<std::string, int64_t> reasons = {
      {"bad base64", 1},    {"array length mismatch", 1}, {"unsupported compression", 1}, {"no ms level", 1},
      {"missing array", 1}, {"malformed XML", 1},         {"non-finite value", 1},        {"bad cvParam value", 2},
      {"zlib error", 1},    {"too many peaks", 1},
  };
  EXPECT_EQ(stats.reasons, reasons);
  EXPECT_EQ(stats.first_skipped.rfind("test.mzML: spectrum 1 's1': ", 0), 0u) << stats.first_skipped;
}

TEST(MzmlBadRecords, UnsupportedCompressionNamesTheAccession) {
  Spec numpress = spec(0);
  numpress.intensity = array(
      std::string(kF32) + kIntArray +
          R"(<cvParam cvRef="MS" accession="MS:1002314" name="MS-Numpress short logged float compression" value=""/>)",
      kInt3Plain);
  sp::ReadStats stats;
  EXPECT_TRUE(read_text(document({numpress}), &stats).empty());
  EXPECT_EQ(stats.reasons.at("unsupported compression"), 1);
  EXPECT_NE(stats.first_skipped.find("MS:1002314"), std::string::npos) << stats.first_skipped;
}

TEST(MzmlBadRecords, ZlibBombIsRejectedWithoutInflatingIt) {
  constexpr size_t kInflated = size_t{256} << 20;  // 256 MiB of zeros for an array of 3 doubles
  const std::string bomb = base64(zlib_zeros(kInflated));
  ASSERT_LT(bomb.size(), size_t{2} << 20);  // the payload itself is small
  Spec s = spec(0);
  s.mz = array(std::string(kMz64) + kZlib + kMzArray, bomb);
  const std::string text = document({s, spec(1)});

  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  sp::ReadStats stats;
  const auto all = read_text(text, &stats);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);

  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, "s1");
  EXPECT_EQ(stats.skipped, 1);
  EXPECT_EQ(stats.reasons.count("array length mismatch"), 1u) << stats.first_skipped;
  EXPECT_NE(stats.first_skipped.find("inflates to more than"), std::string::npos) << stats.first_skipped;
  // Peak resident memory (KiB on Linux) grew by far less than the inflated size.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64L * 1024)
      << "peak RSS grew by " << after.ru_maxrss - before.ru_maxrss << " KiB";
}

TEST(MzmlBadRecords, UnclosedSpectrumIsSkippedAndTheNextOneRead) {
  std::string text = document({spec(0), spec(1)});
  const size_t close = text.find("</spectrum>");
  text.erase(close, std::string("</spectrum>").size());
  sp::ReadStats stats;
  const auto all = read_text(text, &stats);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, "s1");
  EXPECT_EQ(stats.reasons.at("malformed XML"), 1);
}

TEST(MzmlErrors, NotMzmlIsAParseError) {
  std::string message = strand_tests::message_of<strand::ParseError>(
      [] { sp::open_mzml_text(">seq1\nACGT\n", "reads.fa"); });
  EXPECT_NE(message.find("reads.fa"), std::string::npos) << message;
  EXPECT_NE(message.find("not an mzML file"), std::string::npos) << message;
  message = strand_tests::message_of<strand::ParseError>(
      [] { sp::open_mzml_text("<?xml version=\"1.0\"?>\n<mzXML><scan/></mzXML>\n", "x.mzXML"); });
  EXPECT_NE(message.find("not an mzML file"), std::string::npos) << message;
  message = strand_tests::message_of<strand::ParseError>([] { sp::open_mzml_text("", "empty.mzML"); });
  EXPECT_NE(message.find("not an mzML file"), std::string::npos) << message;

  strand_tests::TempDir dir("mzml");
  const std::string path = (dir.path / "text.mzML").string();
  {
    std::ofstream out(path);
    out << std::string(20000, ' ') << "<mzML></mzML>\n";  // the root comes too late
  }
  message = strand_tests::message_of<strand::ParseError>([&] { sp::open_mzml(path); });
  EXPECT_NE(message.find(path), std::string::npos) << message;
  EXPECT_NE(message.find("not an mzML file"), std::string::npos) << message;
}

TEST(MzmlErrors, DocumentWithoutSpectraIsEmpty) {
  const std::string text =
      "<?xml version=\"1.0\"?>\n<mzML><run id=\"r\"><spectrumList count=\"0\">\n</spectrumList></run></mzML>\n";
  sp::ReadStats stats;
  EXPECT_TRUE(read_text(text, &stats).empty());
  EXPECT_EQ(stats.spectra, 0);
  EXPECT_EQ(stats.skipped, 0);
}

}  // namespace
