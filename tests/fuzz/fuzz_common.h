// Shared by the libFuzzer targets in tests/fuzz.
#pragma once

#include <stdlib.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace strand::fuzz {

/// A file private to this process that each input is written to, for parsers that read a path.
/// Removed at normal exit; libFuzzer's -jobs/-fork workers each get their own.
class ScratchFile {
 public:
  explicit ScratchFile(const std::string& suffix) {
    std::string pattern = (std::filesystem::temp_directory_path() / ("strand-fuzz-XXXXXX" + suffix)).string();
    const int fd = mkstemps(pattern.data(), static_cast<int>(suffix.size()));
    if (fd < 0) {
      std::perror("mkstemps");
      std::abort();
    }
    close(fd);
    path_ = pattern;
  }
  ~ScratchFile() { std::remove(path_.c_str()); }
  ScratchFile(const ScratchFile&) = delete;
  ScratchFile& operator=(const ScratchFile&) = delete;

  const std::string& path() const { return path_; }

  /// Replaces the content with `size` bytes; aborts when the file cannot be written (a broken
  /// harness must not look like a parser that accepts everything).
  void write(const uint8_t* data, size_t size) const {
    std::FILE* f = std::fopen(path_.c_str(), "wb");
    if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
      std::perror(path_.c_str());
      std::abort();
    }
  }

 private:
  std::string path_;
};

}  // namespace strand::fuzz
