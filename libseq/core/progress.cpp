#include "libseq/core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>

namespace strand {
namespace {
std::atomic<bool> g_quiet{false};
std::atomic<double> g_interval{10.0};


std::string clock_text(double seconds) {
  const auto s = static_cast<long long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, (s / 60) % 60, s % 60);
  return buf;
}
}  // namespace

std::string Progress::format_count(double v) {
  const char* suffix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (std::fabs(v) >= 1000.0 && i < 4) {
    v /= 1000.0;
    ++i;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, i == 0 ? "%.0f%s" : "%.1f%s", v, suffix[i]);
  return buf;
}

void Progress::set_quiet(bool quiet) { g_quiet.store(quiet); }
bool Progress::quiet() { return g_quiet.load(); }
void Progress::set_interval_seconds(double seconds) { g_interval.store(seconds); }

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), total_(total), unit_(std::move(unit)), tty_(::isatty(STDERR_FILENO) == 1) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { finish(); }

std::string Progress::format_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                                  double elapsed) {
  std::string line = label + ": " + Progress::format_count(static_cast<double>(done));
  if (total > 0) line += "/" + Progress::format_count(static_cast<double>(total));
  line += " " + unit;
  if (total > 0) {
    char pct[16];
    std::snprintf(pct, sizeof pct, " (%.1f%%)", 100.0 * static_cast<double>(done) / static_cast<double>(total));
    line += pct;
  }
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  line += " " + Progress::format_count(rate) + " " + unit + "/s";
  if (total > 0 && rate > 0 && done < total) {
    line += " ETA " + clock_text(static_cast<double>(total - done) / rate);
  } else {
    line += " elapsed " + clock_text(elapsed);
  }
  return line;
}

void Progress::add(int64_t n) {
  done_.fetch_add(n);
  maybe_print();
}

void Progress::finish() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (g_quiet.load()) return;
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::string line = format_line(label_, done_.load(), total_, unit_, elapsed);
  std::fprintf(stderr, tty_ ? "\r%s\033[K\n" : "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::maybe_print() {
  if (g_quiet.load()) return;
  const auto now = std::chrono::steady_clock::now();
  const double min_gap = tty_ ? 0.1 : g_interval.load();
  std::unique_lock<std::mutex> lock(mutex_, std::try_to_lock);
  if (!lock.owns_lock() || finished_) return;
  if (std::chrono::duration<double>(now - last_print_).count() < min_gap) return;
  last_print_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const std::string line = format_line(label_, done_.load(), total_, unit_, elapsed);
  std::fprintf(stderr, tty_ ? "\r%s\033[K" : "%s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace strand
