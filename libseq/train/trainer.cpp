#include "libseq/train/trainer.h"

#include <fcntl.h>
#include <unistd.h>

#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>
#include <unordered_map>

#include "libseq/core/config.h"
#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "libseq/core/random.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/safetensors.h"
#include "libseq/train/distributed.h"
#include "libseq/train/rng_state.h"

namespace strand::train {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kStateFormatVersion = 1;
constexpr const char* kCompleteMarker = "complete";
constexpr const char* kModelFile = "model.safetensors";
constexpr const char* kOptimizerFile = "optimizer.safetensors";
constexpr const char* kRngFile = "rng.safetensors";
constexpr const char* kStateFile = "state.json";
constexpr const char* kTempPrefix = ".tmp-step-";
const char* const kGroupNames[2] = {"decay", "no_decay"};

std::string step_dir_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%09lld", static_cast<long long>(step));
  return buf;
}

// "step-<digits>" -> the step; anything else -> -1.
int64_t parse_step_dir(const std::string& name) {
  if (name.rfind("step-", 0) != 0 || name.size() == 5 || name.size() > 5 + 18) return -1;
  if (name.find_first_not_of("0123456789", 5) != std::string::npos) return -1;
  return std::stoll(name.substr(5));
}

std::string join(const std::string& dir, const std::string& name) { return (fs::path(dir) / name).string(); }

void fsync_dir(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) throw_errno("cannot open directory", path);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) throw_errno("cannot fsync directory", path);
}

void make_dirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) throw IoError("cannot create directory '" + path + "': " + ec.message());
}

void remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) throw IoError("cannot remove '" + path + "': " + ec.message());
}

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}


// Parameters and buffers by their state-dict names.
std::map<std::string, at::Tensor> named_state(const torch::nn::Module& module) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) out[item.key()] = item.value();
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (!item.value().defined()) continue;
    STRAND_ASSERT(out.count(item.key()) == 0, "buffer '", item.key(), "' has the name of a parameter");
    out[item.key()] = item.value();
  }
  return out;
}

// The optimizer's state map is keyed by the parameter's TensorImpl: LibTorch 1.13 uses its
// address printed as a string, 2.x the address itself. Derive the key from the map's type.
template <typename Map>
typename Map::key_type optimizer_state_key(const at::Tensor& param) {
  using Key = typename Map::key_type;
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream os;
    os << static_cast<const void*>(param.unsafeGetTensorImpl());
    return os.str();
  } else {
    return static_cast<Key>(param.unsafeGetTensorImpl());
  }
}

template <typename Map>
torch::optim::AdamWParamState* find_adamw_state(Map& state, const at::Tensor& param) {
  const auto it = state.find(optimizer_state_key<Map>(param));
  if (it == state.end()) return nullptr;
  auto* adamw = dynamic_cast<torch::optim::AdamWParamState*>(it->second.get());
  STRAND_ASSERT(adamw != nullptr, "optimizer state is not AdamW state");
  return adamw;
}

// Parameter name of every tensor the optimizer holds, per group.
std::vector<std::vector<std::pair<std::string, at::Tensor>>> group_parameters(const torch::nn::Module& module,
                                                                              const torch::optim::AdamW& optimizer) {
  std::unordered_map<const c10::TensorImpl*, std::string> names;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    names.emplace(item.value().unsafeGetTensorImpl(), item.key());
  std::vector<std::vector<std::pair<std::string, at::Tensor>>> groups;
  for (const auto& group : optimizer.param_groups()) {
    auto& out = groups.emplace_back();
    for (const auto& p : group.params()) {
      const auto it = names.find(p.unsafeGetTensorImpl());
      STRAND_ASSERT(it != names.end(), "an optimizer parameter is not a parameter of the model");
      out.emplace_back(it->second, p);
    }
  }
  return groups;
}

const torch::optim::AdamWOptions& adamw_options(const torch::optim::OptimizerParamGroup& group) {
  return static_cast<const torch::optim::AdamWOptions&>(group.options());
}

}  // namespace

nlohmann::json StepRecord::to_json() const {
  nlohmann::json j = {{"step", step},           {"loss", loss},
                      {"lr", lr},               {"grad_norm", grad_norm},
                      {"tokens", tokens_seen},  {"tokens_per_s", tokens_per_s},
                      {"elapsed_s", elapsed_s}};
  if (val_loss) j["val_loss"] = *val_loss;
  if (val_perplexity) j["val_perplexity"] = *val_perplexity;
  if (val_bits_per_token) j["val_bits_per_token"] = *val_bits_per_token;
  if (val_bits_per_base) j["val_bits_per_base"] = *val_bits_per_base;
  return j;
}

std::vector<std::string> list_checkpoints(const std::string& out_dir) {
  const std::string root = join(out_dir, kTrainStateDir);
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return {};
  std::vector<std::pair<int64_t, std::string>> found;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const int64_t step = parse_step_dir(it->path().filename().string());
    std::error_code entry_ec;
    if (step < 0 || !it->is_directory(entry_ec)) continue;
    if (!fs::is_regular_file(it->path() / kCompleteMarker, entry_ec)) continue;
    found.emplace_back(step, it->path().string());
  }
  if (ec) throw IoError("cannot list '" + root + "': " + ec.message());
  std::sort(found.begin(), found.end());
  std::vector<std::string> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}

Trainer::Trainer(std::shared_ptr<torch::nn::Module> model, TrainerOptions options, TrainerCallbacks callbacks)
    : model_(std::move(model)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      schedule_(options_.schedule) {
  STRAND_CHECK(model_ != nullptr, "trainer: the model is null");
  STRAND_CHECK(!options_.out_dir.empty(), "trainer: out_dir is required");
  STRAND_CHECK(options_.accum_steps >= 1, "trainer: accum_steps must be >= 1, got ", options_.accum_steps);
  STRAND_CHECK(!std::isnan(options_.max_grad_norm), "trainer: max_grad_norm is NaN");
  STRAND_CHECK(options_.checkpoint_every >= 0, "trainer: checkpoint_every must be >= 0, got ",
               options_.checkpoint_every);
  STRAND_CHECK(options_.keep_checkpoints >= 1, "trainer: keep_checkpoints must be >= 1, got ",
               options_.keep_checkpoints);
  STRAND_CHECK(options_.log_every >= 1, "trainer: log_every must be >= 1, got ", options_.log_every);
  STRAND_CHECK(options_.val_every >= 0, "trainer: val_every must be >= 0, got ", options_.val_every);
  STRAND_CHECK(options_.progress_interval_s >= 0, "trainer: progress_interval_s must be >= 0");
  STRAND_CHECK(static_cast<bool>(callbacks_.micro_step), "trainer: the micro_step callback is required");
  if (options_.checkpoint_every > 0) {
    STRAND_CHECK(callbacks_.data_state && callbacks_.restore_data_state,
                 "trainer: checkpointing needs the data_state and restore_data_state callbacks");
  }
  if (options_.val_every > 0) {
    STRAND_CHECK(static_cast<bool>(callbacks_.validate), "trainer: val_every > 0 needs the validate callback");
  }
  optimizer_ = make_adamw(*model_, options_.optimizer);
  if (options_.distributed && options_.distributed->world_size() > 1) {
    dist_ = options_.distributed.get();
    dist_->broadcast_module(*model_, 0);
  }
  if (is_main()) make_dirs(options_.out_dir);
  manual_seed(options_.seed);
}

bool Trainer::is_main() const noexcept { return dist_ == nullptr || dist_->is_main(); }

Trainer::~Trainer() {
  if (progress_open_) std::fputc('\n', stderr);
  if (metrics_ != nullptr) std::fclose(metrics_);
}

std::string Trainer::checkpoint_root() const { return join(options_.out_dir, kTrainStateDir); }

std::string Trainer::latest_checkpoint() const {
  const auto all = list_checkpoints(options_.out_dir);
  return all.empty() ? std::string() : all.back();
}

bool Trainer::resume() {
  STRAND_CHECK(!started_, "trainer: resume() must be called before run()");
  STRAND_CHECK(!resumed_, "trainer: resume() was already called");
  const auto all = list_checkpoints(options_.out_dir);
  if (dist_) {
    // Every rank must continue from the same checkpoint.
    const int64_t local = all.empty() ? -1 : parse_step_dir(fs::path(all.back()).filename().string());
    const auto ext = dist_->all_reduce(std::vector<int64_t>{local, -local}, ReduceKind::Max,
                                       "checkpoint agreement before resuming");
    if (ext[0] != -ext[1]) {
      const auto name = [](int64_t step) { return step < 0 ? std::string("none") : "step " + std::to_string(step); };
      throw ConfigError(dist_->describe() + ": the ranks see different newest checkpoints in " + checkpoint_root() +
                        " (from " + name(-ext[1]) + " to " + name(ext[0]) + "; this rank sees " + name(local) +
                        "): OUT must be on a file system that every rank sees");
    }
  }
  if (all.empty()) return false;
  load_checkpoint(all.back());
  if (is_main()) rewrite_metrics_up_to(step_);
  resumed_ = true;
  STRAND_LOG_INFO("resumed training from ", all.back(), " at step ", step_);
  return true;
}

void Trainer::load_checkpoint(const std::string& dir) {
  STRAND_CHECK(static_cast<bool>(callbacks_.restore_data_state),
               "trainer: resuming needs the restore_data_state callback");
  const std::string state_path = join(dir, kStateFile);
  const nlohmann::json state = load_json(state_path);
  ConfigReader reader(state, state_path);
  const auto format = reader.required<int64_t>("format_version");
  if (format != kStateFormatVersion) {
    throw ParseError(Location{state_path, -1, ""}, "unsupported train state format_version " + std::to_string(format) +
                                                       " (this build reads " + std::to_string(kStateFormatVersion) + ")");
  }
  reader.required<std::string>("strand_version");
  reader.required<std::string>("git_hash");
  const auto step = reader.required<int64_t>("step");
  const auto tokens_seen = reader.required<int64_t>("tokens_seen");
  const auto elapsed = reader.required<double>("elapsed_s");
  const ScheduleOptions saved_schedule = ScheduleOptions::from_json(reader.raw("schedule"), state_path + ": schedule");
  const nlohmann::json saved_groups = reader.raw("optimizer_groups");
  const nlohmann::json data_state = reader.raw("data_state");
  reader.finish();
  STRAND_CHECK_AT(ParseError, (Location{state_path, -1, ""}), step >= 0 && tokens_seen >= 0 && elapsed >= 0,
                  "step, tokens_seen and elapsed_s must be >= 0");

  // Model tensors: check everything before changing anything.
  const std::string model_path = join(dir, kModelFile);
  const auto model_file = io::SafetensorsFile::open(model_path);
  const auto targets = named_state(*model_);
  const Location model_at{model_path, -1, ""};
  for (const auto& [name, tensor] : targets) {
    STRAND_CHECK_AT(ParseError, model_at, model_file.contains(name), "tensor '", name,
                    "' of the model is missing from the checkpoint");
    const auto& info = model_file.info(name);
    STRAND_CHECK_AT(ParseError, model_at, info.shape == tensor.sizes().vec(), "tensor '", name, "' has shape ",
                    nlohmann::json(info.shape).dump(), " in the checkpoint but ", nlohmann::json(tensor.sizes().vec()).dump(),
                    " in the model");
    STRAND_CHECK_AT(ParseError, model_at, info.scalar_type && *info.scalar_type == tensor.scalar_type(), "tensor '",
                    name, "' has dtype ", info.dtype, " in the checkpoint but ", tensor.scalar_type(), " in the model");
  }
  for (const auto& name : model_file.names()) {
    STRAND_CHECK_AT(ParseError, model_at, targets.count(name) == 1, "the checkpoint has tensor '", name,
                    "' that the model does not have");
  }

  // Optimizer groups must hold the same parameters, in the same order.
  const auto groups = group_parameters(*model_, *optimizer_);
  const Location state_at{state_path, -1, ""};
  STRAND_CHECK_AT(ConfigError, state_at, saved_groups.is_array() && saved_groups.size() == groups.size(),
                  "optimizer_groups: expected ", groups.size(), " parameter groups");
  for (size_t g = 0; g < groups.size(); ++g) {
    ConfigReader group_reader(saved_groups[g], state_path, "optimizer_groups[" + std::to_string(g) + "]");
    const auto params = group_reader.required<std::vector<std::string>>("params");
    std::vector<std::string> expected;
    for (const auto& entry : groups[g]) expected.push_back(entry.first);
    STRAND_CHECK_AT(ConfigError, state_at, params == expected, "optimizer group '", kGroupNames[g],
                    "' holds different parameters in the checkpoint than in this model (changed architecture or "
                    "weight-decay rules)");
    const auto& current = adamw_options(optimizer_->param_groups()[g]);
    group_reader.required<std::string>("name");
    group_reader.required<double>("lr");  // informational: the schedule sets it every step
    const nlohmann::json& betas = group_reader.raw("betas");
    STRAND_CHECK_AT(ConfigError, state_at,
                    betas.is_array() && betas.size() == 2 && betas[0].is_number() && betas[1].is_number(),
                    "optimizer_groups[", g, "].betas: expected two numbers, found ", betas.dump());
    const auto eps = group_reader.required<double>("eps");
    const auto weight_decay = group_reader.required<double>("weight_decay");
    const auto amsgrad = group_reader.required<bool>("amsgrad");
    group_reader.finish();
    if (betas[0].get<double>() != std::get<0>(current.betas()) || betas[1].get<double>() != std::get<1>(current.betas()) ||
        eps != current.eps() || weight_decay != current.weight_decay() || amsgrad != current.amsgrad()) {
      STRAND_LOG_WARN("resuming with different AdamW settings for group '", kGroupNames[g],
                      "' than the checkpoint's; the run is not an exact continuation");
    }
  }
  if (saved_schedule != options_.schedule) {
    STRAND_LOG_WARN("resuming with a different learning-rate schedule than the checkpoint's (",
                    saved_schedule.to_json().dump(), "); the run is not an exact continuation");
  }

  // Optimizer state.
  const std::string optimizer_path = join(dir, kOptimizerFile);
  const auto optimizer_file = io::SafetensorsFile::open(optimizer_path);
  const Location optimizer_at{optimizer_path, -1, ""};
  std::set<std::string> used;
  std::vector<std::pair<at::Tensor, std::unique_ptr<torch::optim::AdamWParamState>>> loaded;
  for (const auto& group : groups) {
    for (const auto& [name, param] : group) {
      const std::string step_key = name + ".step";
      if (!optimizer_file.contains(step_key)) continue;
      const auto read = [&](const std::string& key, bool required) -> at::Tensor {
        if (!optimizer_file.contains(key)) {
          STRAND_CHECK_AT(ParseError, optimizer_at, !required, "tensor '", key, "' is missing");
          return {};
        }
        used.insert(key);
        at::Tensor t = optimizer_file.tensor(key, io::SafetensorsLoadOptions{true});
        return t;
      };
      const at::Tensor step_tensor = read(step_key, true);
      STRAND_CHECK_AT(ParseError, optimizer_at, step_tensor.numel() == 1 && step_tensor.scalar_type() == at::kLong,
                      "tensor '", step_key, "' must be one int64");
      auto param_state = std::make_unique<torch::optim::AdamWParamState>();
      using StepType = std::decay_t<decltype(param_state->step())>;
      param_state->step(static_cast<StepType>(step_tensor.item<int64_t>()));
      for (const char* which : {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"}) {
        const std::string key = name + "." + which;
        at::Tensor t = read(key, std::string(which) != "max_exp_avg_sq");
        if (!t.defined()) continue;
        STRAND_CHECK_AT(ParseError, optimizer_at, t.sizes() == param.sizes(), "tensor '", key,
                        "' does not have the shape of parameter '", name, "'");
        t = t.to(param.options());
        if (std::string(which) == "exp_avg") param_state->exp_avg(t);
        if (std::string(which) == "exp_avg_sq") param_state->exp_avg_sq(t);
        if (std::string(which) == "max_exp_avg_sq") param_state->max_exp_avg_sq(t);
      }
      loaded.emplace_back(param, std::move(param_state));
    }
  }
  for (const auto& name : optimizer_file.names()) {
    STRAND_CHECK_AT(ParseError, optimizer_at, used.count(name) == 1, "tensor '", name,
                    "' does not belong to any parameter of the optimizer");
  }

  const std::string rng_path = join(dir, kRngFile);
  const auto rng_states = io::load_safetensors(rng_path, io::SafetensorsLoadOptions{true});

  // Everything is checked: apply.
  {
    torch::NoGradGuard no_grad;
    for (const auto& [name, tensor] : targets) {
      at::Tensor t = tensor;
      t.copy_(model_file.tensor(name));
    }
  }
  auto& state_map = optimizer_->state();
  state_map.clear();
  for (auto& [param, param_state] : loaded) {
    using Map = std::decay_t<decltype(state_map)>;
    state_map[optimizer_state_key<Map>(param)] = std::move(param_state);
    // LibTorch 1.13's zero_grad() zeroes gradients but keeps them defined, so in an uninterrupted
    // run a parameter that has optimizer state has a gradient at every later step, also at a step
    // whose data does not reach it (AdamW then still applies momentum and decay). Give it that
    // zero gradient back, or the resumed run would skip it. (LibTorch 2.x's zero_grad() resets
    // gradients to undefined before the next step, so this changes nothing there.)
    if (!param.grad().defined()) {
      at::Tensor p = param;
      p.mutable_grad() = at::zeros_like(p);
    }
  }
  step_ = step;
  tokens_seen_ = tokens_seen;
  elapsed_before_ = elapsed;
  callbacks_.restore_data_state(data_state);
  restore_torch_rng_state(rng_states, rng_path);
}

std::string Trainer::save_checkpoint() {
  STRAND_CHECK(callbacks_.data_state && callbacks_.restore_data_state,
               "trainer: checkpointing needs the data_state and restore_data_state callbacks");
  const std::string root = checkpoint_root();
  const std::string name = step_dir_name(step_);
  const std::string final_dir = join(root, name);
  if (!is_main()) {
    saved_checkpoint_ = true;
    return final_dir;
  }
  make_dirs(root);
  const std::string temp_dir = join(root, kTempPrefix + name.substr(5) + "." + std::to_string(::getpid()));
  const nlohmann::json data_state = callbacks_.data_state();

  remove_tree(temp_dir);
  make_dirs(temp_dir);
  const std::map<std::string, std::string> metadata = {
      {"format", "strand-train-state"}, {"step", std::to_string(step_)}, {"strand_version", version()},
      {"git_hash", git_hash()}};

  io::save_safetensors(join(temp_dir, kModelFile), named_state(*model_), metadata);

  const auto groups = group_parameters(*model_, *optimizer_);
  auto& state_map = optimizer_->state();
  std::map<std::string, at::Tensor> optimizer_tensors;
  nlohmann::json group_json = nlohmann::json::array();
  for (size_t g = 0; g < groups.size(); ++g) {
    nlohmann::json params = nlohmann::json::array();
    for (const auto& [param_name, param] : groups[g]) {
      params.push_back(param_name);
      const auto* st = find_adamw_state(state_map, param);
      if (st == nullptr) continue;
      optimizer_tensors[param_name + ".step"] = at::scalar_tensor(static_cast<int64_t>(st->step()), at::kLong);
      optimizer_tensors[param_name + ".exp_avg"] = st->exp_avg();
      optimizer_tensors[param_name + ".exp_avg_sq"] = st->exp_avg_sq();
      if (st->max_exp_avg_sq().defined()) optimizer_tensors[param_name + ".max_exp_avg_sq"] = st->max_exp_avg_sq();
    }
    const auto& o = adamw_options(optimizer_->param_groups()[g]);
    group_json.push_back({{"name", kGroupNames[g]},
                          {"params", params},
                          {"lr", o.lr()},
                          {"betas", {std::get<0>(o.betas()), std::get<1>(o.betas())}},
                          {"eps", o.eps()},
                          {"weight_decay", o.weight_decay()},
                          {"amsgrad", o.amsgrad()}});
  }
  io::save_safetensors(join(temp_dir, kOptimizerFile), optimizer_tensors, metadata);
  io::save_safetensors(join(temp_dir, kRngFile), capture_torch_rng_state(), metadata);

  const double elapsed =
      elapsed_before_ + (started_ ? seconds_between(session_start_, std::chrono::steady_clock::now()) : 0.0);
  const nlohmann::json state = {{"format_version", kStateFormatVersion},
                                {"strand_version", version()},
                                {"git_hash", git_hash()},
                                {"step", step_},
                                {"tokens_seen", tokens_seen_},
                                {"elapsed_s", elapsed},
                                {"schedule", options_.schedule.to_json()},
                                {"optimizer_groups", group_json},
                                {"data_state", data_state}};
  save_json(join(temp_dir, kStateFile), state);
  io::write_file_atomic(join(temp_dir, kCompleteMarker), "step " + std::to_string(step_) + "\n");
  fsync_dir(temp_dir);

  // Saving the same step twice replaces the earlier copy.
  remove_tree(final_dir);
  if (std::rename(temp_dir.c_str(), final_dir.c_str()) != 0) throw_errno("cannot rename checkpoint to", final_dir);
  fsync_dir(root);
  saved_checkpoint_ = true;

  // Only now that the new checkpoint is complete: prune old ones and leftovers of crashed writes.
  const auto all = list_checkpoints(options_.out_dir);
  for (size_t i = 0; i + static_cast<size_t>(options_.keep_checkpoints) < all.size(); ++i) remove_tree(all[i]);
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    if (entry.rfind(kTempPrefix, 0) == 0) remove_tree(it->path().string());
  }
  return final_dir;
}

void Trainer::rewrite_metrics_up_to(int64_t step) {
  const std::string path = join(options_.out_dir, kMetricsFile);
  std::error_code ec;
  if (!fs::exists(path, ec)) return;
  const std::string text = io::read_file(path);
  std::string kept;
  int64_t dropped = 0;
  int64_t unreadable = 0;
  size_t begin = 0;
  while (begin < text.size()) {
    size_t end = text.find('\n', begin);
    const bool complete = end != std::string::npos;
    if (!complete) end = text.size();
    const std::string line = text.substr(begin, end - begin);
    begin = end + 1;
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!complete || j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) {
      ++unreadable;  // e.g. a line cut short by a killed job
      continue;
    }
    if (j["step"].get<int64_t>() > step) {
      ++dropped;
      continue;
    }
    kept += line;
    kept += '\n';
  }
  if (kept.size() == text.size()) return;
  if (unreadable > 0) STRAND_LOG_WARN(path, ": dropped ", unreadable, " unreadable line(s)");
  if (dropped > 0) STRAND_LOG_INFO(path, ": dropped ", dropped, " line(s) after step ", step);
  io::write_file_atomic(path, kept);
}

void Trainer::write_metrics(const StepRecord& record) {
  const std::string path = join(options_.out_dir, kMetricsFile);
  const std::string line = record.to_json().dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), metrics_) != line.size() || std::fflush(metrics_) != 0) {
    throw_errno("cannot write", path);
  }
}

StepRecord Trainer::train_step() {
  const int64_t accum = options_.accum_steps;
  const int64_t next = step_ + 1;
  optimizer_->zero_grad();
  at::Tensor loss_total;
  int64_t tokens = 0;
  for (int64_t i = 0; i < accum; ++i) {
    const int64_t micro = step_ * accum + i;
    StepResult r = callbacks_.micro_step(micro);
    STRAND_CHECK(r.loss.defined(), "trainer: micro-step ", micro, " returned no loss tensor");
    STRAND_CHECK(r.loss.numel() == 1 && at::isFloatingType(r.loss.scalar_type()), "trainer: micro-step ", micro,
                 " must return a scalar floating loss, got ", r.loss.numel(), " elements of ", r.loss.scalar_type());
    STRAND_CHECK(r.loss.requires_grad(), "trainer: the loss of micro-step ", micro,
                 " does not require grad (was it computed under NoGradGuard or from detached tensors?)");
    STRAND_CHECK(r.tokens >= 0, "trainer: micro-step ", micro, " reported ", r.tokens, " tokens");
    const at::Tensor loss = r.loss.reshape({});
    (loss / static_cast<double>(accum)).backward();
    const at::Tensor value = loss.detach().to(at::kDouble);
    loss_total = loss_total.defined() ? loss_total + value : value;
    tokens += r.tokens;
  }
  std::vector<at::Tensor> params;
  for (const auto& group : optimizer_->param_groups())
    params.insert(params.end(), group.params().begin(), group.params().end());

  double loss_sum = loss_total.item<double>();
  if (dist_) {
    dist_->all_reduce_gradients(params, "gradient all-reduce of step " + std::to_string(next));
    const auto totals = dist_->all_reduce(std::vector<double>{loss_sum, static_cast<double>(tokens)},
                                          ReduceKind::Sum, "loss all-reduce of step " + std::to_string(next));
    loss_sum = totals[0] / static_cast<double>(dist_->world_size());
    tokens = std::llround(totals[1]);
  }
  const double loss = loss_sum / static_cast<double>(accum);
  // An infinite threshold scales by exactly 1: clipping off, the same norm computation.
  const double max_norm =
      options_.max_grad_norm > 0 ? options_.max_grad_norm : std::numeric_limits<double>::infinity();
  const double grad_norm = torch::nn::utils::clip_grad_norm_(params, max_norm, 2.0);

  if (!std::isfinite(loss) || !std::isfinite(grad_norm)) {
    optimizer_->zero_grad();
    const std::string last = latest_checkpoint();
    throw DivergenceError(
        detail::str("training diverged at step ", next, ": loss ", loss, ", gradient norm ", grad_norm,
                    "; the optimizer did not step and nothing was written for this step; ",
                    last.empty() ? std::string("no checkpoint has been written yet")
                                 : "the last good checkpoint at " + last + " is intact"),
        next, last);
  }

  const double lr = schedule_.apply(*optimizer_, next);
  optimizer_->step();
  step_ = next;
  tokens_seen_ += tokens;
  metrics_tokens_ += tokens;
  progress_tokens_ += tokens;

  const auto now = std::chrono::steady_clock::now();
  StepRecord record;
  record.step = step_;
  record.loss = loss;
  record.lr = lr;
  record.grad_norm = grad_norm;
  record.tokens = tokens;
  record.tokens_seen = tokens_seen_;
  const double window = seconds_between(metrics_mark_, now);
  record.tokens_per_s = window > 0 ? static_cast<double>(metrics_tokens_) / window : 0.0;
  record.elapsed_s = elapsed_before_ + seconds_between(session_start_, now);
  return record;
}

void Trainer::validate_into(StepRecord& record) {
  // Validation must not move the training stream: save LibTorch's random state and put it back.
  const auto rng = capture_torch_rng_state();
  const char* rng_source = "the random state saved before validation";
  ValidationResult v;
  model_->eval();
  try {
    torch::NoGradGuard no_grad;
    v = callbacks_.validate();
  } catch (...) {
    model_->train();
    restore_torch_rng_state(rng, rng_source);
    throw;
  }
  model_->train();
  restore_torch_rng_state(rng, rng_source);
  if (dist_) {
    const auto sums = dist_->all_reduce(
        std::vector<double>{v.loss_sum, static_cast<double>(v.tokens), v.bases ? static_cast<double>(*v.bases) : 0.0,
                            v.bases ? 1.0 : 0.0},
        ReduceKind::Sum, "validation all-reduce of step " + std::to_string(record.step));
    const int64_t with_bases = std::llround(sums[3]);
    STRAND_CHECK(with_bases == 0 || with_bases == dist_->world_size(), "trainer: validation at step ", record.step,
                 " reported bases on ", with_bases, " of ", dist_->world_size(), " ranks only");
    v.loss_sum = sums[0];
    v.tokens = std::llround(sums[1]);
    v.bases = with_bases > 0 ? std::optional<int64_t>(std::llround(sums[2])) : std::nullopt;
  }
  STRAND_CHECK(v.tokens > 0, "trainer: validation at step ", record.step, " reported ", v.tokens, " tokens");
  STRAND_CHECK(!v.bases || *v.bases > 0, "trainer: validation at step ", record.step, " reported ", *v.bases,
               " bases");
  const double ln2 = std::log(2.0);
  const double loss = v.loss_sum / static_cast<double>(v.tokens);
  record.val_loss = loss;
  record.val_perplexity = std::exp(loss);
  record.val_bits_per_token = loss / ln2;
  if (v.bases) record.val_bits_per_base = v.loss_sum / ln2 / static_cast<double>(*v.bases);
  if (!std::isfinite(loss)) STRAND_LOG_WARN("validation loss at step ", record.step, " is ", loss);
}

void Trainer::show_progress(const StepRecord& record, bool final_line) {
  if (Progress::quiet() || !is_main()) return;
  const auto now = std::chrono::steady_clock::now();
  const double since_print = seconds_between(last_progress_print_, now);
  if (!final_line && since_print < (progress_tty_ ? 0.1 : options_.progress_interval_s)) return;
  const double window = seconds_between(progress_mark_, now);
  const double rate = window > 0 ? static_cast<double>(progress_tokens_) / window : 0.0;
  progress_mark_ = now;
  progress_tokens_ = 0;
  last_progress_print_ = now;

  const int64_t total = options_.schedule.total_steps;
  std::string label = options_.progress_label;
  if (session_start_step_ > 0) label += " (resumed at step " + std::to_string(session_start_step_) + ")";
  std::string line = Progress::format_line(label, step_ - session_start_step_, total - session_start_step_, "steps",
                                           seconds_between(session_start_, now));
  char extra[160];
  std::snprintf(extra, sizeof extra, " | step %lld loss %.4f lr %.3g %s tok/s", static_cast<long long>(record.step),
                record.loss, record.lr, Progress::format_count(rate).c_str());
  line += extra;
  if (record.val_loss) {
    std::snprintf(extra, sizeof extra, " val %.4f", *record.val_loss);
    line += extra;
  }
  if (progress_tty_) {
    std::fprintf(stderr, final_line ? "\r%s\033[K\n" : "\r%s\033[K", line.c_str());
    progress_open_ = !final_line;
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

int64_t Trainer::run(int64_t until_step) {
  STRAND_CHECK(!failed_, "trainer: training stopped with an error; construct a new Trainer and resume()");
  const int64_t total = options_.schedule.total_steps;
  const int64_t until = until_step < 0 ? total : until_step;
  STRAND_CHECK(until >= step_ && until <= total, "trainer: run(", until_step, ") must stop between the current step ",
               step_, " and schedule.total_steps = ", total);
  if (!started_) {
    if (!resumed_ && !saved_checkpoint_) {
      STRAND_CHECK(list_checkpoints(options_.out_dir).empty(), "trainer: ", checkpoint_root(),
                   " holds checkpoints of an earlier run; resume it or use an empty output directory");
      if (is_main()) rewrite_metrics_up_to(0);
    }
    if (is_main()) {
      const std::string path = join(options_.out_dir, kMetricsFile);
      metrics_ = std::fopen(path.c_str(), "ab");
      if (metrics_ == nullptr) throw_errno("cannot open", path);
    }
    session_start_ = metrics_mark_ = progress_mark_ = std::chrono::steady_clock::now();
    last_progress_print_ = session_start_;
    session_start_step_ = step_;
    progress_tty_ = ::isatty(STDERR_FILENO) == 1;
    started_ = true;
  }
  model_->train();
  while (step_ < until) {
    StepRecord record;
    try {
      record = train_step();
      const bool last = step_ == total;
      if (options_.val_every > 0 && (step_ % options_.val_every == 0 || last)) validate_into(record);
      if (is_main() && (step_ % options_.log_every == 0 || record.val_loss || last)) {
        write_metrics(record);
        metrics_mark_ = std::chrono::steady_clock::now();
        metrics_tokens_ = 0;
      }
      if (callbacks_.on_step) callbacks_.on_step(record);
      if (options_.checkpoint_every > 0 && (step_ % options_.checkpoint_every == 0 || last)) save_checkpoint();
    } catch (...) {
      failed_ = true;
      if (dist_) report_current_exception(*dist_);
      if (progress_open_) {
        std::fputc('\n', stderr);
        progress_open_ = false;
      }
      throw;
    }
    show_progress(record, step_ == until);
  }
  return step_;
}

}  // namespace strand::train
