#include "pipelines/molecules.h"

#include <GraphMol/GraphMol.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>

#include <cctype>
#include <cmath>
#include <memory>
#include <sstream>

#include "chem/fcd.h"
#include "chem/molio.h"
#include "chem/selfies/selfies.h"
#include "libseq/core/error.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"
#include "libseq/io/text_lines.h"

namespace strand::pipelines {
namespace {

std::string first_field(std::string_view line) {
  size_t b = 0;
  while (b < line.size() && std::isspace(static_cast<unsigned char>(line[b])) != 0) ++b;
  size_t e = b;
  while (e < line.size() && std::isspace(static_cast<unsigned char>(line[e])) == 0) ++e;
  return std::string(line.substr(b, e - b));
}

nlohmann::json summary_json(const chem::Summary& s) {
  nlohmann::json j = {{"mean", std::isnan(s.mean) ? nlohmann::json() : nlohmann::json(s.mean)},
                      {"sd", std::isnan(s.sd) ? nlohmann::json() : nlohmann::json(s.sd)}};
  if (s.w1 >= 0) j["w1_to_reference"] = s.w1;
  return j;
}

std::string number(double v) {
  if (std::isnan(v)) return "";
  std::ostringstream s;
  s.precision(6);
  s << v;
  return s.str();
}

}  // namespace

std::vector<std::string> read_smiles_list(const std::string& path, bool keep_empty) {
  std::string name = path;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.size() > 3 && name.compare(name.size() - 3, 3, ".gz") == 0) name.resize(name.size() - 3);
  const bool selfies_list = name.size() > 8 && name.compare(name.size() - 8, 8, ".selfies") == 0;
  std::vector<std::string> out;
  if (!selfies_list && chem::molecule_format(path) != chem::MoleculeFormat::Smi) {
    for (auto& r : chem::read_molecules(path)) out.push_back(std::move(r.smiles));
    return out;
  }
  io::TextLines lines = io::TextLines::open(path);
  std::string_view line;
  while (lines.next(line)) {
    std::string s = first_field(line);
    if (s.empty() ? !keep_empty : s[0] == '#') continue;
    out.push_back(std::move(s));
  }
  return out;
}

ConvertMoleculesResult convert_molecules(const ConvertMoleculesOptions& o) {
  ConvertMoleculesResult r;
  std::string lower = o.out;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool selfies = lower.size() > 8 && lower.compare(lower.size() - 8, 8, ".selfies") == 0;
  const bool lines = selfies || chem::molecule_format(o.out) == chem::MoleculeFormat::Smi;
  chem::MoleculeReader reader(o.input, o.read);
  chem::MoleculeRecord m;
  if (lines) {
    io::AtomicFile file(o.out);
    std::string line;
    while (reader.next(m)) {
      line = m.smiles;
      if (selfies) {
        try {
          line = chem::selfies::encode(m.smiles);
        } catch (const chem::selfies::EncoderError&) {
          ++r.encoder_errors;
          continue;
        }
      }
      for (auto& c : m.name)
        if (std::isspace(static_cast<unsigned char>(c)) != 0) c = '_';
      file.write(line + (m.name.empty() ? "" : " " + m.name) + "\n");
      ++r.written;
    }
    file.commit();
  } else {
    std::vector<chem::MoleculeRecord> records;
    while (reader.next(m)) records.push_back(std::move(m));
    chem::write_molecules(o.out, records);
    r.written = static_cast<int64_t>(records.size());
  }
  r.stats = reader.stats();
  return r;
}

EvaluateMoleculesResult evaluate_molecules(const EvaluateMoleculesOptions& o) {
  std::vector<std::string> samples = read_smiles_list(o.samples, true);
  int64_t selfies_errors = 0;
  if (o.selfies) {
    for (auto& s : samples) {
      try {
        s = chem::selfies::decode(s);
      } catch (const chem::selfies::DecoderError&) {
        s = "\x01";  // never parses: counted invalid, not empty
        ++selfies_errors;
      }
    }
  }
  const std::vector<std::string> training = o.training.empty() ? std::vector<std::string>() : read_smiles_list(o.training, false);
  const std::vector<std::string> reference = o.reference.empty() ? std::vector<std::string>() : read_smiles_list(o.reference, false);
  std::unique_ptr<chem::SaScorer> sa;
  if (o.sa_fpscores != "none") sa = std::make_unique<chem::SaScorer>(o.sa_fpscores.empty() ? chem::SaScorer::default_path() : o.sa_fpscores);
  chem::GenerationMetricsOptions mo;
  mo.empty_is_valid = o.empty_is_valid;
  mo.sa = sa.get();
  EvaluateMoleculesResult r;
  r.metrics = chem::evaluate_molecules(samples, training, reference, mo);
  if (!o.chemnet.empty()) {
    STRAND_CHECK(!reference.empty(), "--chemnet needs --reference: FCD compares the samples with a reference set");
    const auto net = chem::ChemNet::load(o.chemnet);
    const auto canonical_valid = [](const std::vector<std::string>& smiles) {
      std::vector<std::string> out;
      for (const auto& s : smiles) {
        const auto mol = s.empty() ? nullptr : chem::parse_smiles(s);
        if (mol != nullptr && mol->getNumAtoms() > 0) out.push_back(RDKit::MolToSmiles(*mol));
      }
      return out;
    };
    r.fcd = chem::frechet_distance(chem::gaussian_stats(net.activations(canonical_valid(samples))),
                                   chem::gaussian_stats(net.activations(canonical_valid(reference))));
  }
  const auto& m = r.metrics;
  const auto opt = [](double v) { return v < 0 ? nlohmann::json() : nlohmann::json(v); };
  r.json = {{"samples", m.samples},
            {"empty", m.empty},
            {"empty_is_valid", o.empty_is_valid},
            {"valid", m.valid},
            {"unique", m.unique},
            {"validity", m.validity},
            {"uniqueness", m.uniqueness},
            {"novel", o.training.empty() ? nlohmann::json() : nlohmann::json(m.novel)},
            {"novelty", opt(m.novelty)},
            {"int_div1", m.int_div1},
            {"int_div2", m.int_div2},
            {"snn", opt(m.snn)},
            {"frag", opt(m.frag)},
            {"scaf", opt(m.scaf)},
            {"logp", summary_json(m.logp)},
            {"mw", summary_json(m.mw)},
            {"tpsa", summary_json(m.tpsa)},
            {"qed", summary_json(m.qed)},
            {"sa", sa ? summary_json(m.sa) : nlohmann::json()},
            {"fcd", opt(r.fcd)},
            {"fingerprint", "Morgan radius 2, 1024 bits"},
            {"inputs", {{"samples", o.samples}, {"training", o.training}, {"reference", o.reference}, {"selfies", o.selfies}, {"chemnet", o.chemnet}}},
            {"provenance", {{"version", version()}, {"git_hash", git_hash()}, {"command_line", o.command_line}}}};
  if (o.selfies) r.json["selfies_decode_errors"] = selfies_errors;
  if (!o.out.empty()) io::write_file_atomic(o.out, r.json.dump(2) + "\n");
  if (!o.properties.empty()) {
    std::string tsv = "sample\tsmiles\tvalid\tlogp\tmw\ttpsa\tqed\tsa\n";
    for (size_t i = 0; i < samples.size(); ++i) {
      const std::string& s = samples[i];
      auto mol = s.empty() ? nullptr : chem::parse_smiles(s);
      tsv += std::to_string(i + 1) + "\t";
      if (mol == nullptr || mol->getNumAtoms() == 0) {
        tsv += (s == "\x01" ? std::string() : s) + "\t0\t\t\t\t\t\n";
        continue;
      }
      const auto p = chem::molecule_properties(*mol, sa.get());
      tsv += RDKit::MolToSmiles(*mol) + "\t1\t" + number(p.logp) + "\t" + number(p.mw) + "\t" + number(p.tpsa) + "\t" +
             number(p.qed) + "\t" + number(p.sa) + "\n";
    }
    io::write_file_atomic(o.properties, tsv);
  }
  return r;
}

}  // namespace strand::pipelines
