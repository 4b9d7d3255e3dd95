// acefit make-demo-checkpoints DIR [--preset tiny|full] [--tokenizer DIR]
// [--seed N] [--no-lm] [--no-text-encoder] (alias: synth-checkpoints):
// writes a complete checkpoints/ folder in the official ACE-Step 1.5 layout
// with random weights (see io/checkpoint/checkpoint_synth.h). tiny has small dims for
// tests and the demo; full has the real dims, for planning and benchmarks.
// The Qwen3 tokenizer files are copied from --tokenizer, else from
// ACEFIT_QWEN3_TOKENIZER_DIR, else from the folder scripts/fetch-tokenizer
// fills in the source tree.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "request_cli.h"
#include "runtime.h"

namespace acefit::cli {

namespace {

struct SynthArgs {
  std::string root;
  std::string preset = "tiny";
  std::string tokenizer;
  SyntheticCheckpointOptions options;
  bool no_lm = false;
  bool no_text_encoder = false;
};

int run_synth(const SynthArgs& args) {
  SyntheticCheckpointOptions options = args.options;
  options.with_lm = !args.no_lm;
  options.with_text_encoder = !args.no_text_encoder;
  options.preset = args.preset == "full" ? SyntheticPreset::full : SyntheticPreset::tiny;
  options.tokenizer_dir = args.tokenizer.empty() ? default_tokenizer_dir() : args.tokenizer;
  if (options.tokenizer_dir.empty() && options.with_text_encoder) {
    std::fprintf(stderr,
                 "acefit make-demo-checkpoints: warning: no Qwen3 tokenizer files found, so "
                 "none are written and `acefit generate` will refuse this folder; run "
                 "scripts/fetch-tokenizer and pass --tokenizer <the folder it prints>\n");
  }
  std::fprintf(stderr, "acefit make-demo-checkpoints: writing the %s preset to %s%s ...\n",
               args.preset.c_str(), args.root.c_str(),
               options.preset == SyntheticPreset::full ? " (about 7 GB, a few minutes)" : "");
  Stopwatch watch;
  const Status status = write_synthetic_checkpoints(args.root, options);
  if (!status.ok()) {
    return report_error("make-demo-checkpoints", status.to_string(), exit_code_for(status));
  }
  std::fprintf(stderr, "acefit make-demo-checkpoints: done in %.1f s\n", watch.elapsed_s());
  std::printf("%s\n", args.root.c_str());
  return 0;
}

}  // namespace

void add_synth_checkpoints_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "make-demo-checkpoints",
      "Write a checkpoints/ folder in the official ACE-Step 1.5 layout with random weights "
      "(configs, weights, tokenizer files, silence_latent.pt)");
  command->alias("synth-checkpoints");
  auto args = std::make_shared<SynthArgs>();
  command->add_option("dir", args->root, "Folder to write (created if missing)")->required();
  command->add_option("--preset", args->preset, "tiny (small dims) or full (the real dims)")
      ->check(CLI::IsMember({"tiny", "full"}))
      ->default_val("tiny");
  command->add_option("--tokenizer", args->tokenizer,
                      "Folder with the Qwen3 tokenizer files (tokenizer.json, ...)");
  command->add_option("--seed", args->options.seed, "Seed of the random weights")->default_val(1);
  command->add_flag("--no-lm", args->no_lm, "Leave out the 5 Hz LM folder");
  command->add_flag("--no-text-encoder", args->no_text_encoder,
                    "Leave out the Qwen3-Embedding-0.6B folder");
  command->callback([args, &exit_code] { exit_code = run_synth(*args); });
}

}  // namespace acefit::cli
