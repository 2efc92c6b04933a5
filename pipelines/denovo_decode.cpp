#include "pipelines/denovo_decode.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "bio/spectra/masses.h"
#include "libseq/core/error.h"

namespace strand::pipelines::denovo {
namespace sp = bio::spectra;
namespace {

struct Beam {
  std::vector<int64_t> ids;      ///< model ids in decoding order
  std::vector<double> log_probs;  ///< per id
  double score = 0;              ///< sum of log_probs
  double residue_mass = 0;       ///< sum of the residue masses so far
  bool n_terminal = false;       ///< ends with an N-terminal modification
  int64_t row = 0;               ///< its parent's row in the decoder cache
};

bool fits(double remaining, double delta, int max_isotope) {
  for (int j = 0; j <= max_isotope; ++j)
    if (std::abs(remaining - j * sp::kIsotopeSpacing) < delta) return true;
  return false;
}

}  // namespace

std::vector<Prediction> beam_search(DenovoModelImpl& model, const Batch& batch, const BeamOptions& o) {
  STRAND_CHECK(o.beams >= 1, "beam search needs at least one beam, found ", o.beams);
  STRAND_CHECK(o.max_length >= 1, "the maximum peptide length must be at least 1, found ", o.max_length);
  STRAND_CHECK(o.tolerance_ppm > 0, "the precursor tolerance must be positive, found ", o.tolerance_ppm, " ppm");
  at::NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  const int64_t n = batch.mz.size(0);
  const int64_t v = model.vocab_size();
  const int64_t stop = model.stop_token();
  const bool reverse = model.config().reverse;
  const auto& residues = model.table().residues();
  std::vector<double> mass(static_cast<size_t>(v), 0.0);
  std::vector<char> n_term(static_cast<size_t>(v), 0);
  std::vector<double> negative_n_term;  // masses of N-terminal modifications that lower the mass
  for (size_t i = 0; i < residues.size(); ++i) {
    mass[i + 1] = residues[i].mass;
    n_term[i + 1] = residues[i].amino_acid == 0;
    if (n_term[i + 1] && residues[i].mass < 0) negative_n_term.push_back(residues[i].mass);
  }
  // Whether a residue leaving `after` to explain keeps the peptide completable: no overshoot, or
  // (C-to-N) an overshoot that a final negative-mass N-terminal modification would bring back.
  const auto residue_allowed = [&](double after, double delta) {
    if (after > -delta) return true;
    if (!reverse) return false;
    for (const double m : negative_n_term)
      if (fits(after - m, delta, o.max_isotope)) return true;
    return false;
  };
  const DenovoModelImpl::Encoded enc = model.encode(batch);
  at::Tensor nar_features;
  if (model.has_nar()) nar_features = model.nar_forward(enc).first;
  const auto precursor_mass = enc.precursor_mass.contiguous();
  const double* precursor = precursor_mass.data_ptr<double>();
  // One cache row per live beam, spectrum by spectrum; the first step decodes the precursor
  // position of every spectrum's single empty beam.
  DecoderCache cache = model.start_decoding(enc, nar_features);
  at::Tensor logits = model.decode_step(cache, at::Tensor());

  std::vector<std::vector<Beam>> live(static_cast<size_t>(n), std::vector<Beam>(1));
  std::vector<std::vector<Beam>> finished(static_cast<size_t>(n));
  for (int64_t step = 0; step <= o.max_length; ++step) {
    const at::Tensor log_probs = logits.to(at::kDouble).log_softmax(-1).contiguous();
    const auto lp = log_probs.accessor<double, 2>();
    std::vector<int64_t> parent_rows;  // cache row of each beam kept for the next step
    std::vector<int64_t> next_tokens;
    int64_t r = 0;
    for (int64_t s = 0; s < n; ++s) {
      auto& beams = live[static_cast<size_t>(s)];
      const int64_t first_row = r;
      const double target = precursor[s] - sp::kWater;
      const double delta = o.tolerance_ppm * 1e-6 * precursor[s];
      struct Candidate {
        double score;
        size_t beam;
        int64_t id;
      };
      std::vector<Candidate> candidates;
      for (size_t k = 0; k < beams.size(); ++k, ++r) {
        const Beam& beam = beams[k];
        const auto length = static_cast<int64_t>(beam.ids.size());
        const double remaining = target - beam.residue_mass;
        for (int64_t id = 1; id < v; ++id) {
          const double logp = lp[r][id];
          if (!std::isfinite(logp)) continue;
          if (id == stop) {
            if (length < o.min_length || (beam.n_terminal && length == 1)) continue;
            if (o.mass_constrained && !fits(remaining, delta, o.max_isotope)) continue;
          } else if (n_term[static_cast<size_t>(id)]) {
            // The N-terminal end: the last residue token in C-to-N order, the first in N-to-C.
            if (beam.n_terminal || (reverse ? length == 0 : length != 0)) continue;
            const double after = remaining - mass[static_cast<size_t>(id)];
            if (o.mass_constrained && (reverse ? !fits(after, delta, o.max_isotope) : after <= -delta)) continue;
          } else {
            if (reverse && beam.n_terminal) continue;  // only the stop may follow the N-terminal modification
            if (length >= o.max_length) continue;
            if (o.mass_constrained && !residue_allowed(remaining - mass[static_cast<size_t>(id)], delta)) continue;
          }
          candidates.push_back({beam.score + logp, k, id});
        }
      }
      std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return a.score != b.score ? a.score > b.score : (a.beam != b.beam ? a.beam < b.beam : a.id < b.id);
      });
      std::vector<Beam> next;
      auto& done = finished[static_cast<size_t>(s)];
      for (const Candidate& c : candidates) {
        if (static_cast<int64_t>(next.size()) >= o.beams) break;
        const Beam& parent = beams[c.beam];
        if (c.id == stop) {
          // A finished beam only counts while it can still be among the best `beams` peptides.
          if (static_cast<int64_t>(done.size()) < o.beams || c.score > done.back().score) {
            Beam b = parent;
            b.log_probs.push_back(c.score - parent.score);
            b.score = c.score;
            done.push_back(std::move(b));
            std::sort(done.begin(), done.end(), [](const Beam& a, const Beam& b2) { return a.score > b2.score; });
            if (static_cast<int64_t>(done.size()) > o.beams) done.pop_back();
          }
          continue;
        }
        Beam b = parent;
        b.ids.push_back(c.id);
        b.log_probs.push_back(c.score - parent.score);
        b.score = c.score;
        b.residue_mass += mass[static_cast<size_t>(c.id)];
        b.n_terminal = b.n_terminal || n_term[static_cast<size_t>(c.id)];
        b.row = first_row + static_cast<int64_t>(c.beam);
        next.push_back(std::move(b));
      }
      // Live beams that cannot beat the best finished peptides are dropped (scores only fall).
      if (static_cast<int64_t>(done.size()) >= o.beams) {
        const double worst = done.back().score;
        next.erase(std::remove_if(next.begin(), next.end(), [&](const Beam& b) { return b.score <= worst; }), next.end());
      }
      for (const Beam& b : next) {
        parent_rows.push_back(b.row);
        next_tokens.push_back(b.ids.back());
      }
      beams = std::move(next);
    }
    if (parent_rows.empty() || step == o.max_length) break;
    const auto long_options = at::TensorOptions().dtype(at::kLong);
    cache.select_rows(at::tensor(parent_rows, long_options));
    logits = model.decode_step(cache, at::tensor(next_tokens, long_options));
  }

  std::vector<Prediction> out(static_cast<size_t>(n));
  for (int64_t s = 0; s < n; ++s) {
    const auto& done = finished[static_cast<size_t>(s)];
    if (done.empty()) continue;
    const Beam& best = done.front();
    Prediction& p = out[static_cast<size_t>(s)];
    std::vector<int64_t> ids = best.ids;
    std::vector<double> logp(best.log_probs.begin(), best.log_probs.end() - 1);  // the stop's left out
    if (reverse) {
      std::reverse(ids.begin(), ids.end());
      std::reverse(logp.begin(), logp.end());
    }
    p.score = std::exp(best.score);
    double carried = 0;  // an N-terminal modification's log-probability, folded into the next residue
    for (size_t i = 0; i < ids.size(); ++i) {
      p.tokens.push_back(static_cast<int>(ids[i] - 1));
      if (n_term[static_cast<size_t>(ids[i])]) {
        carried += logp[i];
        continue;
      }
      p.aa_scores.push_back(std::exp(logp[i] + carried));
      carried = 0;
    }
  }
  if (was_training) model.train();
  return out;
}

}  // namespace strand::pipelines::denovo
