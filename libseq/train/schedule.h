// Learning-rate schedule: linear warm-up from 0 to the peak rate, then cosine decay to a floor
// (the "warmup + cosine" schedule of Loshchilov & Hutter 2017, SGDR, without restarts).
//
// Step convention: lr_at(s) is the rate of the s-th optimizer update, counting from 1; lr_at(0)
// is the (zero) start of the ramp and is used by no update. With W = warmup_steps,
// T = total_steps, P = peak_lr and F = min_lr_ratio * P:
//   0 <= s <= W:   P * s / W                                      (0 at s = 0, P at s = W)
//   W <  s <= T:   F + (P - F) * (1 + cos(pi * (s - W) / (T - W))) / 2   (F at s = T)
//   s >  T:        F
// With W = 0 there is no ramp (lr_at(0) = P); with W = T there is no decay.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace torch::optim {
class Optimizer;
}

namespace strand::train {

struct ScheduleOptions {
  double peak_lr = 1e-3;      ///< > 0
  int64_t warmup_steps = 0;   ///< >= 0, <= total_steps
  int64_t total_steps = 1;    ///< > 0
  double min_lr_ratio = 0.1;  ///< floor as a fraction of peak_lr, in [0, 1]

  nlohmann::json to_json() const;
  /// Reads the object written by to_json(); `source` names it in errors. Throws
  /// strand::ConfigError for missing, unknown or mistyped keys; InputError as validate().
  static ScheduleOptions from_json(const nlohmann::json& value, const std::string& source);
  /// Throws strand::InputError naming the bad field.
  void validate() const;
  bool operator==(const ScheduleOptions& other) const;
  bool operator!=(const ScheduleOptions& other) const { return !(*this == other); }
};

/// The schedule above as a pure function. Throws strand::InputError when `options` are invalid
/// or step < 0.
double lr_at(const ScheduleOptions& options, int64_t step);

/// A validated schedule. Immutable and thread-safe.
class WarmupCosineSchedule {
 public:
  /// Throws strand::InputError when `options` are invalid.
  explicit WarmupCosineSchedule(const ScheduleOptions& options);

  /// See the formula at the top of this header. Throws strand::InputError for step < 0.
  double lr_at(int64_t step) const;
  /// Sets the learning rate of every parameter group of `optimizer` to lr_at(step) and returns it.
  double apply(torch::optim::Optimizer& optimizer, int64_t step) const;

  const ScheduleOptions& options() const noexcept { return options_; }

 private:
  ScheduleOptions options_;
};

}  // namespace strand::train
