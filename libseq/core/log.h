// Leveled logging to stderr. The level is process-wide, like htslib's hts_verbose: the CLI sets it
// once from --log-level / --quiet before any work starts.
#pragma once

#include <string>

#include "libseq/core/error.h"

namespace strand::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3, Trace = 4 };

void set_level(Level level);
Level level();
/// Parses "error", "warn", "info", "debug", "trace" (case-insensitive); throws InputError otherwise.
Level parse_level(const std::string& name);
const char* level_name(Level level);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

/// Writes one line "[strand <level>] message" to stderr (thread-safe; whole lines never interleave).
void write(Level level, const std::string& message);

}  // namespace strand::log

#define STRAND_LOG(lvl, ...)                                                                 \
  do {                                                                                       \
    if (::strand::log::enabled(lvl)) ::strand::log::write(lvl, ::strand::detail::str(__VA_ARGS__)); \
  } while (0)
#define STRAND_LOG_ERROR(...) STRAND_LOG(::strand::log::Level::Error, __VA_ARGS__)
#define STRAND_LOG_WARN(...) STRAND_LOG(::strand::log::Level::Warn, __VA_ARGS__)
#define STRAND_LOG_INFO(...) STRAND_LOG(::strand::log::Level::Info, __VA_ARGS__)
#define STRAND_LOG_DEBUG(...) STRAND_LOG(::strand::log::Level::Debug, __VA_ARGS__)
