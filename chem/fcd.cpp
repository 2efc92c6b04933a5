#include "chem/fcd.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>

#include "libseq/core/error.h"
#include "libseq/io/safetensors.h"

namespace strand::chem {
namespace {

constexpr std::string_view kFormat = "strand-chemnet";

int vocabulary_index(std::string_view symbol) {
  const auto& vocab = chemnet_vocabulary();
  for (size_t i = 0; i < vocab.size(); ++i) {
    if (vocab[i] == symbol) return static_cast<int>(i);
  }
  return -1;
}

/// Left and right padding of the reference's "same" rule for a sequence of `length`. For stride
/// 1 it pads kernel - 1 on both sides (so the output grows by kernel - 1); it is reproduced as
/// the reference computes it because the published distances depend on it.
std::pair<int64_t, int64_t> reference_same_padding(int64_t length, int64_t kernel, int64_t stride) {
  const int64_t pad = length % stride == 0 ? std::max<int64_t>(kernel - stride, 0)
                                           : std::max<int64_t>(kernel - length % stride, 0);
  const int64_t start = pad / stride;
  return pad % stride == 0 ? std::make_pair(start, start) : std::make_pair(start, pad - start);
}

at::Tensor activate(const at::Tensor& x, const std::string& name) {
  if (name == "relu") return at::relu(x);
  if (name == "selu") return at::selu(x);
  if (name == "tanh") return at::tanh(x);
  if (name == "sigmoid") return at::sigmoid(x);
  if (name == "linear") return x;
  STRAND_ASSERT(false, "activation '", name, "' passed the load check");
  return x;
}

}  // namespace

const std::vector<std::string>& chemnet_vocabulary() {
  static const std::vector<std::string> vocab = {"C", "N", "O", "H", "F", "Cl", "P", "B", "Br", "S", "I", "Si",
                                                 "#", "(", ")", "+", "-", "1", "2", "3", "4", "5", "6", "7",
                                                 "8", "=", "[", "]", "@", "c", "n", "o", "s", "X", "."};
  return vocab;
}

std::vector<int> chemnet_symbols(std::string_view smiles, int pad_length) {
  STRAND_CHECK(pad_length >= 2, "ChemNet pad length must be at least 2, got ", pad_length);
  static const int unknown = vocabulary_index("X"), end = vocabulary_index(".");
  std::string s(smiles);
  s += '.';
  std::vector<int> out;
  if (s.size() == 1) return {end};
  size_t src = 0;
  for (;;) {
    const bool two = s[src + 1] == 'r' || s[src + 1] == 'i' || s[src + 1] == 'l';
    const int index = vocabulary_index(std::string_view(s).substr(src, two ? 2 : 1));
    out.push_back(index < 0 ? unknown : index);
    src += two ? 2 : 1;
    if (s[src] == '.' || static_cast<int>(out.size()) == pad_length - 1) {
      out.push_back(end);
      return out;
    }
  }
}

ChemNet ChemNet::load(const std::string& path) {
  const auto file = io::SafetensorsFile::open(path);
  const auto& meta = file.metadata();
  const auto where = [&](const std::string& message) { return path + ": " + message; };
  const auto format = meta.find("format");
  STRAND_CHECK(format != meta.end() && format->second == kFormat,
               where("not a ChemNet weights file (metadata \"format\" must be \"strand-chemnet\"; convert the "
                     "reference weights with scripts/chemnet_to_safetensors.py)"));
  const auto spec = meta.find("layers");
  STRAND_CHECK(spec != meta.end(), where("metadata has no \"layers\" list"));
  nlohmann::json layers;
  try {
    layers = nlohmann::json::parse(spec->second);
  } catch (const nlohmann::json::exception& e) {
    throw ParseError(where(std::string("metadata \"layers\" is not JSON: ") + e.what()));
  }
  STRAND_CHECK(layers.is_array() && !layers.empty(), where("metadata \"layers\" must be a non-empty JSON list"));

  ChemNet net;
  int64_t channels = static_cast<int64_t>(chemnet_vocabulary().size());
  bool in_lstm = false;
  const auto tensor = [&](size_t i, const std::string& name, std::vector<int64_t> shape) {
    const std::string key = "layers." + std::to_string(i) + "." + name;
    STRAND_CHECK(file.contains(key), where("layer " + std::to_string(i) + ": missing tensor '" + key + "'"));
    at::Tensor t = file.tensor(key, {true}).to(at::kFloat);
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] < 0) shape[d] = t.dim() > static_cast<int64_t>(d) ? t.size(static_cast<int64_t>(d)) : -1;
    }
    STRAND_CHECK(t.sizes().vec() == shape,
                 where("layer " + std::to_string(i) + ": tensor '" + key + "' has shape " + c10::str(t.sizes()) +
                       ", expected " + c10::str(at::IntArrayRef(shape))));
    return t;
  };
  for (size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const std::string at_layer = "layer " + std::to_string(i) + ": ";
    STRAND_CHECK(l.is_object() && l.contains("type") && l["type"].is_string(),
                 where(at_layer + "each entry of \"layers\" needs a \"type\""));
    const std::string type = l["type"].get<std::string>();
    Layer layer;
    try {
      if (type == "conv1d") {
        STRAND_CHECK(!in_lstm, where(at_layer + "a conv1d layer cannot follow an LSTM layer"));
        layer.conv = true;
        layer.weight = tensor(i, "weight", {-1, channels, -1});
        const int64_t out = layer.weight.size(0);
        if (file.contains("layers." + std::to_string(i) + ".bias")) layer.bias = tensor(i, "bias", {out});
        layer.stride = l.value("stride", int64_t{1});
        layer.dilation = l.value("dilation", int64_t{1});
        const std::string padding = l.value("padding", std::string("same"));
        STRAND_CHECK(padding == "same" || padding == "valid",
                     where(at_layer + "padding must be \"same\" or \"valid\", got \"" + padding + "\""));
        layer.same_padding = padding == "same";
        layer.activation = l.value("activation", std::string("linear"));
        STRAND_CHECK(layer.activation == "relu" || layer.activation == "selu" || layer.activation == "tanh" ||
                         layer.activation == "sigmoid" || layer.activation == "linear",
                     where(at_layer + "unknown activation \"" + layer.activation + "\""));
        STRAND_CHECK(layer.stride >= 1 && layer.dilation >= 1, where(at_layer + "stride and dilation must be >= 1"));
        channels = out;
      } else if (type == "lstm") {
        STRAND_CHECK(net.layers_.empty() || !net.layers_.back().last,
                     where(at_layer + "no layer may follow an LSTM that returns only its last step"));
        in_lstm = true;
        layer.conv = false;
        layer.weight_ih = tensor(i, "weight_ih", {-1, channels});
        const int64_t gates = layer.weight_ih.size(0);
        STRAND_CHECK(gates % 4 == 0, where(at_layer + "weight_ih must have 4 * hidden rows, got " + std::to_string(gates)));
        const int64_t hidden = gates / 4;
        layer.weight_hh = tensor(i, "weight_hh", {gates, hidden});
        layer.bias_ih = tensor(i, "bias_ih", {gates});
        layer.bias_hh = tensor(i, "bias_hh", {gates});
        layer.reverse = l.value("reverse", false);
        layer.last = l.value("last", false);
        channels = hidden;
      } else {
        throw InputError(where(at_layer + "unknown layer type \"" + type + "\" (expected conv1d or lstm)"));
      }
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError(where(at_layer + "bad layer entry: " + e.what()));
    }
    net.layers_.push_back(std::move(layer));
  }
  STRAND_CHECK(!net.layers_.back().conv && net.layers_.back().last,
               where("the last layer must be an LSTM with \"last\": true (its final step is the activation vector)"));
  net.features_ = channels;
  return net;
}

at::Tensor ChemNet::forward(const at::Tensor& one_hot) const {
  at::NoGradGuard no_grad;
  at::Tensor x = one_hot.to(at::kFloat);
  bool transposed = false;
  for (const Layer& l : layers_) {
    if (l.conv) {
      if (l.same_padding) {
        const auto [left, right] = reference_same_padding(x.size(2), l.weight.size(2), l.stride);
        x = at::constant_pad_nd(x, {left, right}, 0);
      }
      const int64_t no_padding = 0;
      x = activate(at::conv1d(x, l.weight, l.bias, at::IntArrayRef(l.stride), at::IntArrayRef(no_padding),
                              at::IntArrayRef(l.dilation)),
                   l.activation);
      continue;
    }
    if (!transposed) {
      x = x.transpose(1, 2).contiguous();  // (batch, length, channels)
      transposed = true;
    }
    if (l.reverse) x = x.flip({1});
    const int64_t hidden = l.weight_hh.size(1);
    const at::Tensor h0 = at::zeros({1, x.size(0), hidden}, x.options());
    x = std::get<0>(at::lstm(x, {h0, h0}, {l.weight_ih, l.weight_hh, l.bias_ih, l.bias_hh}, /*has_biases=*/true,
                             /*num_layers=*/1, /*dropout=*/0.0, /*train=*/false, /*bidirectional=*/false,
                             /*batch_first=*/true));
    if (l.last) x = x.select(1, -1);
  }
  return x;
}

at::Tensor ChemNet::activations(const std::vector<std::string>& smiles, int64_t batch) const {
  STRAND_CHECK(batch >= 1, "ChemNet batch size must be >= 1, got ", batch);
  const int64_t n = static_cast<int64_t>(smiles.size());
  const int64_t vocab = static_cast<int64_t>(chemnet_vocabulary().size());
  at::Tensor out = at::empty({n, features_}, at::kDouble);
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t rows = std::min(batch, n - b0);
    at::Tensor one_hot = at::zeros({rows, vocab, kChemNetPadLength}, at::kFloat);
    auto a = one_hot.accessor<float, 3>();
    for (int64_t r = 0; r < rows; ++r) {
      const auto symbols = chemnet_symbols(smiles[static_cast<size_t>(b0 + r)]);
      for (size_t pos = 0; pos < symbols.size(); ++pos) a[r][symbols[pos]][static_cast<int64_t>(pos)] = 1.0f / static_cast<float>(vocab);
    }
    out.narrow(0, b0, rows).copy_(forward(one_hot));
  }
  return out;
}

GaussianStats gaussian_stats(const at::Tensor& activations) {
  STRAND_CHECK(activations.dim() == 2 && activations.size(0) >= 2,
               "FCD needs at least 2 molecules per set to estimate a covariance, got ",
               activations.dim() == 2 ? activations.size(0) : 0);
  const at::Tensor x = activations.to(at::kDouble);
  const at::Tensor mean = x.mean(0);
  const at::Tensor centred = x - mean;
  return {mean, centred.t().matmul(centred) / static_cast<double>(x.size(0) - 1)};
}

double frechet_distance(const GaussianStats& a, const GaussianStats& b) {
  STRAND_CHECK(a.mean.sizes() == b.mean.sizes() && a.cov.sizes() == b.cov.sizes(),
               "FCD statistics of different widths: ", a.mean.numel(), " and ", b.mean.numel());
  const at::Tensor s1 = a.cov.to(at::kDouble), s2 = b.cov.to(at::kDouble);
  const auto symmetric = [](const at::Tensor& m) { return (m + m.t()) * 0.5; };
  // S1^{1/2} from the eigen-decomposition of the symmetric positive semi-definite S1.
  const auto [w1, v1] = at::linalg_eigh(symmetric(s1));
  const at::Tensor root1 = v1.matmul(at::diag(w1.clamp_min(0).sqrt())).matmul(v1.t());
  const at::Tensor m = symmetric(root1.matmul(s2).matmul(root1));
  const at::Tensor trace_sqrt = std::get<0>(at::linalg_eigh(m)).clamp_min(0).sqrt().sum();
  const at::Tensor diff = a.mean.to(at::kDouble) - b.mean.to(at::kDouble);
  return (diff.dot(diff) + s1.trace() + s2.trace() - 2.0 * trace_sqrt).item<double>();
}

}  // namespace strand::chem
