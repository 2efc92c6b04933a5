// strand generate: sample molecules from a chemical language model.
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "pipelines/generate.h"
#include "pipelines/molecules.h"

namespace strand::apps {

int cmd_generate(int argc, char** argv) {
  CommonOptions common;
  pipelines::GenerateOptions o;
  std::string context_file;
  po::options_description opts("generate options");
  opts.add_options()
    ("model,m", po::value<std::string>(&o.model)->required(), "causal language model directory (strand pretrain --objective clm)")
    ("modality", po::value<std::string>(&o.modality)->default_value("chem"), "what to generate: chem (molecules)")
    ("samples,n", po::value<int64_t>(&o.samples)->default_value(100), "number of samples")
    ("batch", po::value<int64_t>(&o.batch)->default_value(64), "samples decoded together")
    ("temperature", po::value<double>(&o.sampling.temperature)->default_value(1.0, "1.0"), "softmax temperature (> 0)")
    ("top-k", po::value<int64_t>(&o.sampling.top_k)->default_value(0), "sample among the k most likely tokens (0 = all)")
    ("top-p", po::value<double>(&o.sampling.top_p)->default_value(1.0, "1.0"),
     "nucleus sampling: the smallest set of tokens with probability >= p (1 = all)")
    ("max-tokens", po::value<int64_t>(&o.sampling.max_new_tokens)->default_value(128), "tokens per sample at most")
    ("context", po::value<std::string>(&context_file),
     "condition in context on these molecules (a .smi/.csv/.sdf file), joined with '.' as the prompt")
    ("out,o", po::value<std::string>(&o.out),
     "write the samples: .smi/.txt one SMILES per line as written, a SELFIES model's samples decoded "
     "(invalid and empty ones included, for evaluate-molecules); .selfies the SELFIES a SELFIES model "
     "wrote; or .sdf (valid molecules with 2D coordinates)");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand generate -m MODEL [-n N] [--context FILE] -o OUT [options]",
                     "Samples molecules from a causal SMILES or SELFIES language model with temperature, top-k and "
                     "top-p sampling, in batches, reproducibly under --seed. With --context, the prompt is the given "
                     "molecules joined with '.', so the model continues the set (in-context generation of Chem-xLSTM); "
                     "the first molecule after the prompt is kept. Prints the share of valid samples.",
                     opts, common, vm))
    return 0;
  o.seed = common.seed;
  o.command_line = command_line(argc, argv);
  if (!context_file.empty()) o.context = pipelines::read_smiles_list(context_file, false);
  const auto r = pipelines::generate(o);
  std::cerr << r.molecules.size() << " samples, " << r.valid << " valid ("
            << (r.molecules.empty() ? 0.0 : 100.0 * static_cast<double>(r.valid) / static_cast<double>(r.molecules.size()))
            << " %)" << (o.out.empty() ? "" : ", written to " + o.out) << "\n";
  if (o.out.empty())
    for (const auto& g : r.molecules) std::cout << g.text << "\n";
  return 0;
}

}  // namespace strand::apps
