// The subcommands of the `strand` binary. Each lives in apps/cmd_<name>.cpp and receives argv
// starting at its own name.
#pragma once

namespace strand::apps {

int cmd_info(int argc, char** argv);
int cmd_tokenize(int argc, char** argv);
int cmd_pretrain(int argc, char** argv);
int cmd_embed(int argc, char** argv);
int cmd_convert(int argc, char** argv);
int cmd_tasks(int argc, char** argv);
int cmd_finetune(int argc, char** argv);
int cmd_predict(int argc, char** argv);
int cmd_evaluate_molecules(int argc, char** argv);
int cmd_generate(int argc, char** argv);
int cmd_molecules(int argc, char** argv);
int cmd_denovo(int argc, char** argv);

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

/// All subcommands, in the order `strand --help` lists them; terminated by {nullptr, ...}.
const Command* commands();

}  // namespace strand::apps
