#include "libseq/io/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "libseq/core/error.h"

namespace strand::io {
namespace {
std::atomic<unsigned> g_counter{0};

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
}  // namespace

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  STRAND_CHECK(!path_.empty(), "output path is empty");
  temp_path_ = path_ + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(g_counter.fetch_add(1));
  file_ = std::fopen(temp_path_.c_str(), "wb");
  if (file_ == nullptr) throw_errno("cannot create output file", temp_path_);
}

AtomicFile::~AtomicFile() {
  if (file_ != nullptr) std::fclose(file_);
  if (!committed_) std::remove(temp_path_.c_str());
}

void AtomicFile::write(const void* data, size_t size) {
  STRAND_ASSERT(file_ != nullptr, "write after commit on ", path_);
  if (size == 0) return;
  if (std::fwrite(data, 1, size, file_) != size) throw_errno("cannot write", temp_path_);
  size_ += size;
}

void AtomicFile::commit() {
  STRAND_ASSERT(file_ != nullptr, "commit called twice on ", path_);
  if (std::fflush(file_) != 0) throw_errno("cannot write", temp_path_);
  if (::fsync(::fileno(file_)) != 0) throw_errno("cannot fsync", temp_path_);
  const int rc = std::fclose(file_);
  file_ = nullptr;
  if (rc != 0) throw_errno("cannot close", temp_path_);
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) throw_errno("cannot rename temporary file to", path_);
  committed_ = true;
  // Make the rename itself durable.
  const int dir = ::open(parent_dir(path_).c_str(), O_RDONLY | O_DIRECTORY);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_file_atomic(const std::string& path, std::string_view bytes) {
  AtomicFile out(path);
  out.write(bytes);
  out.commit();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("cannot open", path);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw_errno("cannot read", path);
  return buffer.str();
}

}  // namespace strand::io
