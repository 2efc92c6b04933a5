#include "libseq/train/schedule.h"

#include <torch/optim/optimizer.h>

#include <cmath>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::train {

nlohmann::json ScheduleOptions::to_json() const {
  return {{"kind", "warmup_cosine"},
          {"peak_lr", peak_lr},
          {"warmup_steps", warmup_steps},
          {"total_steps", total_steps},
          {"min_lr_ratio", min_lr_ratio}};
}

ScheduleOptions ScheduleOptions::from_json(const nlohmann::json& value, const std::string& source) {
  ConfigReader reader(value, source);
  const auto kind = reader.required<std::string>("kind");
  if (kind != "warmup_cosine") {
    throw ConfigError(Location{source, -1, ""}, "schedule kind: expected \"warmup_cosine\", found \"" + kind + "\"");
  }
  ScheduleOptions options;
  options.peak_lr = reader.required<double>("peak_lr");
  options.warmup_steps = reader.required<int64_t>("warmup_steps");
  options.total_steps = reader.required<int64_t>("total_steps");
  options.min_lr_ratio = reader.required<double>("min_lr_ratio");
  reader.finish();
  options.validate();
  return options;
}

void ScheduleOptions::validate() const {
  STRAND_CHECK(std::isfinite(peak_lr) && peak_lr > 0, "schedule: peak_lr must be a positive number, got ", peak_lr);
  STRAND_CHECK(total_steps > 0, "schedule: total_steps must be > 0, got ", total_steps);
  STRAND_CHECK(warmup_steps >= 0 && warmup_steps <= total_steps, "schedule: warmup_steps must be in [0, total_steps = ",
               total_steps, "], got ", warmup_steps);
  STRAND_CHECK(min_lr_ratio >= 0 && min_lr_ratio <= 1, "schedule: min_lr_ratio must be in [0, 1], got ",
               min_lr_ratio);
}

bool ScheduleOptions::operator==(const ScheduleOptions& other) const {
  return peak_lr == other.peak_lr && warmup_steps == other.warmup_steps && total_steps == other.total_steps &&
         min_lr_ratio == other.min_lr_ratio;
}

double lr_at(const ScheduleOptions& options, int64_t step) {
  options.validate();
  STRAND_CHECK(step >= 0, "schedule: step must be >= 0, got ", step);
  const double peak = options.peak_lr;
  const double floor = options.min_lr_ratio * peak;
  const int64_t w = options.warmup_steps;
  const int64_t t = options.total_steps;
  if (step <= w) return w == 0 ? peak : peak * static_cast<double>(step) / static_cast<double>(w);
  if (step >= t) return floor;
  const double progress = static_cast<double>(step - w) / static_cast<double>(t - w);
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

WarmupCosineSchedule::WarmupCosineSchedule(const ScheduleOptions& options) : options_(options) { options_.validate(); }

double WarmupCosineSchedule::lr_at(int64_t step) const { return train::lr_at(options_, step); }

double WarmupCosineSchedule::apply(torch::optim::Optimizer& optimizer, int64_t step) const {
  const double lr = lr_at(step);
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
  return lr;
}

}  // namespace strand::train
