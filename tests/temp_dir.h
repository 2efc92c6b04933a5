// A scratch directory for one test, removed with everything in it at the end of the scope.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace strand_tests {

struct TempDir {
  std::filesystem::path path;
  /// $TMPDIR/strand-TAG-PID, emptied first.
  explicit TempDir(const std::string& tag) {
    path = std::filesystem::temp_directory_path() / ("strand-" + tag + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

}  // namespace strand_tests
