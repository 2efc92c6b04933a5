// strand: one binary, one subcommand per job.
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>

#include "apps/commands.h"
#include "libseq/core/error.h"
#include "libseq/core/system_info.h"
#include "libseq/core/version.h"

namespace strand::apps {

const Command* commands() {
  static const Command table[] = {
      {"info", &cmd_info, "version, LibTorch, BLAS, CUDA and thread information"},
      {"tokenize", &cmd_tokenize, "tokenize FASTA/FASTQ/SAM/BAM/CRAM sequences or regions to token ids"},
      {"pretrain", &cmd_pretrain, "pretrain a model (causal or masked LM) on sequence files"},
      {"embed", &cmd_embed, "write pooled embeddings of sequences or windows to HDF5"},
      {"finetune", &cmd_finetune, "fine-tune a model on a supervised task (classification or regression)"},
      {"predict", &cmd_predict, "apply a fine-tuned model to new sequences"},
      {"convert", &cmd_convert, "import a model directory (Hugging Face ESM/NTv2, Mamba, mamba_ssm)"},
      {"tasks", &cmd_tasks, "list or build real supervised tasks from Debian data packages"},
      {"molecules", &cmd_molecules, "convert molecule files (SMILES, SELFIES corpora, CSV/TSV, SDF) through RDKit"},
      {"denovo", &cmd_denovo, "de novo peptide sequencing from MS/MS spectra: simulate, train, sequence (mzTab), evaluate"},
      {"generate", &cmd_generate, "sample molecules from a chemical language model (SMILES or SELFIES)"},
      {"evaluate-molecules", &cmd_evaluate_molecules, "validity, novelty, diversity and properties of generated molecules"},
      {nullptr, nullptr, nullptr},
  };
  return table;
}

namespace {
void print_usage(std::ostream& os) {
  os << "strand " << strand::version() << " — genomic and molecular sequence modeling\n\n"
     << "Usage: strand <command> [options]   (strand <command> --help for details)\n\nCommands:\n";
  for (const Command* c = commands(); c->name != nullptr; ++c) {
    os << "  " << c->name << std::string(std::strlen(c->name) < 20 ? 20 - std::strlen(c->name) : 1, ' ') << c->summary << "\n";
  }
}

/// OpenBLAS chooses its kernels when it loads, before main. When it chose kernels older than the
/// CPU (Debian 12's OpenBLAS 0.3.21 runs its SSE3 kernels on CPUs newer than its release, 6-7x
/// slower matrix products), strand runs itself again with OPENBLAS_CORETYPE set to the kernels
/// that use the CPU's vector units. Setting OPENBLAS_CORETYPE, or STRAND_KEEP_BLAS_CORE=1, keeps
/// OpenBLAS's own choice; a failed exec leaves it too.
void use_the_cpus_blas_kernels(char** argv) {
  if (std::getenv("STRAND_KEEP_BLAS_CORE") != nullptr) return;
  const std::string hint = strand::openblas_coretype_hint();  // "" once OPENBLAS_CORETYPE is set
  if (hint.empty()) return;
  if (::setenv("OPENBLAS_CORETYPE", hint.c_str(), 1) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("OPENBLAS_CORETYPE");
}

}  // namespace

}  // namespace strand::apps

int main(int argc, char** argv) {
  using namespace strand::apps;
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    print_usage(std::cout);
    return 0;
  }
  if (name == "--version" || name == "version") {
    std::cout << "strand " << strand::version() << " (git " << strand::git_hash() << ")\n";
    return 0;
  }
  use_the_cpus_blas_kernels(argv);  // after the answers that need no computing
  for (const Command* c = commands(); c->name != nullptr; ++c) {
    if (name != c->name) continue;
    try {
      return c->run(argc - 1, argv + 1);
    } catch (const strand::InternalError& e) {
      std::cerr << "strand " << name << ": " << e.what() << "\n";
      return 70;
    } catch (const strand::Error& e) {
      std::cerr << "strand " << name << ": error: " << e.what() << "\n";
      return 1;
    } catch (const std::exception& e) {
      std::cerr << "strand " << name << ": error: " << e.what() << "\n";
      return 1;
    }
  }
  std::cerr << "strand: unknown command '" << name << "'\n\n";
  print_usage(std::cerr);
  return 2;
}
