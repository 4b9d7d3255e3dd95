// acefit inspect: placeholder until the command lands.
#include <cstdio>

#include "commands.h"

namespace acefit::cli {

void add_inspect_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("inspect", "List and validate the tensors of a safetensors file, index or folder");
  command->callback([&exit_code] {
    std::fprintf(stderr, "acefit inspect: not available yet\n");
    exit_code = 2;
  });
}

}  // namespace acefit::cli
