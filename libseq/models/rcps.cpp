#include "libseq/models/rcps.h"

#include <ATen/ATen.h>

#include "libseq/core/config.h"
#include "libseq/core/error.h"

namespace strand::models {

RcpsConfig RcpsConfig::from_json(const nlohmann::json& j, const std::string& source) {
  ConfigReader r(j, source, "rcps");
  RcpsConfig c;
  c.enabled = r.required<bool>("enabled");
  c.complement = r.optional<std::vector<int64_t>>("complement", {});
  r.finish();
  return c;
}

nlohmann::json RcpsConfig::to_json() const {
  if (!enabled) return {{"enabled", false}};
  return {{"enabled", true}, {"complement", complement}};
}

void RcpsConfig::validate(int64_t vocab_size, int64_t pad_id, const std::string& source) const {
  const std::string where = source + ": rcps.complement";
  if (!enabled) {
    if (!complement.empty()) throw ConfigError(where + " is given but rcps.enabled is false");
    return;
  }
  if (static_cast<int64_t>(complement.size()) != vocab_size)
    throw ConfigError(where + " has " + std::to_string(complement.size()) + " entries; it needs one per token (" +
                      std::to_string(vocab_size) + ")");
  for (size_t id = 0; id < complement.size(); ++id) {
    const int64_t c = complement[id];
    if (c < 0 || c >= vocab_size)
      throw ConfigError(where + "[" + std::to_string(id) + "] = " + std::to_string(c) + " is outside the vocabulary [0, " +
                        std::to_string(vocab_size) + ")");
  }
  for (size_t id = 0; id < complement.size(); ++id) {
    const int64_t c = complement[id];
    if (complement[static_cast<size_t>(c)] != static_cast<int64_t>(id))
      throw ConfigError(where + " is not its own inverse: " + std::to_string(id) + " -> " + std::to_string(c) + " -> " +
                        std::to_string(complement[static_cast<size_t>(c)]) +
                        " (the complement of the complement must be the token itself)");
  }
  if (complement[static_cast<size_t>(pad_id)] != pad_id)
    throw ConfigError(where + " maps the pad token " + std::to_string(pad_id) + " to " +
                      std::to_string(complement[static_cast<size_t>(pad_id)]) + "; special tokens map to themselves");
}

at::Tensor lengths_from_mask(const at::Tensor& mask, int64_t batch, int64_t length, const at::Device& device) {
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  if (!mask.defined()) return at::full({batch}, length, long_options);
  const at::Tensor lengths = mask.sum(1, /*keepdim=*/false, at::kLong);
  const at::Tensor prefix = at::arange(length, long_options).unsqueeze(0) < lengths.unsqueeze(1);
  STRAND_CHECK(at::equal(prefix, mask),
               "reverse-complement parameter sharing needs right-padded rows: the mask of every row must be "
               "true on a prefix (real tokens) and false after it (padding)");
  return lengths;
}

at::Tensor reverse_rows(const at::Tensor& x, const at::Tensor& lengths) {
  STRAND_ASSERT(x.dim() >= 2 && lengths.dim() == 1 && lengths.size(0) == x.size(0), "reverse_rows: x ", x.sizes(),
                " lengths ", lengths.sizes());
  const int64_t length = x.size(1);
  const at::Tensor position = at::arange(length, lengths.options()).unsqueeze(0);  // (1, L)
  const at::Tensor n = lengths.unsqueeze(1);                                     // (B, 1)
  at::Tensor source = at::where(position < n, n - 1 - position, position);       // (B, L)
  std::vector<int64_t> view = {x.size(0), length};
  for (int64_t d = 2; d < x.dim(); ++d) view.push_back(1);
  return x.gather(1, source.view(view).expand(x.sizes()));
}

at::Tensor rcps_join(const at::Tensor& forward, const at::Tensor& reverse) {
  return at::cat({forward, reverse.flip({-1})}, -1);
}

std::pair<at::Tensor, at::Tensor> rcps_split(const at::Tensor& hidden) {
  const int64_t width = hidden.size(-1);
  if (width % 2 != 0)
    throw ShapeError("RCPS features need an even number of channels (forward | reverse-complement halves), got " +
                     std::to_string(width));
  const int64_t d = width / 2;
  return {hidden.narrow(-1, 0, d), hidden.narrow(-1, d, d).flip({-1})};
}

at::Tensor rcps_reverse_complement(const at::Tensor& hidden, const at::Tensor& lengths) {
  return reverse_rows(hidden, lengths).flip({-1});
}

}  // namespace strand::models
