// The one table of user settings: each row ties a setting to its command-line
// flag, its environment variable (the reference's names, so the ACE-Step
// guide's instructions apply unchanged) and its help text. The CLI builds its
// flags from it, settings resolution reads the environment through it, and
// the server will take its fields from it, so the three cannot drift.
#pragma once

#include <span>
#include <string_view>

namespace acefit {

struct OptionSpec {
  std::string_view setting;  // the settings field it sets ("backend")
  std::string_view flag;     // "--backend"; "" when only the environment sets it
  std::string_view env;      // "ACESTEP_LM_BACKEND"; "" when only the flag sets it
  std::string_view values;   // what it accepts, for help and error messages
  std::string_view help;
  std::string_view default_text = {};  // what applies when nothing sets it, for help
};

std::span<const OptionSpec> option_table();

// The rows of one setting (offload has a flag and two variables).
const OptionSpec* find_option_by_env(std::string_view env);
const OptionSpec* find_option_by_flag(std::string_view flag);

}  // namespace acefit
