#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/registry.h"
#include "pipelines/tokenize.h"

namespace strand::apps {

int cmd_tokenize(int argc, char** argv) {
  CommonOptions common;
  pipelines::TokenizeOptions o;
  std::string format = "auto";
  bool stats = false;
  bool no_special = false;
  bool drop_last = false;
  bool list = false;
  po::options_description opts("tokenize options");
  opts.add_options()
    ("input,i", po::value<std::vector<std::string>>(&o.inputs)->composing(),
     "FASTA/FASTQ (plain, gzip, bgzip), SAM, BAM or CRAM file; repeatable")
    ("region,r", po::value<std::vector<std::string>>(&o.regions)->composing(),
     "region chr:beg-end (1-based, inclusive) of an indexed FASTA or BAM/CRAM; repeatable")
    ("reference", po::value<std::string>(&o.reference), "reference FASTA for CRAM input")
    ("tokenizer,k", po::value<std::string>(&o.tokenizer)->default_value(o.tokenizer),
     "tokenizer spec: char, ntv2-6mer, caduceus, kmer-overlap:K, codon[:frame=F,table=T], protein")
    ("tokenizer-file", po::value<std::string>(&o.tokenizer_file), "load the tokenizer from a tokenizer.json")
    ("list-tokenizers", po::bool_switch(&list), "list the tokenizer types and exit")
    ("output,o", po::value<std::string>(&o.output)->default_value(o.output),
     "output file: *.jsonl, *.safetensors, or - for JSONL on stdout")
    ("format", po::value<std::string>(&format)->default_value(format), "auto, jsonl, safetensors or none")
    ("window", po::value<int64_t>(&o.window)->default_value(0), "window length in bases (0 = whole sequences)")
    ("stride", po::value<int64_t>(&o.stride)->default_value(0), "window step in bases (0 = window length)")
    ("drop-last", po::bool_switch(&drop_last), "drop the final window when it is shorter than --window")
    ("no-special", po::bool_switch(&no_special), "do not add the tokenizer's special tokens (e.g. <cls>)")
    ("offsets", po::bool_switch(&o.offsets), "JSONL: add per-token [begin, end) offsets")
    ("skip-invalid", po::bool_switch(&o.skip_invalid), "skip malformed records (counted in the summary)")
    ("require-flags,f", po::value<int>(&o.required_flags)->default_value(0), "SAM/BAM/CRAM: keep reads with all these flags")
    ("exclude-flags,F", po::value<int>(&o.excluded_flags)->default_value(0), "SAM/BAM/CRAM: drop reads with any of these flags")
    ("min-mapq,Q", po::value<int>(&o.min_mapq)->default_value(0), "SAM/BAM/CRAM: minimum mapping quality")
    ("original-orientation", po::bool_switch(&o.original_orientation),
     "SAM/BAM/CRAM: reverse-complement reverse-strand reads back to their sequenced orientation")
    ("stats", po::bool_switch(&stats), "print statistics (records, GC, tokens, vocabulary use, speed) to stderr");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand tokenize -i FILE [-r REGION] [options]",
                     "Tokenizes sequences into token ids. Input format is detected from the content; long "
                     "sequences can be cut into windows whose coordinates are recorded with the ids.",
                     opts, common, vm))
    return 0;
  if (list) {
    std::cout << pipelines::tokenizer_registry().describe();
    return 0;
  }
  if (format == "jsonl") o.format = pipelines::TokenOutputFormat::Jsonl;
  else if (format == "safetensors") o.format = pipelines::TokenOutputFormat::Safetensors;
  else if (format == "none") o.format = pipelines::TokenOutputFormat::None;
  else STRAND_CHECK(format == "auto", "--format must be auto, jsonl, safetensors or none (got '", format, "')");
  o.add_special_tokens = !no_special;
  o.keep_last_partial = !drop_last;
  o.command_line = command_line(argc, argv);
  const auto summary = pipelines::run_tokenize(o);
  if (stats || common.log_level == "debug") std::cerr << pipelines::format_summary(summary);
  return 0;
}

}  // namespace strand::apps
