// Fréchet ChemNet Distance (Preuer et al., J. Chem. Inf. Model. 2018,
// https://doi.org/10.1021/acs.jcim.8b00234): the Fréchet distance between Gaussians fitted to the
// ChemNet activations of two molecule sets. ChemNet's weights ship with no Debian package, so FCD
// is a plug-in: the user converts the reference weights file once (scripts/chemnet_to_safetensors.py)
// and passes the result to `strand evaluate-molecules --chemnet`.
//
// The network follows the torch port used by the reference packages (FCD 1.2, fcd_torch): input
// one-hot over 35 symbols, padded to 350 positions and divided by 35; a stack of Conv1d layers,
// each after the reference's "same" padding rule and followed by its activation; then LSTM
// layers (optionally reading the sequence backwards); the last one's final time step is the
// activation vector (512 values in ChemNet v0.13).
#pragma once

#include <ATen/Tensor.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace strand::chem {

/// ChemNet's input symbols, in one-hot column order ("X" = unknown, "." = end of string).
const std::vector<std::string>& chemnet_vocabulary();

/// The padded length of ChemNet's input.
inline constexpr int kChemNetPadLength = 350;

/// Column indices of the one-hot rows of `smiles`, as the reference encodes it: a character
/// followed by 'r', 'i' or 'l' forms a two-letter symbol; symbols outside the vocabulary are "X";
/// encoding ends at the first '.' (so only the first fragment of a multi-fragment SMILES is
/// read) or when `pad_length - 1` symbols are written, and the end symbol "." follows. Positions
/// after it are zero rows (not returned).
std::vector<int> chemnet_symbols(std::string_view smiles, int pad_length = kChemNetPadLength);

/// A ChemNet loaded from a safetensors file written by scripts/chemnet_to_safetensors.py:
/// tensors "layers.N.weight" / "layers.N.bias" (Conv1d, PyTorch layout) and
/// "layers.N.weight_ih" / "weight_hh" / "bias_ih" / "bias_hh" (LSTM, PyTorch gate order), plus the
/// metadata entries "format" = "strand-chemnet" and "layers", a JSON list with one object per layer:
/// {"type": "conv1d", "stride": S, "dilation": D, "padding": "same"|"valid", "activation":
/// "relu"|"selu"|"tanh"|"sigmoid"} or {"type": "lstm", "reverse": bool, "last": bool}.
class ChemNet {
 public:
  /// Loads and checks the file. Throws strand::InputError naming the file and the layer on a
  /// missing tensor, a shape that does not chain, an unknown layer type or activation, or a
  /// network that does not end in an LSTM returning its last step.
  static ChemNet load(const std::string& path);

  /// Width of the activation vector.
  int64_t features() const noexcept { return features_; }

  /// Activations (n, features()) in float64 for `smiles`, computed in float32 batches of `batch`
  /// on the CPU with the current intra-op thread count.
  at::Tensor activations(const std::vector<std::string>& smiles, int64_t batch = 128) const;

  /// The network on an already encoded input (batch, 35, length): exposed for tests.
  at::Tensor forward(const at::Tensor& one_hot) const;

 private:
  struct Layer {
    bool conv = true;
    at::Tensor weight, bias;                           // conv
    at::Tensor weight_ih, weight_hh, bias_ih, bias_hh;  // lstm
    int64_t stride = 1, dilation = 1;
    bool same_padding = true;
    std::string activation;
    bool reverse = false, last = false;
  };
  std::vector<Layer> layers_;
  int64_t features_ = 0;
};

/// Mean and (unbiased, n - 1) covariance of the rows of an (n, d) activation matrix, in float64.
struct GaussianStats {
  at::Tensor mean;  ///< (d)
  at::Tensor cov;   ///< (d, d)
};
/// Throws strand::InputError when there are fewer than 2 rows.
GaussianStats gaussian_stats(const at::Tensor& activations);

/// ||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^{1/2}) in float64. Tr((S1 S2)^{1/2}) is the sum of the
/// square roots of the eigenvalues of the symmetric S1^{1/2} S2 S1^{1/2} (the same eigenvalues as
/// S1 S2), with eigenvalues that rounding makes slightly negative taken as zero.
double frechet_distance(const GaussianStats& a, const GaussianStats& b);

}  // namespace strand::chem
