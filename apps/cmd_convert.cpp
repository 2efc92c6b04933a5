#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/convert.h"

namespace strand::apps {

int cmd_convert(int argc, char** argv) {
  CommonOptions common;
  pipelines::ConvertOptions o;
  po::options_description opts("convert options");
  opts.add_options()
    ("source", po::value<std::string>(&o.source)->required(),
     "model directory: strand, Hugging Face ESM/NTv2 (model_type esm), Hugging Face Mamba or Mamba-2 "
     "(model_type mamba/mamba2), or mamba_ssm (config.json with ssm_cfg), with model.safetensors or a sharded "
     "model.safetensors.index.json")
    ("out,o", po::value<std::string>(&o.out)->required(), "new strand model directory (must not exist)")
    ("tokenizer,k", po::value<std::string>(&o.tokenizer),
     "tokenizer spec to attach when the source has none strand reads (e.g. char, caduceus, ntv2-6mer)")
    ("tokenizer-file", po::value<std::string>(&o.tokenizer_file), "tokenizer.json (strand format) to attach instead");
  po::positional_options_description positional;
  positional.add("source", 1);
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand convert SRC --out DIR [options]",
                     "Reads a model directory (strand, Hugging Face ESM / Nucleotide Transformer v2, Hugging Face "
                     "Mamba / Mamba-2, mamba_ssm safetensors), reports what it holds, checks it with a forward pass "
                     "on a short sequence, and writes a strand model directory (config.json with provenance, "
                     "model.safetensors, tokenizer.json) that reproduces its outputs exactly. DIR appears only "
                     "when complete. Hugging Face tokenizer files are not read: give the tokenizer with --tokenizer.",
                     opts, common, vm, &positional))
    return 0;
  o.command_line = command_line(argc, argv);
  const auto s = pipelines::run_convert(o);
  std::cerr << "source: " << o.source << " — " << s.description << "\n"
            << "architecture: " << s.architecture << ", " << s.layers << " blocks (" << s.layout << "), d_model "
            << s.d_model << (s.rcps ? " per strand, RCPS features " + std::to_string(s.hidden_size) : std::string())
            << ", " << (s.causal ? "causal" : "bidirectional") << ", vocabulary " << s.vocab_size << "\n"
            << "parameters: " << s.parameters << "\n"
            << "head: " << s.head << (s.head == "clm" || s.head == "mlm" ? (s.tied_head ? ", tied" : ", untied") : "")
            << "\n";
  std::cerr << "check: " << s.check_tokens << "-token sequence -> outputs [";
  for (size_t i = 0; i < s.check_shape.size(); ++i) std::cerr << (i ? ", " : "") << s.check_shape[i];
  std::cerr << "], finite, reproduced exactly by the written model\n";
  if (s.tokenizer.empty())
    std::cerr << "tokenizer: none written (the source has no tokenizer strand reads); before using the model, "
                 "attach one: strand convert "
              << s.out << " --out NEW_DIR --tokenizer SPEC\n";
  else
    std::cerr << "tokenizer: " << s.tokenizer << "\n";
  std::cerr << "model directory: " << s.out << "\n";
  return 0;
}

}  // namespace strand::apps
