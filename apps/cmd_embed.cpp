#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/embed.h"
#include "pipelines/embed_merge.h"

namespace strand::apps {

namespace {

// `strand embed merge`: argv starts at "merge"; `line` is the whole command line for provenance.
int cmd_embed_merge(int argc, char** argv, const std::string& line) {
  CommonOptions common;
  pipelines::EmbedMergeOptions o;
  std::vector<std::string> files;
  int64_t buffer_mb = o.buffer_bytes >> 20;
  po::options_description opts("embed merge options");
  opts.add_options()
    ("out,o", po::value<std::string>(&o.output), "merged HDF5 file (without --out: the first positional file)")
    ("shards", po::value<std::vector<std::string>>(&files)->composing(),
     "shard files of one `strand embed --shard i/n` run, i = 0..n-1, each once, in any order (positional)")
    ("gzip", po::value<int>(&o.gzip_level)->default_value(o.gzip_level), "HDF5 deflate level 0..9 (-1 = as the shards)")
    ("buffer-mb", po::value<int64_t>(&buffer_mb)->default_value(buffer_mb), "memory for row buffers, MiB");
  po::positional_options_description positional;
  positional.add("shards", -1);
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand embed merge --out OUT.h5 SHARD.h5... (or: merge OUT.h5 SHARD.h5...)",
                     "Combines the files of a sharded run (strand embed --shard i/n for i = 0..n-1) into one HDF5 "
                     "file with the rows in input order, as one unsharded run writes them; with --tokens data, "
                     "token_offsets are rebased. Checks that every shard is present once, finished (no .partial) "
                     "and written with the same model, layer, pooling, dtype, width, window, input and version. "
                     "Copies in blocks (memory about --buffer-mb). OUT.h5 appears only when complete and records "
                     "this command line and the shard files (attribute merged_from).",
                     opts, common, vm, &positional))
    return 0;
  if (o.output.empty()) {
    if (files.empty())
      throw InputError("embed merge: no output and no shard files given (see 'strand embed merge --help')");
    o.output = files.front();
    files.erase(files.begin());
  }
  if (files.empty()) throw InputError("embed merge: no shard files given (see 'strand embed merge --help')");
  if (buffer_mb <= 0) throw ConfigError("--buffer-mb must be positive");
  o.shards = files;
  o.buffer_bytes = buffer_mb << 20;
  o.command_line = line;
  const auto s = pipelines::run_embed_merge(o);
  std::cerr << "merged " << s.num_shards << " shards: " << s.rows << " rows of " << s.records << " records";
  if (s.tokens > 0) std::cerr << ", " << s.tokens << " token rows";
  std::fprintf(stderr, " (%.2f s)\n", s.seconds);
  std::cerr << "output: " << o.output << "\n";
  return 0;
}

}  // namespace

int cmd_embed(int argc, char** argv) {
  if (argc >= 2 && std::string(argv[1]) == "merge")
    return cmd_embed_merge(argc - 1, argv + 1, command_line(argc, argv));
  CommonOptions common;
  pipelines::EmbedOptions o;
  std::string pooling = "mean";
  std::string dtype = "float32";
  std::string shard = "0/1";
  po::options_description opts("embed options");
  opts.add_options()
    ("model,m", po::value<std::string>(&o.model)->required(), "model directory (config.json, model.safetensors, tokenizer.json)")
    ("input,i", po::value<std::vector<std::string>>(&o.inputs)->composing(),
     "FASTA/FASTQ (plain, gzip, bgzip), SAM, BAM or CRAM file; repeatable")
    ("region,r", po::value<std::vector<std::string>>(&o.regions)->composing(),
     "region chr:beg-end (1-based, inclusive) of an indexed FASTA or BAM/CRAM; repeatable")
    ("reference", po::value<std::string>(&o.read.reference), "reference FASTA for CRAM input")
    ("output,o", po::value<std::string>(&o.output)->required(), "HDF5 output file (.h5)")
    ("layer", po::value<int64_t>(&o.layer)->default_value(-1),
     "layer to read: 0 = embeddings, k = block k's output, -1 = final output (after the last norm)")
    ("pooling", po::value<std::string>(&pooling)->default_value(pooling), "mean, cls, max or last (over real tokens)")
    ("dtype", po::value<std::string>(&dtype)->default_value(dtype), "float32 or float16")
    ("tokens", po::bool_switch(&o.store_tokens), "also store per-token embeddings (token_embeddings + token_offsets)")
    ("window", po::value<int64_t>(&o.window)->default_value(0), "window length in bases (0 = whole sequences)")
    ("stride", po::value<int64_t>(&o.stride)->default_value(0), "window step in bases (0 = window length)")
    ("max-tokens", po::value<int64_t>(&o.max_tokens)->default_value(o.max_tokens), "longest row allowed, in tokens")
    ("batch", po::value<int64_t>(&o.batch_size)->default_value(o.batch_size), "rows per forward pass")
    ("resume", po::bool_switch(&o.resume), "continue OUTPUT.partial left by an interrupted run")
    ("shard", po::value<std::string>(&shard)->default_value(shard),
     "i/n: embed only records i, i+n, i+2n, ... (0-based), for array jobs")
    ("gzip", po::value<int>(&o.gzip_level)->default_value(o.gzip_level), "HDF5 deflate level (0 = none)")
    ("skip-invalid", po::bool_switch(&o.read.skip_invalid), "skip malformed records (counted in the summary)")
    ("require-flags,f", po::value<int>(&o.read.required_flags)->default_value(0), "SAM/BAM/CRAM: keep reads with all these flags")
    ("exclude-flags,F", po::value<int>(&o.read.excluded_flags)->default_value(0), "SAM/BAM/CRAM: drop reads with any of these flags")
    ("min-mapq,Q", po::value<int>(&o.read.min_mapq)->default_value(0), "SAM/BAM/CRAM: minimum mapping quality");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand embed -m MODEL -i FILE -o OUT.h5 [options]",
                     "Writes one pooled embedding per sequence (or per window) from a chosen layer of a model to "
                     "HDF5, with record names and coordinates. The file appears at OUT.h5 only when complete; "
                     "an interrupted run leaves OUT.h5.partial, which --resume continues. The files of a --shard "
                     "run are combined with 'strand embed merge' (see 'strand embed merge --help').",
                     opts, common, vm))
    return 0;
  o.pooling = models::parse_pooling(pooling, "--pooling");
  if (dtype == "float32") o.dtype = pipelines::EmbeddingDtype::Float32;
  else if (dtype == "float16") o.dtype = pipelines::EmbeddingDtype::Float16;
  else throw ConfigError("--dtype must be float32 or float16, got '" + dtype + "'");
  int shard_i = -1, shard_n = -1;
  char extra = 0;
  if (std::sscanf(shard.c_str(), "%d/%d%c", &shard_i, &shard_n, &extra) != 2)
    throw ConfigError("--shard must look like i/n (e.g. 3/10), got '" + shard + "'");
  o.shard = shard_i;
  o.num_shards = shard_n;
  o.command_line = command_line(argc, argv);
  const auto s = pipelines::run_embed(o);
  std::cerr << "embedded " << s.rows << " rows (" << s.shard_records << " of " << s.records << " records, layer "
            << s.layer << ", dim " << s.dim << ")";
  if (s.resumed_rows > 0) std::cerr << ", " << s.resumed_rows << " rows kept from the interrupted run";
  std::cerr << "\n";
  for (const auto& [reason, n] : s.skipped) std::cerr << "skipped " << n << " records: " << reason << "\n";
  const double secs = s.seconds > 0 ? s.seconds : 1e-9;
  std::fprintf(stderr, "throughput: %.1f rows/s, %.0f tokens/s, %.0f bases/s (%.2f s)\n", s.rows / secs,
               s.tokens / secs, s.bases / secs, s.seconds);
  std::cerr << "output: " << o.output << "\n";
  return 0;
}

}  // namespace strand::apps
