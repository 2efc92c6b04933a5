// A whole file mapped into memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace strand::io {

/// A regular file mapped in full with a private, copy-on-write mapping (mmap MAP_PRIVATE,
/// PROT_READ | PROT_WRITE).
///
/// Reading touches the page cache only; writing through data() copies the touched pages into
/// process memory and never reaches the file. The file descriptor is closed as soon as the
/// mapping exists, so a MappedFile holds no descriptor. The mapping lives until the last
/// shared_ptr to it is released; views handed out (for example tensors built over data()) keep
/// it alive by holding such a pointer.
///
/// The file must not be truncated by anyone while it is mapped: reading a page past the new end
/// raises SIGBUS (as with any mmap). Replacing the file by rename, as strand::io::AtomicFile does,
/// is safe: the mapping keeps the old contents.
///
/// Thread-safety: data(), size() and path() may be called from any number of threads.
class MappedFile {
 public:
  /// Maps `path`. An empty file gives size() == 0 and data() == nullptr.
  /// Throws strand::IoError when the file cannot be opened or stat'ed, is not a regular file,
  /// or cannot be mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  /// The path as given to open().
  const std::string& path() const noexcept { return path_; }
  /// File size in bytes at the time it was mapped.
  size_t size() const noexcept { return size_; }
  /// First byte of the mapping (page-aligned), or nullptr for an empty file.
  const uint8_t* data() const noexcept { return data_; }
  /// Writable view of the same bytes; writes stay private to this process.
  uint8_t* mutable_data() noexcept { return data_; }
  /// The whole file as bytes.
  std::string_view bytes() const noexcept {
    return {reinterpret_cast<const char*>(data_), size_};
  }

 private:
  MappedFile(std::string path, uint8_t* data, size_t size) noexcept
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace strand::io
