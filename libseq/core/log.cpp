#include "libseq/core/log.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <mutex>

namespace strand::log {
namespace {
std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_mutex;
}  // namespace

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load()); }

const char* level_name(Level l) {
  switch (l) {
    case Level::Error: return "error";
    case Level::Warn: return "warn";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
    case Level::Trace: return "trace";
  }
  return "?";
}

Level parse_level(const std::string& name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (Level l : {Level::Error, Level::Warn, Level::Info, Level::Debug, Level::Trace}) {
    if (lower == level_name(l)) return l;
  }
  if (lower == "warning") return Level::Warn;
  throw InputError("unknown log level '" + name + "' (expected error, warn, info, debug or trace)");
}

void write(Level l, const std::string& message) {
  const std::string line = std::string("[strand ") + level_name(l) + "] " + message + "\n";
  std::lock_guard<std::mutex> lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace strand::log
