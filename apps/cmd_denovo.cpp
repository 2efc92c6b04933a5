// strand denovo train | sequence | evaluate: de novo peptide sequencing from tandem mass spectra.
#include <cstdio>
#include <cstring>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/denovo.h"

namespace strand::apps {
namespace {

namespace dn = pipelines::denovo;

constexpr const char* kAbout =
    "De novo peptide sequencing: a transformer reads a preprocessed MS/MS spectrum (Casanovo v5 preprocessing) and "
    "an autoregressive decoder writes the peptide, C- to N-terminus, optionally augmented with a CTC decoder "
    "(CrossNovo's two-stage training). Spectra: MGF, mzML (plain or gzip) or DTA; peptides in ProForma "
    "(M[Oxidation]) or mass-delta (M+15.995) notation.";

void print_usage(std::ostream& os) {
  os << "Usage: strand denovo <simulate|train|sequence|evaluate> [options]   (strand denovo <sub> --help for details)\n\n"
     << kAbout << "\n\n"
     << "  simulate   simulate annotated spectra of a protein FASTA's tryptic peptides (MGF)\n"
     << "  train      train a model on annotated spectra (MGF with SEQ=)\n"
     << "  sequence   sequence spectra with a model, writing mzTab\n"
     << "  evaluate   score predictions (mzTab) against annotated spectra\n";
}

/// Preprocessing options shared by train (and recorded in the model for sequence).
void add_preprocess_options(po::options_description& opts, bio::spectra::PreprocessOptions& p) {
  opts.add_options()
    ("min-mz", po::value<double>(&p.min_mz)->default_value(p.min_mz), "lowest peak m/z kept")
    ("max-mz", po::value<double>(&p.max_mz)->default_value(p.max_mz), "highest peak m/z kept")
    ("remove-precursor-tol", po::value<double>(&p.remove_precursor_tol)->default_value(p.remove_precursor_tol),
     "Da around the precursor (all charges) whose peaks are removed; 0 keeps them")
    ("min-intensity", po::value<double>(&p.min_intensity)->default_value(p.min_intensity),
     "peaks at or below this fraction of the most intense (after the square root) are dropped")
    ("max-peaks", po::value<int>(&p.max_peaks)->default_value(p.max_peaks), "most intense peaks kept")
    ("min-peaks", po::value<int>(&p.min_peaks)->default_value(p.min_peaks), "spectra with fewer peaks are skipped")
    ("max-charge", po::value<int>(&p.max_charge)->default_value(p.max_charge), "spectra above this charge are skipped");
}

int run_train(int argc, char** argv) {
  CommonOptions common;
  dn::TrainOptions o;
  po::options_description opts("denovo train options");
  opts.add_options()
    ("train", po::value<std::vector<std::string>>(&o.train)->multitoken()->composing()->required(),
     "annotated spectrum files (MGF with SEQ=); repeatable")
    ("valid", po::value<std::vector<std::string>>(&o.valid)->multitoken()->composing(),
     "annotated spectrum files for validation loss; repeatable")
    ("arch", po::value<std::string>(&o.arch)->default_value(o.arch), "tiny, small, casanovo or a config.json")
    ("out,o", po::value<std::string>(&o.out)->required(), "output directory (model/, metrics.jsonl, train_state/)")
    ("steps", po::value<int64_t>(&o.steps)->default_value(o.steps),
     "stage-1 steps (joint autoregressive + CTC loss, annealed)")
    ("stage2-steps", po::value<int64_t>(&o.stage2_steps)->default_value(o.stage2_steps),
     "stage-2 steps (cross-decoder attention; encoder and CTC decoder frozen)")
    ("batch", po::value<int64_t>(&o.batch)->default_value(o.batch), "spectra per step")
    ("lr", po::value<double>(&o.lr)->default_value(o.lr), "peak learning rate (warm-up, then cosine)")
    ("weight-decay", po::value<double>(&o.weight_decay)->default_value(o.weight_decay), "AdamW weight decay")
    ("warmup", po::value<int64_t>(&o.warmup)->default_value(o.warmup), "warm-up steps")
    ("val-every", po::value<int64_t>(&o.val_every)->default_value(o.val_every), "steps between validations")
    ("checkpoint-every", po::value<int64_t>(&o.checkpoint_every)->default_value(o.checkpoint_every),
     "steps between checkpoints")
    ("resume", po::bool_switch(&o.resume), "continue from OUT/train_state")
    ("until-step", po::value<int64_t>(&o.until_step)->default_value(0),
     "stop after this step with a checkpoint, to --resume later (batch jobs with a time limit); 0 = run to the end");
  add_preprocess_options(opts, o.preprocess);
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand denovo train --train FILE... --out DIR [options]",
                     "Trains a de novo sequencing model on annotated spectra. Spectra are preprocessed as at "
                     "sequencing time; those rejected, or whose peptide the residue table cannot read, are counted "
                     "and left out. Writes OUT/model (config.json, model.safetensors), OUT/metrics.jsonl and "
                     "checkpoints in OUT/train_state.",
                     opts, common, vm))
    return 0;
  o.seed = common.seed;
  o.command_line = "strand denovo" + command_line(argc, argv).substr(6);
  const auto s = dn::run_denovo_train(o);
  std::cerr << "trained " << s.parameters << " parameters for " << s.steps << " steps on " << s.train_spectra
            << " spectra (" << s.valid_spectra << " for validation); final loss " << s.final_loss;
  if (s.valid_loss >= 0) std::cerr << ", validation loss " << s.valid_loss << " nats/token";
  std::cerr << "\n";
  for (const auto& [reason, n] : s.dropped) std::cerr << "  left out: " << n << " (" << reason << ")\n";
  std::cerr << "model: " << o.out << "/model\n";
  return 0;
}

int run_simulate(int argc, char** argv) {
  CommonOptions common;
  dn::SimulateOptions o;
  auto& sim = o.simulation;
  po::options_description opts("denovo simulate options");
  opts.add_options()
    ("fasta", po::value<std::vector<std::string>>(&o.fasta)->multitoken()->composing()->required(),
     "protein FASTA files (plain or gzip) to digest with trypsin; repeatable")
    ("out,o", po::value<std::string>(&o.out)->required(), "output prefix: OUT.train.mgf and OUT.test.mgf")
    ("train-spectra", po::value<int64_t>(&o.train_spectra)->default_value(o.train_spectra), "spectra in OUT.train.mgf")
    ("test-spectra", po::value<int64_t>(&o.test_spectra)->default_value(o.test_spectra), "spectra in OUT.test.mgf")
    ("test-fraction", po::value<double>(&o.test_fraction)->default_value(o.test_fraction),
     "share of the distinct peptides held out for OUT.test.mgf (no peptide is in both files)")
    ("missed-cleavages", po::value<int>(&o.digest.missed_cleavages)->default_value(o.digest.missed_cleavages),
     "uncut K/R sites a peptide may contain")
    ("min-length", po::value<int>(&o.digest.min_length)->default_value(o.digest.min_length), "shortest peptide")
    ("max-length", po::value<int>(&o.digest.max_length)->default_value(o.digest.max_length), "longest peptide")
    ("missing", po::value<double>(&sim.missing_probability)->default_value(sim.missing_probability),
     "probability that a fragment peak is missing")
    ("fragment-ppm", po::value<double>(&sim.fragment_ppm_sigma)->default_value(sim.fragment_ppm_sigma),
     "standard deviation of the fragment m/z error, ppm")
    ("precursor-ppm", po::value<double>(&sim.precursor_ppm)->default_value(sim.precursor_ppm),
     "largest precursor m/z error, ppm")
    ("isotope-error", po::value<double>(&sim.isotope_error_probability)->default_value(sim.isotope_error_probability),
     "probability that the precursor is the +1 isotope")
    ("noise-min", po::value<int>(&sim.noise_peaks_min)->default_value(sim.noise_peaks_min), "fewest noise peaks")
    ("noise-max", po::value<int>(&sim.noise_peaks_max)->default_value(sim.noise_peaks_max), "most noise peaks");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand denovo simulate --fasta FILE... --out PREFIX [options]",
                     "Digests proteins with trypsin (after K/R, not before P) and simulates annotated MS/MS spectra of "
                     "the peptides: b, y, a2 and immonium ions, 2+ fragments, water and ammonia losses, missing "
                     "fragments, noise peaks, fragment and precursor m/z errors, isotope errors, M oxidation and "
                     "N-terminal acetylation at random, C carbamidomethylated. Train and test files hold disjoint "
                     "peptides. Deterministic under --seed.",
                     opts, common, vm))
    return 0;
  o.seed = common.seed;
  const auto s = dn::run_denovo_simulate(o);
  std::cerr << s.peptides << " distinct peptides: " << s.train_peptides << " for training, " << s.test_peptides
            << " held out\nwrote " << o.out << ".train.mgf (" << o.train_spectra << " spectra)";
  if (s.test_peptides > 0 && o.test_spectra > 0) std::cerr << " and " << o.out << ".test.mgf (" << o.test_spectra << ")";
  std::cerr << "\n";
  return 0;
}

int run_sequence(int argc, char** argv) {
  CommonOptions common;
  dn::SequenceOptions o;
  po::options_description opts("denovo sequence options");
  opts.add_options()
    ("model,m", po::value<std::string>(&o.model)->required(), "model directory (OUT/model of strand denovo train)")
    ("input,i", po::value<std::vector<std::string>>(&o.inputs)->multitoken()->composing()->required(),
     "spectrum files (MGF, mzML, DTA; plain or gzip); repeatable, each becomes ms_run[k] in the mzTab")
    ("output,o", po::value<std::string>(&o.output)->required(), "mzTab file to write")
    ("beams", po::value<int64_t>(&o.beam.beams)->default_value(o.beam.beams), "beam width (1 = greedy)")
    ("max-length", po::value<int64_t>(&o.beam.max_length)->default_value(0),
     "longest peptide in residues (0 = the model's max_peptide_length)")
    ("min-length", po::value<int64_t>(&o.beam.min_length)->default_value(o.beam.min_length), "shortest peptide")
    ("no-mass-constraint", po::bool_switch(), "let beams end without explaining the precursor mass")
    ("precursor-tol", po::value<double>(&o.beam.tolerance_ppm)->default_value(o.beam.tolerance_ppm),
     "precursor mass tolerance of the constraint, ppm")
    ("max-isotope", po::value<int>(&o.beam.max_isotope)->default_value(o.beam.max_isotope),
     "isotope errors 0..N allowed by the constraint")
    ("batch", po::value<int64_t>(&o.batch)->default_value(o.batch), "spectra per decoder batch");
  po::positional_options_description positional;
  positional.add("input", -1);
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand denovo sequence -m MODEL -o OUT.mztab SPECTRA... [options]",
                     "Sequences every MS2 spectrum with a beam search (summed log-probabilities; with the precursor "
                     "mass constraint by default, every reported peptide explains the precursor within the tolerance "
                     "and isotope range) and writes an mzTab 1.0 PSM section: peptide, modifications, peptide and "
                     "per-residue scores, calculated and observed m/z, charge and spectrum reference.",
                     opts, common, vm, &positional))
    return 0;
  o.beam.mass_constrained = !vm["no-mass-constraint"].as<bool>();
  o.command_line = "strand denovo" + command_line(argc, argv).substr(6);
  const auto s = dn::run_denovo_sequence(o);
  std::cerr << "sequenced " << s.sequenced << " of " << s.spectra << " MS2 spectra in " << s.seconds << " s ("
            << (s.seconds > 0 ? static_cast<double>(s.spectra) / s.seconds : 0.0) << " spectra/s); " << s.no_peptide
            << " without a peptide\n";
  for (const auto& [reason, n] : s.skipped) std::cerr << "  not sequenced: " << n << " (" << reason << ")\n";
  std::cerr << "mzTab: " << o.output << "\n";
  return 0;
}

int run_evaluate(int argc, char** argv) {
  CommonOptions common;
  dn::EvaluateOptions o;
  po::options_description opts("denovo evaluate options");
  opts.add_options()
    ("predictions,p", po::value<std::string>(&o.predictions)->required(), "mzTab written by strand denovo sequence")
    ("spectra,s", po::value<std::vector<std::string>>(&o.spectra)->multitoken()->composing()->required(),
     "the annotated spectrum files (SEQ=), in the order they were sequenced")
    ("out,o", po::value<std::string>(&o.out)->required(), "output prefix: OUT.json, OUT.curve.csv, OUT.curve.svg")
    ("model,m", po::value<std::string>(&o.model), "read peptides with this model's residue table (custom modifications)")
    ("cumulative-tol", po::value<double>(&o.match.cumulative_tolerance)->default_value(o.match.cumulative_tolerance),
     "Da: prefix masses must agree within this to compare residues")
    ("residue-tol", po::value<double>(&o.match.residue_tolerance)->default_value(o.match.residue_tolerance),
     "Da: a residue matches when its mass agrees within this")
    ("fdr", po::value<double>(&o.match.fdr)->default_value(o.match.fdr), "FDR for the recall-at-FDR figure");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand denovo evaluate -p PRED.mztab -s SPECTRA... -o OUT [options]",
                     "Scores de novo predictions against annotated spectra with Casanovo's mass-based matching "
                     "(prefix then suffix walk; I = L): amino-acid precision and recall, peptide recall and precision, "
                     "the precision-coverage curve (CSV and SVG), its area, and recall at an FDR. Annotated spectra "
                     "without a prediction count as wrong.",
                     opts, common, vm))
    return 0;
  const auto r = dn::run_denovo_evaluate(o);
  std::printf("annotated %lld  predicted %lld\nAA precision %.4f  AA recall %.4f\npeptide recall %.4f  peptide precision "
              "%.4f\nAUPC %.4f  recall at %.0f%% FDR %.4f\n",
              static_cast<long long>(r.n_annotated), static_cast<long long>(r.n_predicted), r.aa_precision, r.aa_recall,
              r.peptide_recall, r.peptide_precision, r.aupc, 100 * o.match.fdr, r.recall_at_fdr);
  std::cerr << "results: " << o.out << ".json, " << o.out << ".curve.csv, " << o.out << ".curve.svg\n";
  return 0;
}

}  // namespace

int cmd_denovo(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    print_usage(argc < 2 ? std::cerr : std::cout);
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "simulate") return run_simulate(argc - 1, argv + 1);
  if (sub == "train") return run_train(argc - 1, argv + 1);
  if (sub == "sequence") return run_sequence(argc - 1, argv + 1);
  if (sub == "evaluate") return run_evaluate(argc - 1, argv + 1);
  throw InputError("unknown 'denovo' subcommand '" + sub + "' (expected simulate, train, sequence or evaluate; see "
                   "'strand denovo --help')");
}

}  // namespace strand::apps
