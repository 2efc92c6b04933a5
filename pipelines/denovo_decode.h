// Batched beam search for the de novo model (shared reference denovo.md §3): beams ranked by the
// sum of the log-probabilities of their tokens (the stop token included), so the peptide score is
// the product of the token probabilities (Casanovo v5); per-residue scores are the probabilities
// of each residue's token, reported N- to C-terminus, with an N-terminal modification's folded
// (multiplied) into the first residue's.
//
// Precursor-mass constraint (InstaNovo's masking, a switch as the reference recommends): with
// delta = tolerance_ppm * 1e-6 * precursor mass and r = precursor mass - water - residues so far,
//   - the stop token is allowed only when |r - j * 1.003355| < delta for an isotope j in
//     0 .. max_isotope (so every finished peptide explains the precursor);
//   - a residue of mass m is allowed only when r - m > -delta (it does not overshoot);
//   - an N-terminal modification is allowed only as the last token (in C-to-N decoding; first in
//     N-to-C decoding it may only open the peptide) and, with the constraint, only when it
//     completes the mass.
// Without the constraint only the structural rules apply: no padding token, an N-terminal
// modification only at the N-terminal end. Beams that reach max_length residues without a stop
// are dropped; a spectrum whose beams all end so gets an empty prediction.
#pragma once

#include <cstdint>
#include <vector>

#include "pipelines/denovo_model.h"

namespace strand::pipelines::denovo {

struct BeamOptions {
  int64_t beams = 5;
  int64_t max_length = 30;     ///< residues
  int64_t min_length = 1;      ///< residues; shorter peptides cannot stop
  bool mass_constrained = true;
  double tolerance_ppm = 50;
  int max_isotope = 1;
};

struct Prediction {
  std::vector<int> tokens;          ///< residue-table tokens, N-terminal modification first; empty = none
  double score = 0;                 ///< product of the token probabilities (stop included)
  std::vector<double> aa_scores;    ///< per residue, N- to C-terminus
};

/// Decodes every spectrum of `batch` (tokens unused). Runs without gradients, in eval mode.
std::vector<Prediction> beam_search(DenovoModelImpl& model, const Batch& batch, const BeamOptions& options);

}  // namespace strand::pipelines::denovo
