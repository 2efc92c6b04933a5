// Helpers shared by the sequence I/O tests (test_io_*.cpp).
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "bio/io/reader.h"
#include "libseq/core/error.h"
#include "tests/message_of.h"

namespace strand::bio::io::test {

/// A file of tests/data/io.
inline std::string data(const std::string& relative) { return std::string(STRAND_TEST_DATA) + "/io/" + relative; }

/// Files of installed Debian packages (scripts/setup.sh installs them).
inline const std::string kHtslibTest = "/usr/share/htslib-test/test/";
inline const std::string kAny2fasta = "/usr/share/doc/any2fasta/examples/";

/// Succeeds when `path` exists; otherwise fails naming the Debian package that ships it.
inline ::testing::AssertionResult installed(const std::string& path, const char* package) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << path << " is missing: install the Debian package " << package
                                       << " (apt-get install " << package << ")";
}

inline std::vector<SequenceRecord> drain(SequenceReader& reader) {
  std::vector<SequenceRecord> out;
  SequenceRecord r;
  while (reader.next(r)) out.push_back(r);
  return out;
}

inline std::vector<SequenceRecord> read_all(const std::string& path, const ReadOptions& options = {},
                                            ReadSummary* summary = nullptr) {
  auto reader = open_sequences(path, options);
  auto out = drain(*reader);
  if (summary != nullptr) *summary = reader->summary();
  return out;
}

inline std::vector<SequenceRecord> read_regions(const std::string& path, const std::vector<std::string>& regions,
                                                const ReadOptions& options = {}) {
  auto reader = open_regions(path, regions, options);
  return drain(*reader);
}

inline int64_t total_bases(const std::vector<SequenceRecord>& records) {
  int64_t n = 0;
  for (const auto& r : records) n += static_cast<int64_t>(r.seq.size());
  return n;
}

using strand_tests::message_of;

/// The message of the ParseError raised while opening and reading all of `path`.
inline std::string parse_error(const std::string& path, const ReadOptions& options = {}) {
  return message_of<ParseError>([&] { read_all(path, options); });
}

inline void expect_same_records(const std::vector<SequenceRecord>& a, const std::vector<SequenceRecord>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE("record " + std::to_string(i + 1) + " '" + a[i].name + "'");
    EXPECT_EQ(a[i].name, b[i].name);
    EXPECT_EQ(a[i].comment, b[i].comment);
    EXPECT_EQ(a[i].seq, b[i].seq);
    EXPECT_EQ(a[i].qual, b[i].qual);
    EXPECT_EQ(a[i].source, b[i].source);
    EXPECT_EQ(a[i].begin, b[i].begin);
    EXPECT_EQ(a[i].end, b[i].end);
    EXPECT_EQ(a[i].strand, b[i].strand);
    EXPECT_EQ(a[i].index, b[i].index);
  }
}

/// A fresh directory, removed with its content at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "strand-io-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace strand::bio::io::test
