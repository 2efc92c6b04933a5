#include "pipelines/denovo.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

#include "libseq/core/error.h"
#include "bio/spectra/mztab.h"
#include "libseq/core/log.h"
#include "libseq/core/progress.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/safetensors.h"
#include "libseq/io/svg_plot.h"
#include "libseq/io/text_lines.h"
#include "libseq/train/trainer.h"

namespace strand::pipelines::denovo {
namespace sp = bio::spectra;
namespace fs = std::filesystem;
namespace {

nlohmann::json preprocess_json(const sp::PreprocessOptions& p) {
  return {{"min_mz", p.min_mz},       {"max_mz", p.max_mz},       {"remove_precursor_tol", p.remove_precursor_tol},
          {"min_intensity", p.min_intensity}, {"max_peaks", p.max_peaks}, {"min_peaks", p.min_peaks},
          {"max_charge", p.max_charge}};
}

sp::PreprocessOptions preprocess_from_json(const nlohmann::json& j, const std::string& where) {
  sp::PreprocessOptions p;
  try {
    p.min_mz = j.at("min_mz").get<double>();
    p.max_mz = j.at("max_mz").get<double>();
    p.remove_precursor_tol = j.at("remove_precursor_tol").get<double>();
    p.min_intensity = j.at("min_intensity").get<double>();
    p.max_peaks = j.at("max_peaks").get<int>();
    p.min_peaks = j.at("min_peaks").get<int>();
    p.max_charge = j.at("max_charge").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError(where + ": bad 'preprocess' entry: " + e.what());
  }
  return p;
}

/// The key a preprocessing rejection is counted under: the reason, with peak counts left out so
/// that spectra with too few peaks count together.
std::string count_key(const std::string& reason) {
  return reason.find("peaks after filtering") != std::string::npos ? "too few peaks" : reason;
}

/// A permutation of 0 .. n-1 for `epoch`, from a 64-bit engine seeded by (seed, epoch): the same on
/// every platform (Fisher-Yates on raw engine output, no standard-library distribution).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  std::mt19937_64 engine(seed * 1000003ULL + static_cast<uint64_t>(epoch));
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(engine() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

}  // namespace

ModelConfig denovo_preset(const std::string& name) {
  ModelConfig c;
  if (name == "tiny") {
    c.d_model = 64, c.heads = 4, c.ff_hidden = 256, c.encoder_layers = 2, c.decoder_layers = 2, c.nar_layers = 1;
  } else if (name == "small") {
    c.d_model = 256, c.heads = 8, c.ff_hidden = 1024, c.encoder_layers = 4, c.decoder_layers = 4, c.nar_layers = 2;
  } else if (name == "casanovo") {
    c.d_model = 512, c.heads = 8, c.ff_hidden = 1024, c.encoder_layers = 9, c.decoder_layers = 9, c.nar_layers = 0;
  } else if (name.size() > 5 && name.compare(name.size() - 5, 5, ".json") == 0) {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(io::read_file(name));
    } catch (const nlohmann::json::exception& e) {
      throw ConfigError("'" + name + "': not valid JSON: " + e.what());
    }
    return ModelConfig::from_json(j.contains("model") ? j.at("model") : j);
  } else {
    throw ConfigError("unknown de novo model preset '" + name + "' (known: tiny, small, casanovo, or a config.json)");
  }
  return c;
}

void save_denovo_model(const std::string& dir, DenovoModelImpl& model, const sp::PreprocessOptions& preprocess,
                       const nlohmann::json& provenance) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create '" + dir + "': " + ec.message());
  std::map<std::string, at::Tensor> tensors;
  for (const auto& item : model.named_parameters()) tensors[item.key()] = item.value().detach().cpu().contiguous();
  io::save_safetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}});
  nlohmann::json config = {{"kind", "denovo"},
                           {"model", model.config().to_json()},
                           {"preprocess", preprocess_json(preprocess)},
                           {"provenance", provenance}};
  config["provenance"]["strand_version"] = version();
  config["provenance"]["git_hash"] = git_hash();
  io::write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

LoadedDenovoModel load_denovo_model(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  nlohmann::json config;
  try {
    config = nlohmann::json::parse(io::read_file(config_path));
  } catch (const nlohmann::json::exception& e) {
    throw ConfigError("'" + config_path + "': not valid JSON: " + e.what());
  }
  if (!config.is_object() || config.value("kind", "") != "denovo" || !config.contains("model"))
    throw ConfigError("'" + config_path + "' is not a de novo model (no \"kind\": \"denovo\"); train one with "
                      "`strand denovo train`");
  LoadedDenovoModel out;
  out.config = config;
  out.model = DenovoModel(ModelConfig::from_json(config.at("model")));
  out.preprocess = config.contains("preprocess") ? preprocess_from_json(config.at("preprocess"), config_path)
                                                 : sp::PreprocessOptions{};
  const std::string weights = dir + "/model.safetensors";
  const auto tensors = io::load_safetensors(weights);
  at::NoGradGuard no_grad;
  size_t matched = 0;
  for (auto& item : out.model->named_parameters()) {
    const auto it = tensors.find(item.key());
    if (it == tensors.end()) throw ParseError("'" + weights + "' has no tensor '" + item.key() + "' that the config needs");
    if (it->second.sizes() != item.value().sizes())
      throw ShapeError("'" + weights + "': tensor '" + item.key() + "' has shape " + c10::str(it->second.sizes()) +
                       ", the config needs " + c10::str(item.value().sizes()));
    item.value().copy_(it->second);
    ++matched;
  }
  if (matched != tensors.size())
    throw ParseError("'" + weights + "' holds " + std::to_string(tensors.size() - matched) +
                     " tensor(s) the config does not use (a different model?)");
  out.model->eval();
  return out;
}

std::vector<sp::Spectrum> load_annotated(const std::vector<std::string>& files, const DenovoModelImpl& model,
                                         const sp::PreprocessOptions& preprocess, std::map<std::string, int64_t>& dropped) {
  std::vector<sp::Spectrum> out;
  for (const auto& path : files) {
    auto reader = sp::open_spectra(path);
    sp::Spectrum s;
    while (reader->next(s)) {
      if (s.peptide.empty()) {
        ++dropped["no peptide annotation"];
        continue;
      }
      std::vector<int> tokens;
      try {
        tokens = model.table().parse(s.peptide);
      } catch (const InputError&) {
        ++dropped["peptide outside the residue table"];
        continue;
      }
      int64_t residues = 0;
      for (const int t : tokens) residues += model.table().residues()[static_cast<size_t>(t)].amino_acid != 0 ? 1 : 0;
      if (residues > model.config().max_peptide_length) {
        ++dropped["peptide longer than max_peptide_length"];
        continue;
      }
      const std::string reason = sp::preprocess(s, preprocess);
      if (!reason.empty()) {
        ++dropped["preprocessing: " + count_key(reason)];
        continue;
      }
      out.push_back(std::move(s));
    }
    for (const auto& [reason, count] : reader->stats().reasons) dropped["unreadable record: " + reason] += count;
  }
  return out;
}

TrainSummary run_denovo_train(const TrainOptions& o) {
  STRAND_CHECK(!o.train.empty(), "denovo train: no training spectra (--train FILE...)");
  STRAND_CHECK(o.steps >= 1, "denovo train: --steps must be at least 1, found ", o.steps);
  STRAND_CHECK(o.stage2_steps >= 0, "denovo train: --stage2-steps must be >= 0, found ", o.stage2_steps);
  STRAND_CHECK(o.batch >= 1, "denovo train: --batch must be at least 1, found ", o.batch);
  TrainSummary summary;
  torch::manual_seed(o.seed);
  DenovoModel model(denovo_preset(o.arch));
  STRAND_CHECK(o.stage2_steps == 0 || model->has_nar(),
               "denovo train: --stage2-steps needs a model with the non-autoregressive decoder (nar_layers > 0)");
  const std::vector<sp::Spectrum> train = load_annotated(o.train, *model, o.preprocess, summary.dropped);
  std::map<std::string, int64_t> valid_dropped;
  const std::vector<sp::Spectrum> valid = load_annotated(o.valid, *model, o.preprocess, valid_dropped);
  STRAND_CHECK(!train.empty(), "denovo train: none of the training spectra is usable (", summary.dropped.size(),
               " reason(s); e.g. '", summary.dropped.empty() ? std::string("no spectra") : summary.dropped.begin()->first,
               "')");
  summary.train_spectra = static_cast<int64_t>(train.size());
  summary.valid_spectra = static_cast<int64_t>(valid.size());
  for (const auto& p : model->parameters()) summary.parameters += p.numel();

  const int64_t total = o.steps + o.stage2_steps;
  train::TrainerOptions topt;
  topt.out_dir = o.out;
  topt.optimizer.weight_decay = o.weight_decay;
  topt.schedule.peak_lr = o.lr;
  topt.schedule.total_steps = total;
  topt.schedule.warmup_steps = std::min(o.warmup, total);
  topt.checkpoint_every = o.checkpoint_every;
  topt.val_every = valid.empty() ? 0 : o.val_every;
  topt.seed = o.seed;
  topt.progress_label = "denovo train";

  int64_t position = 0;  // training spectra drawn so far
  const auto n = static_cast<int64_t>(train.size());
  std::vector<int64_t> order;
  int64_t order_epoch = -1;
  train::Trainer* trainer_ptr = nullptr;
  const auto stage_of = [&](int64_t step) { return step < o.steps ? 1 : 2; };
  bool frozen = false;  // stage 2 has frozen the encoder side
  const auto freeze = [&] {
    if (!frozen) model->freeze_encoder_side();
    frozen = true;
  };
  train::TrainerCallbacks cb;
  cb.micro_step = [&](int64_t micro_step) {
    const int stage = stage_of(micro_step);
    if (stage == 2) freeze();
    std::vector<sp::Spectrum> batch_spectra;
    for (int64_t k = 0; k < std::min(o.batch, n); ++k, ++position) {
      const int64_t epoch = position / n;
      if (epoch != order_epoch) {
        order = epoch_order(n, o.seed, epoch);
        order_epoch = epoch;
      }
      batch_spectra.push_back(train[static_cast<size_t>(order[static_cast<size_t>(position % n)])]);
    }
    const Batch batch = make_batch(*model, batch_spectra, true);
    const double weight = static_cast<double>(micro_step) / static_cast<double>(o.steps);
    const Losses losses = training_losses(*model, batch, stage, std::min(1.0, weight));
    return train::StepResult{losses.total, batch.tokens.ne(0).sum().item<int64_t>()};
  };
  cb.data_state = [&] { return nlohmann::json{{"position", position}}; };
  cb.restore_data_state = [&](const nlohmann::json& j) { position = j.at("position").get<int64_t>(); };
  cb.validate = [&] {
    train::ValidationResult r;
    const int stage = stage_of(trainer_ptr->step() - 1);
    for (size_t start = 0; start < valid.size(); start += static_cast<size_t>(o.batch)) {
      const size_t end = std::min(valid.size(), start + static_cast<size_t>(o.batch));
      const Batch batch = make_batch(*model, {valid.begin() + static_cast<std::ptrdiff_t>(start),
                                              valid.begin() + static_cast<std::ptrdiff_t>(end)}, true);
      const int64_t tokens = batch.tokens.ne(0).sum().item<int64_t>();
      const Losses losses = training_losses(*model, batch, stage, 1.0, 0.0);
      r.loss_sum += losses.ar.item<double>() * static_cast<double>(tokens);
      r.tokens += tokens;
    }
    summary.valid_loss = r.loss_sum / static_cast<double>(std::max<int64_t>(r.tokens, 1));
    return r;
  };
  cb.on_step = [&](const train::StepRecord& rec) { summary.final_loss = rec.loss; };
  train::Trainer trainer(model.ptr(), topt, cb);
  trainer_ptr = &trainer;
  if (o.resume && trainer.resume()) {
    STRAND_LOG_INFO("resumed at step ", trainer.step());
    if (stage_of(trainer.step()) == 2) freeze();
  }
  if (o.until_step > 0 && o.until_step < total) {
    summary.steps = trainer.run(std::max(o.until_step, trainer.step()));
    trainer.save_checkpoint();
    return summary;
  }
  summary.steps = trainer.run();
  nlohmann::json provenance = {{"command_line", o.command_line},
                               {"train", o.train},
                               {"valid", o.valid},
                               {"train_spectra", summary.train_spectra},
                               {"steps", o.steps},
                               {"stage2_steps", o.stage2_steps}};
  model->eval();
  save_denovo_model(o.out + "/model", *model, o.preprocess, provenance);
  return summary;
}

}  // namespace strand::pipelines::denovo

namespace strand::pipelines::denovo {
namespace {

bool is_mzml(const std::string& path) { return sp::spectrum_format(path) == sp::SpectrumFormat::Mzml; }

std::string file_name(const std::string& path) { return fs::path(path).filename().string(); }

}  // namespace

SimulateSummary run_denovo_simulate(const SimulateOptions& o) {
  STRAND_CHECK(!o.fasta.empty(), "denovo simulate: no protein FASTA files (--fasta FILE...)");
  STRAND_CHECK(o.test_fraction >= 0 && o.test_fraction < 1, "denovo simulate: --test-fraction must be in [0, 1), found ",
               o.test_fraction);
  STRAND_CHECK(o.train_spectra >= 1 && o.test_spectra >= 0, "denovo simulate: spectrum counts must be positive");
  o.simulation.validate();
  const sp::ResidueTable table = sp::ResidueTable::casanovo();
  std::vector<std::string> peptides;
  std::set<std::string> seen;
  for (const auto& path : o.fasta)
    for (auto& p : sp::digest_fasta(path, table, o.digest))
      if (seen.insert(p).second) peptides.push_back(std::move(p));
  SimulateSummary summary;
  summary.peptides = static_cast<int64_t>(peptides.size());
  const auto n_test = static_cast<int64_t>(std::floor(o.test_fraction * static_cast<double>(peptides.size())));
  STRAND_CHECK(static_cast<int64_t>(peptides.size()) - n_test >= 1 && (o.test_fraction == 0 || n_test >= 1),
               "denovo simulate: the digest gave ", peptides.size(), " peptide(s), too few for a train/test split");
  const std::vector<int64_t> order = epoch_order(static_cast<int64_t>(peptides.size()), o.seed, 0);
  std::vector<std::string> train;
  std::vector<std::string> test;
  for (size_t i = 0; i < order.size(); ++i)
    (static_cast<int64_t>(i) < n_test ? test : train).push_back(peptides[static_cast<size_t>(order[i])]);
  summary.train_peptides = static_cast<int64_t>(train.size());
  summary.test_peptides = static_cast<int64_t>(test.size());
  sp::write_mgf(o.out + ".train.mgf", sp::simulate_spectra(table, train, o.train_spectra, o.simulation, o.seed));
  if (!test.empty() && o.test_spectra > 0)
    sp::write_mgf(o.out + ".test.mgf", sp::simulate_spectra(table, test, o.test_spectra, o.simulation, o.seed + 1));
  return summary;
}

SequenceSummary run_denovo_sequence(const SequenceOptions& o) {
  STRAND_CHECK(!o.inputs.empty(), "denovo sequence: no spectrum files");
  STRAND_CHECK(o.batch >= 1, "denovo sequence: --batch must be at least 1, found ", o.batch);
  const auto start = std::chrono::steady_clock::now();
  LoadedDenovoModel loaded = load_denovo_model(o.model);
  DenovoModelImpl& model = *loaded.model;
  BeamOptions beam = o.beam;
  if (beam.max_length <= 0) beam.max_length = model.config().max_peptide_length;
  SequenceSummary summary;
  std::vector<sp::Psm> psms;
  Progress progress("denovo sequence", 0, "spectra");
  for (size_t f = 0; f < o.inputs.size(); ++f) {
    const int run = static_cast<int>(f) + 1;
    const bool native = is_mzml(o.inputs[f]);
    auto reader = sp::open_spectra(o.inputs[f]);
    std::vector<sp::Spectrum> pending;
    std::vector<sp::Psm> identities;
    const auto flush = [&] {
      if (pending.empty()) return;
      const Batch batch = make_batch(model, pending, false);
      const std::vector<Prediction> predictions = beam_search(model, batch, beam);
      for (size_t i = 0; i < predictions.size(); ++i) {
        if (predictions[i].tokens.empty()) {
          ++summary.no_peptide;
          continue;
        }
        sp::Psm psm = identities[i];
        psm.tokens = predictions[i].tokens;
        psm.score = predictions[i].score;
        psm.aa_scores = predictions[i].aa_scores;
        psms.push_back(std::move(psm));
        ++summary.sequenced;
      }
      progress.add(static_cast<int64_t>(pending.size()));
      pending.clear();
      identities.clear();
    };
    sp::Spectrum s;
    while (reader->next(s)) {
      if (s.ms_level != 2) continue;
      ++summary.spectra;
      sp::Psm identity = sp::psm_for_spectrum(s, run, native);
      const std::string reason = sp::preprocess(s, loaded.preprocess);
      if (!reason.empty()) {
        ++summary.skipped[count_key(reason)];
        continue;
      }
      pending.push_back(std::move(s));
      identities.push_back(std::move(identity));
      if (static_cast<int64_t>(pending.size()) == o.batch) flush();
    }
    flush();
    for (const auto& [reason, count] : reader->stats().reasons) summary.skipped["unreadable record: " + reason] += count;
  }
  progress.finish();
  sp::MztabHeader header;
  header.runs = o.inputs;
  header.command_line = o.command_line;
  header.settings = {{"model", o.model},
                     {"beams", std::to_string(beam.beams)},
                     {"max_length", std::to_string(beam.max_length)},
                     {"min_length", std::to_string(beam.min_length)},
                     {"mass_constrained", beam.mass_constrained ? "true" : "false"},
                     {"precursor_tolerance_ppm", std::to_string(beam.tolerance_ppm)},
                     {"max_isotope", std::to_string(beam.max_isotope)},
                     {"preprocess", preprocess_json(loaded.preprocess).dump()}};
  sp::write_mztab(o.output, header, model.table(), psms);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

sp::EvaluationResult run_denovo_evaluate(const EvaluateOptions& o) {
  STRAND_CHECK(!o.spectra.empty(), "denovo evaluate: no annotated spectrum files");
  // The PSM section of the mzTab: (run, spectrum reference) -> (peptide, score).
  io::TextLines lines = io::TextLines::open(o.predictions);
  std::map<std::pair<int, std::string>, std::pair<std::string, double>> predicted;
  std::map<int, std::string> locations;
  std::vector<std::string> columns;
  std::vector<std::string> fields;
  std::string_view line;
  const auto column = [&](const std::string& name) -> size_t {
    const auto it = std::find(columns.begin(), columns.end(), name);
    if (it == columns.end())
      throw ParseError("'" + o.predictions + "': the PSH line has no column '" + name + "' (not an mzTab from strand?)");
    return static_cast<size_t>(it - columns.begin());
  };
  while (lines.next(line)) {
    io::split_tsv(line, fields);
    const Location where{o.predictions, lines.line_number(), ""};
    if (fields[0] == "MTD" && fields.size() >= 3 && fields[1].rfind("ms_run[", 0) == 0 &&
        fields[1].size() > 9 && fields[1].compare(fields[1].size() - 9, 9, "-location") == 0) {
      locations[std::atoi(fields[1].c_str() + 7)] = fields[2];
    } else if (fields[0] == "PSH") {
      columns = fields;
    } else if (fields[0] == "PSM") {
      if (columns.empty()) throw ParseError(where, "a PSM row before the PSH header");
      if (fields.size() != columns.size())
        throw ParseError(where, "expected " + std::to_string(columns.size()) + " fields as in the PSH, found " +
                                    std::to_string(fields.size()));
      const std::string& ref = fields[column("spectra_ref")];
      const size_t colon = ref.find(':');
      if (ref.rfind("ms_run[", 0) != 0 || colon == std::string::npos)
        throw ParseError(where, "spectra_ref must be ms_run[k]:<reference>, found '" + ref + "'");
      const int run = std::atoi(ref.c_str() + 7);
      const std::string& peptide = fields[column("opt_global_cv_MS:1003169_proforma_peptidoform_sequence")];
      const std::string& score_text = fields[column("search_engine_score[1]")];
      char* stop = nullptr;
      const double score = std::strtod(score_text.c_str(), &stop);
      if (stop == score_text.c_str() || *stop != '\0')
        throw ParseError(where, "search_engine_score[1] must be a number, found '" + score_text + "'");
      predicted[{run, ref.substr(colon + 1)}] = {peptide, score};
    }
  }
  for (size_t f = 0; f < o.spectra.size(); ++f) {
    const auto it = locations.find(static_cast<int>(f) + 1);
    if (it == locations.end())
      throw ConfigError("'" + o.predictions + "' declares no ms_run[" + std::to_string(f + 1) + "] for '" + o.spectra[f] +
                        "' (give the spectrum files in the order they were sequenced)");
    if (file_name(it->second) != file_name(o.spectra[f]))
      throw ConfigError("'" + o.predictions + "': ms_run[" + std::to_string(f + 1) + "] is '" + it->second +
                        "' but the spectrum file given in that place is '" + o.spectra[f] +
                        "' (give the files in the order they were sequenced)");
  }
  std::vector<sp::PsmRecord> records;
  for (size_t f = 0; f < o.spectra.size(); ++f) {
    const bool native = is_mzml(o.spectra[f]);
    auto reader = sp::open_spectra(o.spectra[f]);
    sp::Spectrum s;
    while (reader->next(s)) {
      if (s.ms_level != 2 || s.peptide.empty()) continue;
      const std::string ref = native ? s.id : "index=" + std::to_string(s.index);
      const auto it = predicted.find({static_cast<int>(f) + 1, ref});
      sp::PsmRecord r;
      r.true_peptide = s.peptide;
      if (it != predicted.end()) {
        r.predicted_peptide = it->second.first;
        r.score = it->second.second;
      }
      records.push_back(std::move(r));
    }
  }
  STRAND_CHECK(!records.empty(), "denovo evaluate: the spectrum files hold no annotated MS2 spectra (no SEQ= lines)");
  const sp::ResidueTable table = o.model.empty() ? sp::ResidueTable::casanovo() : load_denovo_model(o.model).model->table();
  sp::EvaluationResult result = sp::evaluate_psms(records, table, o.match);
  const nlohmann::json metrics = {{"predictions", o.predictions},
                                  {"spectra", o.spectra},
                                  {"annotated", result.n_annotated},
                                  {"predicted", result.n_predicted},
                                  {"aa_precision", result.aa_precision},
                                  {"aa_recall", result.aa_recall},
                                  {"peptide_recall", result.peptide_recall},
                                  {"peptide_precision", result.peptide_precision},
                                  {"aupc", result.aupc},
                                  {"fdr", o.match.fdr},
                                  {"recall_at_fdr", result.recall_at_fdr}};
  io::write_file_atomic(o.out + ".json", metrics.dump(2) + "\n");
  sp::write_curve_csv(o.out + ".curve.csv", result.curve);
  io::Chart chart;
  chart.title = "Precision-coverage (" + std::to_string(result.n_annotated) + " annotated spectra)";
  chart.x_label = "coverage";
  chart.y_label = "peptide precision";
  chart.x_min = 0, chart.x_max = 1, chart.y_min = 0, chart.y_max = 1;
  char label[64];
  std::snprintf(label, sizeof label, "AUPC %.3f", result.aupc);
  io::ChartSeries series;
  series.name = label;
  for (const auto& p : result.curve) series.points.push_back({p.coverage, p.precision});
  chart.series.push_back(series);
  io::write_svg_line_chart(o.out + ".curve.svg", chart);
  return result;
}

}  // namespace strand::pipelines::denovo
