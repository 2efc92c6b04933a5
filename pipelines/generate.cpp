#include "pipelines/generate.h"

#include <ATen/CPUGeneratorImpl.h>
#include <GraphMol/GraphMol.h>

#include <algorithm>
#include <map>

#include "chem/molio.h"
#include "chem/selfies/selfies.h"
#include "libseq/core/error.h"
#include "libseq/core/progress.h"
#include "libseq/core/version.h"
#include "libseq/io/atomic_file.h"
#include "pipelines/model_io.h"

namespace strand::pipelines {

GenerateResult generate(const GenerateOptions& o) {
  STRAND_CHECK(o.modality == "chem", "--modality must be 'chem' (molecules); got '", o.modality, "'");
  STRAND_CHECK(o.samples > 0, "--samples must be > 0, got ", o.samples);
  STRAND_CHECK(o.batch > 0, "--batch must be > 0, got ", o.batch);
  LoadedModel loaded = load_model(o.model);
  const tokenize::Tokenizer& tok = *loaded.tokenizer;
  const std::string type = tok.type();
  if (type != "smiles" && type != "selfies")
    throw ConfigError(o.model + ": --modality chem needs a model with the smiles or selfies tokenizer, this one has '" +
                      tok.spec() + "'");
  const bool selfies = type == "selfies";
  const auto& sp = tok.special_tokens();
  STRAND_CHECK(sp.bos && sp.eos, o.model, ": the tokenizer has no <bos>/<eos> to start and end a molecule");

  std::vector<int32_t> prompt{*sp.bos};
  if (!o.context.empty()) {
    std::string text;
    for (const auto& m : o.context) {
      std::string why;
      STRAND_CHECK(chem::parse_smiles(m, &why) != nullptr, "context molecule '", m, "': ", why);
      text += (selfies ? chem::selfies::encode(m) : m) + ".";
    }
    const auto ids = tok.encode_ids(text, false);
    prompt.insert(prompt.end(), ids.begin(), ids.end());
  }
  infer::SamplingOptions so = o.sampling;
  for (const auto& id : {sp.pad, sp.bos, sp.mask, sp.unk, sp.cls})
    if (id) so.banned.push_back(*id);

  at::Generator gen = at::detail::createCPUGenerator(o.seed);
  GenerateResult result;
  Progress progress("generate", o.samples, "molecules");
  for (int64_t start = 0; start < o.samples; start += o.batch) {
    const int64_t n = std::min(o.batch, o.samples - start);
    const std::vector<std::vector<int32_t>> prompts(static_cast<size_t>(n), prompt);
    const auto outs = infer::sample(loaded.dir.model, prompts, *sp.eos, so, gen);
    for (const auto& ids : outs) {
      GeneratedMolecule g;
      g.text = tok.decode(ids);
      // After a context, the model may go on with further '.'-joined molecules: keep the first.
      const size_t dot = g.text.find('.');
      if (!o.context.empty() && dot != std::string::npos) g.text.resize(dot);
      std::string smiles = g.text;
      if (selfies) {
        try {
          smiles = chem::selfies::decode(g.text);
        } catch (const chem::selfies::DecoderError&) {
          smiles.clear();
        }
        g.decoded = smiles;
      }
      auto mol = smiles.empty() ? nullptr : chem::parse_smiles(smiles);
      if (mol != nullptr && mol->getNumAtoms() > 0) {
        g.valid = true;
        g.smiles = chem::to_smiles(*mol);
        ++result.valid;
      }
      result.molecules.push_back(std::move(g));
    }
    progress.add(n);
  }
  progress.finish();

  if (!o.out.empty()) {
    const bool sdf = o.out.size() > 4 && (o.out.compare(o.out.size() - 4, 4, ".sdf") == 0 || o.out.compare(o.out.size() - 4, 4, ".SDF") == 0);
    if (sdf) {
      std::vector<chem::MoleculeRecord> records;
      for (size_t i = 0; i < result.molecules.size(); ++i) {
        if (!result.molecules[i].valid) continue;
        chem::MoleculeRecord r;
        r.name = "sample " + std::to_string(i + 1);
        r.smiles = result.molecules[i].smiles;
        r.properties = {{"model", o.model}, {"strand_version", version()}};
        records.push_back(std::move(r));
      }
      chem::write_molecules(o.out, records);
    } else {
      // .selfies: what a SELFIES model wrote; anything else: SMILES as written (a SELFIES
      // model's samples decoded), one line per sample, invalid and empty ones included.
      const bool raw_selfies = o.out.size() > 8 && o.out.compare(o.out.size() - 8, 8, ".selfies") == 0;
      if (raw_selfies && !selfies)
        throw ConfigError(o.model + " writes SMILES: give the output a .smi or .sdf name, not .selfies");
      std::string text;
      for (const auto& g : result.molecules) text += (selfies && !raw_selfies ? g.decoded : g.text) + "\n";
      io::write_file_atomic(o.out, text);
    }
  }
  return result;
}

}  // namespace strand::pipelines
