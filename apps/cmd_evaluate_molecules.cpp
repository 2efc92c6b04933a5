// strand evaluate-molecules: validity, uniqueness, novelty, diversity, similarity to a reference
// set and property distributions of generated molecules.
#include <cmath>
#include <cstdio>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "pipelines/molecules.h"

namespace strand::apps {

int cmd_evaluate_molecules(int argc, char** argv) {
  CommonOptions common;
  pipelines::EvaluateMoleculesOptions o;
  po::options_description opts("evaluate-molecules options");
  opts.add_options()
    ("input,i", po::value<std::string>(&o.samples)->required(),
     "generated molecules, one SMILES (or SELFIES with --selfies) per line; empty lines are empty samples")
    ("selfies", po::bool_switch(&o.selfies), "the samples are SELFIES: decode them first")
    ("train", po::value<std::string>(&o.training), "training molecules (.smi/.txt/.csv/.tsv/.sdf) for novelty")
    ("reference", po::value<std::string>(&o.reference),
     "reference molecules (e.g. a held-out test set) for SNN, fragment and scaffold similarity and property W1")
    ("empty-is-valid", po::bool_switch(&o.empty_is_valid),
     "count empty samples as valid (SELFIES decodes some strings to ''; MOSES and GuacaMol count them invalid)")
    ("sa-fpscores", po::value<std::string>(&o.sa_fpscores),
     "SA-score fragment table (default: RDKit's, from the Debian package rdkit-data); 'none' skips SA")
    ("chemnet", po::value<std::string>(&o.chemnet),
     "ChemNet weights converted by scripts/chemnet_to_safetensors.py: adds the Frechet ChemNet Distance (FCD) "
     "between the valid samples and --reference")
    ("out,o", po::value<std::string>(&o.out), "write the metrics as JSON")
    ("properties", po::value<std::string>(&o.properties), "write per-molecule properties as TSV");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand evaluate-molecules -i SAMPLES [--train FILE] [--reference FILE] [options]",
                     "Scores generated molecules as MOSES and GuacaMol define it: validity (RDKit parses it into at "
                     "least one atom), uniqueness (canonical SMILES), novelty against the training set, internal "
                     "diversity IntDiv1/IntDiv2, and against a reference set the nearest-neighbour similarity (SNN), "
                     "BRICS fragment and Bemis-Murcko scaffold cosine similarity, with Morgan radius-2 1024-bit "
                     "fingerprints; plus mean and spread of logP, molecular weight, TPSA, QED and SA score, and their "
                     "Wasserstein-1 distance to the reference set; with --chemnet also the FCD.",
                     opts, common, vm))
    return 0;
  o.command_line = command_line(argc, argv);
  const auto r = pipelines::evaluate_molecules(o);
  const auto& m = r.metrics;
  const auto line = [](const char* name, double v) {
    if (v < 0 || std::isnan(v)) return;
    std::printf("%-12s %.4f\n", name, v);
  };
  std::printf("%-12s %lld (%lld empty)\n", "samples", static_cast<long long>(m.samples), static_cast<long long>(m.empty));
  line("validity", m.validity);
  line("uniqueness", m.uniqueness);
  line("novelty", m.novelty);
  line("IntDiv1", m.int_div1);
  line("IntDiv2", m.int_div2);
  line("SNN", m.snn);
  line("Frag", m.frag);
  line("Scaf", m.scaf);
  line("FCD", r.fcd);
  const auto prop = [](const char* name, const chem::Summary& s) {
    if (std::isnan(s.mean)) return;
    std::printf("%-12s %.3f +- %.3f", name, s.mean, s.sd);
    if (s.w1 >= 0) std::printf("   W1 %.4f", s.w1);
    std::printf("\n");
  };
  prop("logP", m.logp);
  prop("MW", m.mw);
  prop("TPSA", m.tpsa);
  prop("QED", m.qed);
  prop("SA", m.sa);
  if (!o.out.empty()) std::cerr << "metrics: " << o.out << "\n";
  return 0;
}

}  // namespace strand::apps
