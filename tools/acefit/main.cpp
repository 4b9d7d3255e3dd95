// acefit: run ACE-Step 1.5 music generation within whatever memory a device has.
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "cli_common.h"
#include "commands.h"

namespace {

// Levenshtein distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> command_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
    names.push_back(sub->get_name());
  return names;
}

// The names and aliases a command word may be.
bool is_command(const CLI::App& app, const std::string& word) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(word)) return true;
  }
  return false;
}

// The first argument that is not an option: the command the user meant.
const char* first_word(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
  }
  return nullptr;
}

std::string unknown_command_message(const std::string& word,
                                    const std::vector<std::string>& names) {
  std::string message = "unknown command '" + word + "'";
  std::string best;
  std::size_t best_distance = 3;  // suggest only close names
  for (const std::string& name : names) {
    const std::size_t d = edit_distance(word, name);
    if (d < best_distance || (word.size() >= 3 && name.rfind(word, 0) == 0 && best.empty())) {
      best = name;
      best_distance = std::min(d, best_distance);
    }
  }
  if (!best.empty()) message += " (did you mean '" + best + "'?)";
  std::string all;
  for (const std::string& name : names) all += (all.empty() ? "" : ", ") + name;
  return message + "; the commands are " + all;
}

// Whatever a command printed must have reached standard output.
int check_stdout(const std::string& command, int exit_code) {
  errno = 0;
  const bool flushed = std::fflush(stdout) == 0;
  if (flushed && std::ferror(stdout) == 0) return exit_code;
  const int error = errno;
  acefit::cli::report_error(command,
                            std::string("cannot write to standard output: ") +
                                (error != 0 ? std::strerror(error) : "write error"),
                            acefit::cli::kExitRunFailed);
  return exit_code != 0 ? exit_code : acefit::cli::kExitRunFailed;
}

// glibc's malloc backs its heap with transparent huge pages when the tunable
// glibc.malloc.hugetlb=1 is set as the process starts: reading the 11 MB
// tokenizer.json and building its tables then takes half the page faults
// (`plan --preset full`: 0.71 s -> 0.42 s on a 2-core VM, where a page fault
// costs ~15 us; docs/PERFORMANCE.md). Tunables are read only at start, so
// acefit restarts itself once, same pid and arguments, with the tunable set,
// unless GLIBC_TUNABLES is already set (set it, even empty, to opt out).
// Not under AddressSanitizer, whose allocator ignores it.
void restart_with_huge_pages(char** argv) {
#if !defined(__SANITIZE_ADDRESS__)
  if (std::getenv("GLIBC_TUNABLES") != nullptr) return;
  if (::setenv("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1", 0) != 0) return;
  ::execv("/proc/self/exe", argv);
  ::unsetenv("GLIBC_TUNABLES");  // the restart failed: carry on as we are
#else
  (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
  restart_with_huge_pages(argv);
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
    acefit::cli::add_profile_command(app, exit_code);
    acefit::cli::add_serve_command(app, exit_code);
    const std::vector<std::string> names = command_names(app);
    // The command, as far as the words say: errors are "acefit CMD: error: ...".
    std::string command;
    if (const char* word = first_word(argc, argv); word != nullptr) {
      if (!is_command(app, word)) {
        std::fprintf(stderr, "acefit: error: %s\n", unknown_command_message(word, names).c_str());
        return acefit::cli::kExitBadInput;
      }
      command = word;
      for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; }))
        if (sub->check_name(word)) command = sub->get_name();
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::Success& success) {
      return check_stdout(command.empty() ? "" : command, app.exit(success));
    } catch (const CLI::ParseError& error) {
      const std::string where = command.empty() ? "acefit" : "acefit " + command;
      std::fprintf(stderr, "%s: error: %s (see %s --help)\n", where.c_str(), error.what(),
                   where.c_str());
      return acefit::cli::kExitBadInput;
    }
    return check_stdout(command, exit_code);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "acefit: internal error: %s\n", error.what());
    return 70;
  }
}
