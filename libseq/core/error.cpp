#include "libseq/core/error.h"

#include <cerrno>
#include <cstring>

namespace strand {

std::string format_location(const Location& where, const std::string& message) {
  std::string out;
  if (!where.file.empty()) {
    out += where.file;
    if (where.line >= 0) out += ":" + std::to_string(where.line);
    out += ": ";
  } else if (where.line >= 0) {
    out += "line " + std::to_string(where.line) + ": ";
  }
  if (!where.record.empty()) out += where.record + ": ";
  return out + message;
}

void throw_errno(const std::string& what, const std::string& path) {
  const int err = errno;
  throw IoError(what + " '" + path + "': " + std::strerror(err));
}

namespace detail {
void throw_internal(const char* cond, const char* file, int line, const std::string& message) {
  std::string text = std::string("internal error (a bug in strand, please report it): ") + file + ":" +
                     std::to_string(line) + ": assertion '" + cond + "' failed";
  if (!message.empty()) text += ": " + message;
  throw InternalError(text);
}
}  // namespace detail

}  // namespace strand
