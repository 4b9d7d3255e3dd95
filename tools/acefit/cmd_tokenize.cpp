// acefit tokenize: placeholder until the command lands.
#include <cstdio>

#include "commands.h"

namespace acefit::cli {

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand("tokenize", "Turn text into Qwen3 token ids, or ids back into text");
  command->callback([&exit_code] {
    std::fprintf(stderr, "acefit tokenize: not available yet\n");
    exit_code = 2;
  });
}

}  // namespace acefit::cli
