// Fréchet ChemNet Distance: the reference's input encoding on hand-worked strings, the network
// against a plain double-precision implementation of Conv1d and LSTM on a small random ChemNet
// written in the plug-in format, and the distance against closed forms and a Denman-Beavers
// matrix square root computed with numpy (4 x 4 case below).
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "chem/fcd.h"
#include "libseq/core/error.h"
#include "libseq/io/safetensors.h"
#include "tests/message_of.h"

namespace chem = strand::chem;
namespace fs = std::filesystem;

namespace {

int sym(const std::string& s) {
  const auto& v = chem::chemnet_vocabulary();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] == s) return static_cast<int>(i);
  }
  ADD_FAILURE() << "no symbol " << s;
  return -1;
}

std::vector<int> syms(std::initializer_list<const char*> list) {
  std::vector<int> out;
  for (const char* s : list) out.push_back(sym(s));
  return out;
}

// Plain double-precision network, written from the layer definitions.
using Matrix = std::vector<std::vector<double>>;  // [channel][time] or [time][feature]

std::vector<double> values(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kDouble).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

Matrix conv_reference(const Matrix& x, const at::Tensor& weight, const at::Tensor& bias, int64_t stride,
                      int64_t left, int64_t right, const std::string& activation) {
  const auto w = values(weight), b = values(bias);
  const int64_t out_ch = weight.size(0), in_ch = weight.size(1), k = weight.size(2);
  const int64_t len = static_cast<int64_t>(x[0].size()) + left + right;
  const int64_t out_len = (len - k) / stride + 1;
  Matrix y(static_cast<size_t>(out_ch), std::vector<double>(static_cast<size_t>(out_len)));
  for (int64_t o = 0; o < out_ch; ++o) {
    for (int64_t t = 0; t < out_len; ++t) {
      double s = b[static_cast<size_t>(o)];
      for (int64_t c = 0; c < in_ch; ++c) {
        for (int64_t j = 0; j < k; ++j) {
          const int64_t pos = t * stride + j - left;
          if (pos < 0 || pos >= static_cast<int64_t>(x[0].size())) continue;
          s += w[static_cast<size_t>((o * in_ch + c) * k + j)] * x[static_cast<size_t>(c)][static_cast<size_t>(pos)];
        }
      }
      if (activation == "relu") s = std::max(s, 0.0);
      if (activation == "selu") {
        const double alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946;
        s = scale * (s > 0 ? s : alpha * (std::exp(s) - 1));
      }
      y[static_cast<size_t>(o)][static_cast<size_t>(t)] = s;
    }
  }
  return y;
}

// x: [time][feature]; returns [time][hidden] outputs in processing order.
Matrix lstm_reference(const Matrix& x, const std::map<std::string, at::Tensor>& p, const std::string& prefix) {
  const auto wih = values(p.at(prefix + "weight_ih")), whh = values(p.at(prefix + "weight_hh"));
  const auto bih = values(p.at(prefix + "bias_ih")), bhh = values(p.at(prefix + "bias_hh"));
  const size_t hidden = bih.size() / 4, in = x[0].size();
  std::vector<double> h(hidden, 0), c(hidden, 0);
  Matrix out;
  const auto sigmoid = [](double v) { return 1 / (1 + std::exp(-v)); };
  for (const auto& xt : x) {
    std::vector<double> g(4 * hidden);
    for (size_t r = 0; r < 4 * hidden; ++r) {
      double s = bih[r] + bhh[r];
      for (size_t i = 0; i < in; ++i) s += wih[r * in + i] * xt[i];
      for (size_t i = 0; i < hidden; ++i) s += whh[r * hidden + i] * h[i];
      g[r] = s;
    }
    for (size_t u = 0; u < hidden; ++u) {
      const double ig = sigmoid(g[u]), fg = sigmoid(g[hidden + u]), cg = std::tanh(g[2 * hidden + u]),
                   og = sigmoid(g[3 * hidden + u]);
      c[u] = fg * c[u] + ig * cg;
      h[u] = og * std::tanh(c[u]);
    }
    out.push_back(h);
  }
  return out;
}

Matrix transpose(const Matrix& m) {
  Matrix t(m[0].size(), std::vector<double>(m.size()));
  for (size_t i = 0; i < m.size(); ++i) {
    for (size_t j = 0; j < m[0].size(); ++j) t[j][i] = m[i][j];
  }
  return t;
}

// A small ChemNet: conv(35->6, k 3, stride 1, selu) -> conv(6->5, k 4, stride 2, relu) ->
// LSTM(5->4, backwards) -> LSTM(4->3, last step).
const char* kLayers =
    R"([{"type":"conv1d","stride":1,"dilation":1,"padding":"same","activation":"selu"},)"
    R"({"type":"conv1d","stride":2,"dilation":1,"padding":"same","activation":"relu"},)"
    R"({"type":"lstm","reverse":true,"last":false},{"type":"lstm","reverse":false,"last":true}])";

std::map<std::string, at::Tensor> small_chemnet_tensors() {
  at::manual_seed(7);
  const auto r = [](std::vector<int64_t> shape) { return at::randn(shape, at::kFloat) * 0.4; };
  // The first layer sees one-hot values of 1/35: larger weights give molecule-specific activations.
  return {{"layers.0.weight", r({6, 35, 3}) * 25},  {"layers.0.bias", r({6})},
          {"layers.1.weight", r({5, 6, 4})},   {"layers.1.bias", r({5})},
          {"layers.2.weight_ih", r({16, 5})},  {"layers.2.weight_hh", r({16, 4})},
          {"layers.2.bias_ih", r({16})},       {"layers.2.bias_hh", r({16})},
          {"layers.3.weight_ih", r({12, 4})},  {"layers.3.weight_hh", r({12, 3})},
          {"layers.3.bias_ih", r({12})},       {"layers.3.bias_hh", r({12})}};
}

std::string write_chemnet(const std::string& name, const std::map<std::string, at::Tensor>& tensors,
                          const std::map<std::string, std::string>& metadata) {
  const fs::path dir = fs::temp_directory_path() / "strand_test_fcd";
  fs::create_directories(dir);
  const std::string path = (dir / name).string();
  strand::io::save_safetensors(path, tensors, metadata);
  return path;
}

std::vector<double> reference_activation(const std::string& smiles, const std::map<std::string, at::Tensor>& p) {
  const size_t vocab = chem::chemnet_vocabulary().size();
  Matrix x(vocab, std::vector<double>(chem::kChemNetPadLength, 0.0));
  const auto s = chem::chemnet_symbols(smiles);
  for (size_t pos = 0; pos < s.size(); ++pos) x[static_cast<size_t>(s[pos])][pos] = 1.0 / static_cast<double>(vocab);
  // Layer 0: length 350, kernel 3, stride 1 -> the reference pads 2 and 2 (output 352).
  Matrix y = conv_reference(x, p.at("layers.0.weight"), p.at("layers.0.bias"), 1, 2, 2, "selu");
  EXPECT_EQ(y[0].size(), 352u);
  // Layer 1: length 352 (even), kernel 4, stride 2 -> pad 2, split 1 and 1 (output 176).
  y = conv_reference(y, p.at("layers.1.weight"), p.at("layers.1.bias"), 2, 1, 1, "relu");
  EXPECT_EQ(y[0].size(), 176u);
  Matrix seq = transpose(y);
  std::reverse(seq.begin(), seq.end());
  seq = lstm_reference(seq, p, "layers.2.");
  return lstm_reference(seq, p, "layers.3.").back();
}

chem::GaussianStats stats(const at::Tensor& mean, const at::Tensor& cov) { return {mean, cov}; }

}  // namespace

TEST(ChemNetInput, EncodesAsTheReference) {
  EXPECT_EQ(chem::chemnet_symbols(""), syms({"."}));
  EXPECT_EQ(chem::chemnet_symbols("CCl"), syms({"C", "Cl", "."}));
  EXPECT_EQ(chem::chemnet_symbols("BrC(=O)[Si]"), syms({"Br", "C", "(", "=", "O", ")", "[", "Si", "]", "."}));
  EXPECT_EQ(chem::chemnet_symbols("c1cc[nH]c1"), syms({"c", "1", "c", "c", "[", "n", "H", "]", "c", "1", "."}));
  // Unknown single and two-letter symbols become X ('Z', "Cr", "%").
  EXPECT_EQ(chem::chemnet_symbols("ZCr%"), syms({"X", "X", "X", "."}));
  // Encoding stops at the first fragment separator.
  EXPECT_EQ(chem::chemnet_symbols("CC.O"), syms({"C", "C", "."}));
  // Truncation: pad_length - 1 symbols, then the end symbol.
  const auto long_one = chem::chemnet_symbols(std::string(500, 'C'));
  ASSERT_EQ(long_one.size(), 350u);
  EXPECT_EQ(long_one[348], sym("C"));
  EXPECT_EQ(long_one[349], sym("."));
  EXPECT_EQ(chem::chemnet_symbols("CCCCC", 4), syms({"C", "C", "C", "."}));
}

TEST(ChemNet, MatchesDoublePrecisionReference) {
  const auto tensors = small_chemnet_tensors();
  const std::string path = write_chemnet("small.safetensors", tensors, {{"format", "strand-chemnet"}, {"layers", kLayers}});
  const auto net = chem::ChemNet::load(path);
  EXPECT_EQ(net.features(), 3);
  const std::vector<std::string> smiles = {"CC(=O)Oc1ccccc1C(=O)O", "", "ClCBr", std::string(400, 'c'), "N#N.O"};
  // Batch 2 splits the five molecules over three batches.
  const at::Tensor act = net.activations(smiles, 2);
  ASSERT_EQ(act.sizes(), (at::IntArrayRef{5, 3}));
  // The backwards LSTM carries each molecule's start to the last step: the rows differ.
  EXPECT_GT((act[0] - act[2]).abs().max().item<double>(), 1e-3);
  EXPECT_GT((act[0] - act[3]).abs().max().item<double>(), 1e-3);
  EXPECT_EQ(act.scalar_type(), at::kDouble);
  for (size_t i = 0; i < smiles.size(); ++i) {
    const auto expected = reference_activation(smiles[i], tensors);
    for (size_t j = 0; j < 3; ++j) {
      EXPECT_NEAR(act[static_cast<int64_t>(i)][static_cast<int64_t>(j)].item<double>(), expected[j], 2e-6)
          << "molecule " << i << " feature " << j;
    }
  }
}

TEST(ChemNet, BadWeightFilesAreClearErrors) {
  auto tensors = small_chemnet_tensors();
  const std::map<std::string, std::string> good = {{"format", "strand-chemnet"}, {"layers", kLayers}};
  const auto load_error = [](const std::string& path) {
    return strand_tests::message_of<strand::InputError>([&] { chem::ChemNet::load(path); });
  };
  std::string p = write_chemnet("no_format.safetensors", tensors, {{"layers", kLayers}});
  EXPECT_NE(load_error(p).find("chemnet_to_safetensors.py"), std::string::npos) << load_error(p);
  EXPECT_NE(load_error(p).find(p), std::string::npos);

  p = write_chemnet("bad_json.safetensors", tensors, {{"format", "strand-chemnet"}, {"layers", "[{"}});
  EXPECT_NE(load_error(p).find("not JSON"), std::string::npos) << load_error(p);

  auto missing = tensors;
  missing.erase("layers.2.weight_hh");
  p = write_chemnet("missing.safetensors", missing, good);
  EXPECT_NE(load_error(p).find("missing tensor 'layers.2.weight_hh'"), std::string::npos) << load_error(p);

  auto wrong = tensors;
  wrong["layers.1.weight"] = at::zeros({5, 7, 4});  // layer 0 gives 6 channels
  p = write_chemnet("chain.safetensors", wrong, good);
  EXPECT_NE(load_error(p).find("layer 1: tensor 'layers.1.weight' has shape [5, 7, 4], expected [5, 6, 4]"),
            std::string::npos)
      << load_error(p);

  p = write_chemnet("act.safetensors", tensors,
                    {{"format", "strand-chemnet"},
                     {"layers", R"([{"type":"conv1d","activation":"swish"},{"type":"conv1d"},)"
                                R"({"type":"lstm"},{"type":"lstm","last":true}])"}});
  EXPECT_NE(load_error(p).find("unknown activation \"swish\""), std::string::npos) << load_error(p);

  p = write_chemnet("not_last.safetensors", tensors,
                    {{"format", "strand-chemnet"},
                     {"layers", R"([{"type":"conv1d"},{"type":"conv1d","stride":2},{"type":"lstm"},{"type":"lstm"}])"}});
  EXPECT_NE(load_error(p).find("the last layer must be an LSTM with \"last\": true"), std::string::npos) << load_error(p);
}

TEST(FrechetDistance, IsZeroForEqualSetsAndSymmetric) {
  at::manual_seed(3);
  const at::Tensor a = at::randn({200, 5}, at::kDouble), b = at::randn({150, 5}, at::kDouble) * 1.5 + 0.3;
  const auto sa = chem::gaussian_stats(a), sb = chem::gaussian_stats(b);
  EXPECT_NEAR(chem::frechet_distance(sa, sa), 0.0, 1e-10);
  EXPECT_NEAR(chem::frechet_distance(sa, sb), chem::frechet_distance(sb, sa), 1e-10);
  EXPECT_GT(chem::frechet_distance(sa, sb), 0.1);
}

TEST(FrechetDistance, MatchesClosedForms) {
  // Diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(a_i) - sqrt(b_i))^2.
  const at::Tensor m1 = at::tensor({0.0, 1.0, -2.0}, at::kDouble), m2 = at::tensor({1.0, 1.0, 0.0}, at::kDouble);
  const at::Tensor d1 = at::tensor({1.0, 4.0, 9.0}, at::kDouble), d2 = at::tensor({4.0, 1.0, 0.25}, at::kDouble);
  const double diag = (1 + 0 + 4) + (1 + 1 + 6.25);
  EXPECT_NEAR(chem::frechet_distance(stats(m1, at::diag(d1)), stats(m2, at::diag(d2))), diag, 1e-12);

  // 2 x 2: Tr sqrt(M) = sqrt(tr M + 2 sqrt(det M)) for M = S1 S2 with non-negative eigenvalues.
  const at::Tensor s1 = at::tensor({2.0, 0.6, 0.6, 1.0}, at::kDouble).view({2, 2});
  const at::Tensor s2 = at::tensor({0.5, -0.2, -0.2, 3.0}, at::kDouble).view({2, 2});
  const at::Tensor m = s1.matmul(s2);
  const double tr = m.trace().item<double>(), det = at::linalg_det(m).item<double>();
  const double expected = s1.trace().item<double>() + s2.trace().item<double>() - 2 * std::sqrt(tr + 2 * std::sqrt(det));
  const at::Tensor zero = at::zeros({2}, at::kDouble);
  EXPECT_NEAR(chem::frechet_distance(stats(zero, s1), stats(zero, s2)), expected, 1e-12);

  // 4 x 4, non-commuting: S1 = A A^T + 0.1 I, S2 = B B^T + 0.2 I; value from numpy with the matrix
  // square root of S1 S2 by 60 Denman-Beavers iterations (residual 6e-15).
  const at::Tensor A = at::tensor({2, 1, 0, 1, 0, 3, 1, 0, 1, 0, 2, 1, 0, 1, 1, 4}, at::kDouble).view({4, 4}) / 2;
  const at::Tensor B = at::tensor({1, 0, 2, 0, 1, 2, 0, 1, 0, 1, 1, 0, 2, 0, 1, 3}, at::kDouble).view({4, 4}) / 3;
  const at::Tensor c1 = A.matmul(A.t()) + 0.1 * at::eye(4, at::kDouble);
  const at::Tensor c2 = B.matmul(B.t()) + 0.2 * at::eye(4, at::kDouble);
  const at::Tensor mu1 = at::tensor({0.5, -1.0, 2.0, 0.0}, at::kDouble), mu2 = at::tensor({1.0, 0.5, -0.5, 0.25}, at::kDouble);
  EXPECT_NEAR(chem::frechet_distance(stats(mu1, c1), stats(mu2, c2)), 10.746698584555, 1e-9);
}

TEST(FrechetDistance, StatisticsUseTheUnbiasedCovariance) {
  const at::Tensor x = at::tensor({1.0, 2.0, 3.0, 6.0, 5.0, 4.0}, at::kDouble).view({3, 2});
  const auto s = chem::gaussian_stats(x);
  EXPECT_NEAR(s.mean[0].item<double>(), 3.0, 1e-12);
  EXPECT_NEAR(s.mean[1].item<double>(), 4.0, 1e-12);
  // Deviations (-2, -2), (0, 2), (2, 0): sums of products / (3 - 1).
  EXPECT_NEAR(s.cov[0][0].item<double>(), 4.0, 1e-12);
  EXPECT_NEAR(s.cov[0][1].item<double>(), 2.0, 1e-12);
  EXPECT_NEAR(s.cov[1][1].item<double>(), 4.0, 1e-12);
  const auto one = strand_tests::message_of<strand::InputError>([] { chem::gaussian_stats(at::ones({1, 2})); });
  EXPECT_NE(one.find("at least 2 molecules"), std::string::npos) << one;
}
