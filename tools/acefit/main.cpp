// acefit: run ACE-Step 1.5 music generation within whatever memory a device has.
#include <cstdio>
#include <exception>

#include "commands.h"

int main(int argc, char** argv) {
  try {
    CLI::App app{"acefit: ACE-Step 1.5 music generation that fits the memory of any device",
                 "acefit"};
    app.set_version_flag("--version", std::string("acefit ") + ACEFIT_VERSION);
    app.require_subcommand(1);
    int exit_code = 0;
    acefit::cli::add_devices_command(app, exit_code);
    acefit::cli::add_selfcheck_command(app, exit_code);
    acefit::cli::add_inspect_command(app, exit_code);
    acefit::cli::add_tokenize_command(app, exit_code);
    acefit::cli::add_synth_checkpoints_command(app, exit_code);
    acefit::cli::add_check_gpu_command(app, exit_code);
    acefit::cli::add_config_command(app, exit_code);
    acefit::cli::add_generate_command(app, exit_code);
    acefit::cli::add_plan_command(app, exit_code);
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
      const int code = app.exit(error);
      return code == 0 ? 0 : 2;
    }
    return exit_code;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "acefit: internal error: %s\n", error.what());
    return 70;
  }
}
