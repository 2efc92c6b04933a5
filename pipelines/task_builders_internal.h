// Shared pieces of the task builders (task_builders*.cpp); not a public header.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "libseq/core/random.h"
#include "pipelines/task.h"
#include "pipelines/task_builders.h"

namespace strand::pipelines::task_detail {

/// What a builder hands back before the shared steps (limit, split, balance, folds) run.
struct Draft {
  TaskSpec spec;                          ///< name, description, kind, alphabet, classes, metric
  std::vector<TaskExample> examples;      ///< when the source has no split
  bool preset = false;                    ///< the source defines train and test
  std::vector<TaskExample> preset_train;  ///< when preset
  std::vector<TaskExample> preset_test;
  bool balance = false;                   ///< downsample every class to the rarest one in each split
  std::string split_rule;                 ///< one sentence, recorded in provenance and description
  nlohmann::json details = nlohmann::json::object();  ///< builder-specific provenance
  std::map<std::string, int64_t> dropped; ///< reason -> records left out
};

/// What a builder receives: the options and its inputs resolved to existing paths (same order as
/// TaskBuilderInfo::inputs).
struct Context {
  const TaskBuildOptions& options;
  std::vector<std::string> paths;
  int window(int fallback) const { return options.window > 0 ? options.window : fallback; }
  int64_t block_bp(int64_t fallback) const { return options.block_bp > 0 ? options.block_bp : fallback; }
  /// An independent random stream for one purpose of one builder.
  Rng rng(uint64_t stream) const { return Rng(options.seed, stream); }
};

Draft build_ecoli_cds(const Context& ctx);
Draft build_fly_coding(const Context& ctx);
Draft build_fly_promoter(const Context& ctx);
Draft build_pfam(const Context& ctx);
Draft build_superkingdom(const Context& ctx);
Draft build_ncrna_family(const Context& ctx);
Draft build_tpsa(const Context& ctx);

/// In-place Fisher–Yates shuffle.
template <typename T>
void shuffle(std::vector<T>& v, Rng& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[static_cast<size_t>(rng.uniform(i))]);
}

/// `k` of the indices 0..n-1 chosen uniformly without replacement, in increasing order.
std::vector<size_t> sample_indices(size_t n, size_t k, Rng& rng);

/// Half-open [begin, end) interval on a sequence.
struct Interval {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t length() const { return end - begin; }
};

/// Non-overlapping windows of `w` bases tiling [iv.begin, iv.end) from a random offset in the
/// slack, so window starts are not tied to feature boundaries. Returns the window starts.
std::vector<int64_t> tile_windows(const Interval& iv, int64_t w, Rng& rng);

/// True when every base of `s` is A, C, G or T (upper case).
bool is_acgt(std::string_view s);

/// Upper-cases in place.
void upper_in_place(std::string& s);

/// Merges overlapping or touching intervals (sorted output).
std::vector<Interval> merge_intervals(std::vector<Interval> v);

/// `outer` minus the union of `holes` (holes sorted and merged).
std::vector<Interval> subtract_intervals(const Interval& outer, const std::vector<Interval>& holes);

}  // namespace strand::pipelines::task_detail
