#include <gtest/gtest.h>

#include <filesystem>

#include "libseq/core/error.h"
#include "libseq/io/atomic_file.h"

namespace fs = std::filesystem;

namespace {
size_t files_in(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
}  // namespace

TEST(AtomicFile, AppearsOnlyAfterCommit) {
  const fs::path dir = fs::path(::testing::TempDir()) / "strand_atomic_commit";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto path = (dir / "out.bin").string();
  {
    strand::io::AtomicFile f(path);
    f.write("hello ");
    f.write("world");
    EXPECT_FALSE(fs::exists(path));
    EXPECT_TRUE(fs::exists(f.temp_path()));
    f.commit();
  }
  EXPECT_EQ(strand::io::read_file(path), "hello world");
  EXPECT_EQ(files_in(dir), 1u);
  fs::remove_all(dir);
}

TEST(AtomicFile, AbandonedWriteLeavesNothingAndKeepsOldFile) {
  const fs::path dir = fs::path(::testing::TempDir()) / "strand_atomic_abandon";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const auto path = (dir / "out.txt").string();
  strand::io::write_file_atomic(path, "old");
  try {
    strand::io::AtomicFile f(path);
    f.write("partial new content");
    throw std::runtime_error("job killed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(strand::io::read_file(path), "old");
  EXPECT_EQ(files_in(dir), 1u);
  fs::remove_all(dir);
}

TEST(AtomicFile, MissingDirectoryIsAnIoErrorNamingThePath) {
  try {
    strand::io::AtomicFile f("/nonexistent-dir-for-strand/out.bin");
    FAIL();
  } catch (const strand::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent-dir-for-strand/out.bin"), std::string::npos);
  }
}
