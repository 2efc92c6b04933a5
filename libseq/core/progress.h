// Progress reporting for long work, on stderr.
//
// On a terminal: one line redrawn in place (at most 10 times a second) with count, percentage,
// rate and ETA. Otherwise (batch jobs, logs): a plain line every `interval` seconds and a final
// summary. Quiet mode (--quiet) prints nothing. Thread-safe: add() may be called from workers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace strand {

class Progress {
 public:
  /// label: what is being done ("tokenize"); total: expected units (0 = unknown); unit: "bp", "records".
  Progress(std::string label, int64_t total, std::string unit);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  /// Adds n units of completed work.
  void add(int64_t n);
  /// Prints the final line (idempotent; the destructor calls it).
  void finish();
  int64_t done() const { return done_.load(); }

  /// Process-wide switches, set by the CLI: quiet disables all output; the interval applies to
  /// non-terminal output.
  static void set_quiet(bool quiet);
  static bool quiet();
  static void set_interval_seconds(double seconds);

  /// A count with a k/M/G/T suffix: 950 -> "950", 12345 -> "12.3k".
  static std::string format_count(double v);
  /// Formats a rate/ETA line (exposed for tests): "label: 1.2M/4.0M bp (30.0%) 5.1M bp/s ETA 0:00:01".
  static std::string format_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                                 double elapsed_seconds);

 private:
  void maybe_print();

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::atomic<int64_t> done_{0};
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_print_;
  std::mutex mutex_;
  bool tty_;
  bool finished_ = false;
};

}  // namespace strand
