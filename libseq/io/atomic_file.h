// Atomic output files: write to "<path>.tmp.<pid>.<n>", fsync, then rename over <path>.
// A killed job never leaves a file at <path> that looks complete.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>
#include <string_view>

namespace strand::io {

/// An output file that appears at its final path only when commit() succeeds.
/// Not thread-safe. Throws strand::IoError on any OS failure (open, write, fsync, rename).
class AtomicFile {
 public:
  /// Opens a temporary file in the directory of `path` (which must exist).
  explicit AtomicFile(std::string path);
  /// Removes the temporary file if commit() was not called.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes.
  void write(const void* data, size_t size);
  void write(std::string_view bytes) { write(bytes.data(), bytes.size()); }
  /// Flushes, fsyncs and renames the temporary file to the final path (and fsyncs the directory).
  void commit();

  const std::string& path() const noexcept { return path_; }
  const std::string& temp_path() const noexcept { return temp_path_; }
  /// Bytes written so far.
  size_t size() const noexcept { return size_; }

 private:
  std::string path_;
  std::string temp_path_;
  std::FILE* file_ = nullptr;
  size_t size_ = 0;
  bool committed_ = false;
};

/// Writes `bytes` to `path` atomically.
void write_file_atomic(const std::string& path, std::string_view bytes);

/// Reads a whole file into a string. Throws strand::IoError when it cannot be opened or read.
std::string read_file(const std::string& path);

}  // namespace strand::io
