// Typed exceptions and the two check macros.
//
// Two kinds of failure, never mixed:
//   STRAND_CHECK(cond, msg...)   bad input (user file, option, config). Throws strand::InputError.
//   STRAND_ASSERT(cond, msg...)  a broken invariant: a bug in strand. Throws strand::InternalError.
// Parsers throw strand::ParseError with the file, line and record they were reading, so the
// message always says where, what was expected and what was found.
#pragma once

#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace strand {

/// Base class of every exception strand throws on purpose.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// Where in an input a problem was found. Empty/negative fields are unknown and not printed.
struct Location {
  std::string file;    ///< path as the user gave it
  int64_t line = -1;   ///< 1-based line number
  std::string record;  ///< record name or 1-based record index, e.g. "read 'SRR065390.1'" or "record 12"
};

/// Formats "file:line: record: message" leaving out unknown parts.
std::string format_location(const Location& where, const std::string& message);

/// Bad input: a file, an option value, a config entry. The user can fix it.
class InputError : public Error {
 public:
  explicit InputError(const std::string& message) : Error(message) {}
  InputError(const Location& where, const std::string& message)
      : Error(format_location(where, message)), where_(where), detail_(message) {}
  const Location& where() const noexcept { return where_; }
  /// The message without the location prefix.
  const std::string& detail() const noexcept { return detail_; }

 private:
  Location where_;
  std::string detail_;
};

/// Malformed file content (FASTA, FASTQ, BAM, JSON, safetensors, ...).
class ParseError : public InputError {
 public:
  using InputError::InputError;
};

/// Invalid configuration (JSON config, tokenizer file, model config): unknown or missing keys, bad values.
class ConfigError : public InputError {
 public:
  using InputError::InputError;
};

/// A tensor or array with the wrong shape or dtype.
class ShapeError : public InputError {
 public:
  using InputError::InputError;
};

/// An operating-system level I/O failure: open, read, write, fsync, rename.
class IoError : public Error {
 public:
  explicit IoError(const std::string& message) : Error(message) {}
};

/// A feature that this build does not contain (e.g. CUDA kernels in a CPU build).
class UnsupportedError : public Error {
 public:
  explicit UnsupportedError(const std::string& message) : Error(message) {}
};

/// A broken invariant: a bug in strand, not in the input.
class InternalError : public Error {
 public:
  explicit InternalError(const std::string& message) : Error(message) {}
};

namespace detail {
template <typename... Args>
std::string str(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
[[noreturn]] void throw_internal(const char* cond, const char* file, int line, const std::string& message);
}  // namespace detail

/// Throws an IoError "<what> '<path>': <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what, const std::string& path);

}  // namespace strand

/// Input check: throws strand::InputError with the concatenated message when cond is false.
#define STRAND_CHECK(cond, ...)                                          \
  do {                                                                   \
    if (!(cond)) throw ::strand::InputError(::strand::detail::str(__VA_ARGS__)); \
  } while (0)

/// Input check throwing a chosen InputError subclass constructed from (Location, message).
#define STRAND_CHECK_AT(ExcType, where, cond, ...)                               \
  do {                                                                           \
    if (!(cond)) throw ExcType((where), ::strand::detail::str(__VA_ARGS__));     \
  } while (0)

/// Invariant check: a failure is a bug in strand. Throws strand::InternalError.
#define STRAND_ASSERT(cond, ...)                                                        \
  do {                                                                                  \
    if (!(cond))                                                                        \
      ::strand::detail::throw_internal(#cond, __FILE__, __LINE__,                       \
                                       ::strand::detail::str(__VA_ARGS__));       \
  } while (0)
