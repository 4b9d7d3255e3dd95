// acefit synth-checkpoints DIR [--seed N] [--no-lm] [--no-text-encoder]:
// writes a small synthetic checkpoints/ folder in the real ACE-Step 1.5
// layout (see io/checkpoint_synth.h), for tests, the demo and trying acefit
// without downloading the real weights.
#include <cstdio>
#include <memory>
#include <string>

#include "commands.h"
#include "io/checkpoint_synth.h"

namespace acefit::cli {

namespace {

struct SynthArgs {
  std::string root;
  SyntheticCheckpointOptions options;
  bool no_lm = false;
  bool no_text_encoder = false;
};

int run_synth(const SynthArgs& args) {
  SyntheticCheckpointOptions options = args.options;
  options.with_lm = !args.no_lm;
  options.with_text_encoder = !args.no_text_encoder;
  std::fprintf(stderr, "acefit synth-checkpoints: writing %s ...\n", args.root.c_str());
  const Status status = write_synthetic_checkpoints(args.root, options);
  if (!status.ok()) {
    std::fprintf(stderr, "acefit synth-checkpoints: %s\n", status.to_string().c_str());
    return 2;
  }
  std::printf("%s\n", args.root.c_str());
  return 0;
}

}  // namespace

void add_synth_checkpoints_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "synth-checkpoints",
      "Write a small synthetic checkpoints/ folder in the real ACE-Step 1.5 layout");
  auto args = std::make_shared<SynthArgs>();
  command->add_option("dir", args->root, "Folder to write (created if missing)")->required();
  command->add_option("--seed", args->options.seed, "Seed of the random weights")->default_val(1);
  command->add_flag("--no-lm", args->no_lm, "Leave out the 5 Hz LM folder");
  command->add_flag("--no-text-encoder", args->no_text_encoder,
                    "Leave out the Qwen3-Embedding-0.6B folder");
  command->callback([args, &exit_code] { exit_code = run_synth(*args); });
}

}  // namespace acefit::cli
