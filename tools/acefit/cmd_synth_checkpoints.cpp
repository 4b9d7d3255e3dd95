// acefit make-demo-checkpoints DIR [--preset tiny|full] [--tokenizer DIR]
// [--seed N] [--no-lm] [--no-text-encoder] (alias: synth-checkpoints):
// writes a complete checkpoints/ folder in the official ACE-Step 1.5 layout
// with random weights (see io/checkpoint/checkpoint_synth.h). tiny has small dims for
// tests and the demo; full has the real dims, for planning and benchmarks.
// The Qwen3 tokenizer files are copied from --tokenizer, else from
// ACEFIT_QWEN3_TOKENIZER_DIR, else from the folder scripts/fetch-tokenizer
// fills in the source tree; the text encoder's tokenizer.json gets Qwen3-
// Embedding's post_processor ("$A <|endoftext|>"), the LM's a plain ByteLevel
// one, as the real folders have. The folder is built as a hidden sibling
// ".DIR.acefit-tmp-PID" and renamed into place only when complete, so a
// failure or a signal never leaves a half-made folder; a non-empty DIR is
// refused unless --force, and then replaced only after the new one is done.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "cli_common.h"
#include "commands.h"
#include "core/timer.h"
#include "io/checkpoint/checkpoint_synth.h"
#include "io/file/temp_cleanup.h"
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
  bool force = false;
};

namespace fs = std::filesystem;

int synth_fail(const std::string& message, int code) {
  return report_error("make-demo-checkpoints", message, code);
}

// Moves the complete `temp` folder to `target`; an existing `target` (empty,
// or any with --force) is swapped out and then removed.
Status commit_folder(const std::string& temp, const std::string& target, bool exists) {
  if (::rename(temp.c_str(), target.c_str()) == 0) return {};  // a new name or an empty folder
  const int e = errno;
  if (!exists || (e != ENOTEMPTY && e != EEXIST)) {
    return Status(ErrorCode::io,
                  "cannot rename '" + temp + "' to '" + target + "': " + std::strerror(e));
  }
  // A non-empty folder (--force): swap atomically, then remove the old one,
  // which is now under the temp name (the signal handler removes it too).
  if (::renameat2(AT_FDCWD, temp.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    return {};
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return Status(ErrorCode::io,
                  "cannot replace '" + target + "' with '" + temp + "': " + std::strerror(errno));
  }
  // No RENAME_EXCHANGE here: move the old folder aside under a name of the
  // same stale-temp pattern (a later run removes it if we die in between).
  const std::string old = temp + "-old";
  if (::rename(target.c_str(), old.c_str()) != 0) {
    return Status(ErrorCode::io, "cannot move '" + target + "' aside: " + std::strerror(errno));
  }
  if (::rename(temp.c_str(), target.c_str()) != 0) {
    const int rename_error = errno;
    (void)::rename(old.c_str(), target.c_str());
    return Status(ErrorCode::io, "cannot rename '" + temp + "' to '" + target +
                                     "': " + std::strerror(rename_error));
  }
  (void)remove_tree(old.c_str());
  return {};
}

int run_synth(const SynthArgs& args) {
  std::string root = args.root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  const std::string name = fs::path(root).filename().string();
  if (root.empty() || name.empty() || name == "." || name == ".." || root == "/") {
    return synth_fail("the folder path '" + args.root + "' names no folder to write", 2);
  }
  std::error_code error;
  const fs::file_status status = fs::symlink_status(root, error);
  const bool exists = fs::exists(status);
  if (exists && !fs::is_directory(status)) {
    return synth_fail("'" + root + "' exists and is not a folder", 2);
  }
  if (exists && !fs::is_empty(root, error) && !args.force) {
    return synth_fail("'" + root + "' is not empty; pass --force to replace it", 2);
  }
  SyntheticCheckpointOptions options = args.options;
  options.with_lm = !args.no_lm;
  options.with_text_encoder = !args.no_text_encoder;
  options.preset = parse_synthetic_preset(args.preset).value_or(SyntheticPreset::tiny);
  options.tokenizer_dir = args.tokenizer.empty() ? default_tokenizer_dir() : args.tokenizer;
  if (!options.tokenizer_dir.empty() && (options.with_text_encoder || options.with_lm)) {
    if (Status tokenizer = check_tokenizer_dir(options.tokenizer_dir); !tokenizer.ok()) {
      return synth_fail(tokenizer.message(), 2);
    }
  }
  if (options.tokenizer_dir.empty() && options.with_text_encoder) {
    std::fprintf(stderr,
                 "acefit make-demo-checkpoints: warning: no Qwen3 tokenizer files found, so "
                 "none are written and `acefit generate` will refuse this folder; run "
                 "scripts/fetch-tokenizer and pass --tokenizer <the folder it prints>\n");
  }
  std::fprintf(stderr, "acefit make-demo-checkpoints: writing the %s preset to %s%s ...\n",
               args.preset.c_str(), args.root.c_str(),
               options.preset == SyntheticPreset::full      ? " (about 7 GB, a few minutes)"
               : options.preset == SyntheticPreset::xl_full ? " (about 12 GB, a few minutes)"
                                                            : "");
  Stopwatch watch;
  std::string parent = fs::path(root).parent_path().string();
  if (parent.empty()) parent = ".";
  fs::create_directories(parent, error);
  if (error) return synth_fail("cannot create folder '" + parent + "': " + error.message(), 1);
  const std::string prefix = "." + name + ".acefit-tmp-";
  (void)remove_dead_owner_temp_folders(parent, prefix.c_str());
  const std::string temp = parent + "/" + prefix + std::to_string(::getpid());
  install_temp_cleanup_signal_handlers();
  const int slot = register_temp(temp, true);
  (void)remove_tree(temp.c_str());
  Status written;
  if (::mkdir(temp.c_str(), 0755) != 0) {
    written = Status(ErrorCode::io, "cannot create folder '" + temp + "': " + std::strerror(errno));
  }
  if (written.ok()) written = write_synthetic_checkpoints(temp, options);
  // Test hook: fail (or be killed) once everything is written, before the
  // folder is moved into place.
  if (const char* hook = std::getenv("ACEFIT_TEST_SIGNAL_BEFORE_COMMIT"); hook && *hook) {
    std::raise(SIGTERM);
  }
  if (const char* hook = std::getenv("ACEFIT_TEST_FAIL_BEFORE_COMMIT"); hook && *hook) {
    written = Status(ErrorCode::io, "test hook ACEFIT_TEST_FAIL_BEFORE_COMMIT");
  }
  if (written.ok()) written = commit_folder(temp, root, exists);
  (void)remove_tree(temp.c_str());
  unregister_temp(slot);
  if (!written.ok()) return synth_fail(written.to_string(), 1);
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
  command
      ->add_option("--preset", args->preset,
                   "tiny (small dims) or full (the real dims), with the 2B turbo DiT; xl-tiny or "
                   "xl-full: the same with the XL (4B) turbo DiT, acestep-v15-xl-turbo")
      ->check(CLI::IsMember({"tiny", "full", "xl-tiny", "xl-full"}))
      ->default_val("tiny");
  command->add_option("--tokenizer", args->tokenizer,
                      "Folder with the Qwen3 tokenizer files (tokenizer.json, ...)");
  command->add_option("--seed", args->options.seed, "Seed of the random weights")->default_val(1);
  command->add_flag("--no-lm", args->no_lm, "Leave out the 5 Hz LM folder");
  command->add_flag("--force", args->force,
                    "Replace a non-empty folder (once the new one is done)");
  command->add_flag("--no-text-encoder", args->no_text_encoder,
                    "Leave out the Qwen3-Embedding-0.6B folder");
  command->callback([args, &exit_code] { exit_code = run_synth(*args); });
}

}  // namespace acefit::cli
