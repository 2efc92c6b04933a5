// strand molecules convert: molecule files from one format to another (SMILES, SELFIES corpora,
// CSV/TSV, SDF), through RDKit.
#include <cstring>
#include <iostream>

#include "apps/commands.h"
#include "apps/options.h"
#include "libseq/core/error.h"
#include "pipelines/molecules.h"

namespace strand::apps {
namespace {

int run_convert(int argc, char** argv) {
  CommonOptions common;
  pipelines::ConvertMoleculesOptions o;
  bool no_header = false;
  bool no_canonical = false;
  po::options_description opts("molecules convert options");
  opts.add_options()
    ("input,i", po::value<std::string>(&o.input)->required(),
     "molecules: .smi/.smiles/.txt, .csv/.tsv (with a SMILES column) or .sdf/.sd/.mol, optionally .gz")
    ("out,o", po::value<std::string>(&o.out)->required(),
     "output: .smi (SMILES name), .selfies (SELFIES name: a SELFIES training corpus), .csv, .tsv or .sdf")
    ("smiles-column", po::value<std::string>(&o.read.smiles_column), "CSV/TSV SMILES column: header name or 1-based number")
    ("name-column", po::value<std::string>(&o.read.name_column), "CSV/TSV name column: header name or 1-based number")
    ("no-header", po::bool_switch(&no_header), "CSV/TSV without a header line (columns by number)")
    ("kekule", po::bool_switch(&o.read.style.kekule), "write Kekulé SMILES")
    ("no-canonical", po::bool_switch(&no_canonical), "keep RDKit's input atom order instead of canonical SMILES")
    ("standardize", po::bool_switch(&o.read.standardize),
     "RDKit MolStandardize charge parent: cleanup, largest fragment, neutralised");
  po::variables_map vm;
  if (!parse_command(argc, argv, "strand molecules convert -i IN -o OUT [options]",
                     "Reads molecules through RDKit and writes them in the format of OUT's extension. Molecules RDKit "
                     "rejects are skipped and counted with their record number; for .selfies output, molecules the "
                     "SELFIES encoder rejects (bonds beyond the default constraints) are skipped and counted too.",
                     opts, common, vm))
    return 0;
  o.read.header = !no_header;
  o.read.style.canonical = !no_canonical;
  const auto r = pipelines::convert_molecules(o);
  std::cerr << r.stats.summary() << "\n" << r.written << " written to " << o.out;
  if (r.encoder_errors > 0) std::cerr << " (" << r.encoder_errors << " rejected by the SELFIES encoder)";
  std::cerr << "\n";
  return 0;
}

}  // namespace

int cmd_molecules(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    (argc < 2 ? std::cerr : std::cout) << "Usage: strand molecules convert -i IN -o OUT [options]   (strand molecules "
                                          "convert --help for details)\n\n  convert   molecule files from one format to "
                                          "another (.smi, .selfies, .csv, .tsv, .sdf)\n";
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  if (sub == "convert") return run_convert(argc - 1, argv + 1);
  throw InputError("unknown 'molecules' subcommand '" + sub + "' (expected convert; see 'strand molecules --help')");
}

}  // namespace strand::apps
