// The .env file: KEY=VALUE settings in the working folder, read once at start
// and ranked below the process environment and the command line.
//
//   # comment                 blank lines and comments are skipped
//   export KEY=value          "export " is allowed and ignored
//   KEY=value # note          unquoted: trailing " #..." and spaces dropped
//   KEY="a # b\n"             double quotes: \n \t \" \\ escapes
//   KEY='raw text'            single quotes: taken as written
//
// A malformed line is skipped with a warning naming the file and line; a
// later duplicate wins, also with a warning.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit {

struct DotEnv {
  std::string path;  // the file read; empty when there was none
  std::map<std::string, std::string> values;
  std::vector<std::string> warnings;

  std::optional<std::string> get(std::string_view key) const;
};

DotEnv parse_dotenv(std::string_view text, const std::string& path);

// Reads FOLDER/.env, or FOLDER/.env.example when .env is absent. No file is
// not an error (an empty DotEnv); an unreadable or oversized one is.
Expected<DotEnv> load_dotenv(const std::string& folder);

}  // namespace acefit
