// acefit tokenize: Qwen3 text -> token ids, or ids -> text (--decode), with
// the tokenizer files of a model folder (tokenizer.json, or vocab.json +
// merges.txt).
//   acefit tokenize --tokenizer DIR [--json] [--no-special-tokens] TEXT
//   acefit tokenize --tokenizer DIR [--json] [--no-special-tokens] --file PATH
//   acefit tokenize --tokenizer DIR --decode "9707, 1879" | 9707 1879
// Encoding adds the post-processor's special tokens (tokenizer.json's
// TemplateProcessing, e.g. Qwen3-Embedding's trailing <|endoftext|>) as
// Hugging Face does by default; --no-special-tokens leaves them out.
// Bad input (invalid UTF-8, an unknown id, unreadable files) prints one line
// on stderr and exits 2.
#include <charconv>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "cli_common.h"
#include "commands.h"
#include "io/file/regular_file.h"
#include "io/tokenizer/tokenizer.h"
#include "request_cli.h"

namespace acefit::cli {

namespace {

struct TokenizeArgs {
  std::string tokenizer_dir;
  std::string file;
  bool json = false;
  bool decode = false;
  bool skip_special = false;
  bool no_special_tokens = false;
  std::vector<std::string> inputs;
  // How the command line fills `inputs`: the first word exactly as given
  // (CLI11 would read "[Intro] [x]" in a list option as a list), then any
  // more (ids for --decode).
  std::optional<std::string> first_input;
  std::vector<std::string> more_inputs;
};

int tokenize_fail(const std::string& message) {
  return report_error("tokenize", message, kExitBadInput);
}

// Ids from arguments, each one id or a list separated by commas and/or spaces.
Expected<std::vector<std::int32_t>> parse_ids(const std::vector<std::string>& inputs) {
  std::vector<std::int32_t> ids;
  for (const std::string& input : inputs) {
    std::size_t i = 0;
    while (i < input.size()) {
      const char c = input[i];
      if (c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '[' || c == ']') {
        ++i;
        continue;
      }
      std::size_t end = i;
      while (end < input.size() && input.find_first_of(", \t\n\r[]", end) != end) ++end;
      const std::string_view word = std::string_view(input).substr(i, end - i);
      std::int64_t value = 0;
      const auto [ptr, error] = std::from_chars(word.data(), word.data() + word.size(), value);
      if (error == std::errc::result_out_of_range) {
        return invalid_argument("token id " + std::string(word) + " is out of range");
      }
      if (error != std::errc() || ptr != word.data() + word.size()) {
        return invalid_argument("\"" + std::string(word) + "\" is not a token id");
      }
      if (value < std::numeric_limits<std::int32_t>::min() ||
          value > std::numeric_limits<std::int32_t>::max()) {
        return invalid_argument("token id " + std::string(word) + " is out of range");
      }
      ids.push_back(static_cast<std::int32_t>(value));
      i = end;
    }
  }
  return ids;
}

// Text given with --file: a regular file of at most this size (a FIFO, a
// device such as /dev/zero or a directory is refused before reading).
constexpr std::size_t kMaxTokenizeFileBytes = 16u << 20;

int run_tokenize(const TokenizeArgs& args) {
  // The text file is checked first: bad input fails before anything loads.
  std::string file_text;
  if (!args.file.empty() && !args.decode) {
    if (!args.inputs.empty())
      return tokenize_fail("give the text as an argument or with --file, not both");
    auto read = read_regular_file(args.file, kMaxTokenizeFileBytes, "a text file");
    if (!read.ok()) return tokenize_fail(read.status().message());
    file_text = std::move(read).value();
  }
  auto tokenizer = Tokenizer::load(args.tokenizer_dir);
  if (!tokenizer.ok()) return tokenize_fail(tokenizer.status().to_string());
  if (args.decode) {
    if (!args.file.empty()) return tokenize_fail("--decode takes ids as arguments, not --file");
    auto ids = parse_ids(args.inputs);
    if (!ids.ok()) return tokenize_fail(ids.status().to_string());
    auto text = tokenizer->decode(ids.value(), args.skip_special);
    if (!text.ok()) return tokenize_fail(text.status().to_string());
    if (args.json) {
      std::printf("%s\n", nlohmann::json(text.value()).dump().c_str());
    } else {
      std::fwrite(text->data(), 1, text->size(), stdout);
      std::printf("\n");
    }
    return 0;
  }
  std::string text;
  if (!args.file.empty()) {
    text = std::move(file_text);
  } else if (args.inputs.size() == 1) {
    text = args.inputs[0];
  } else {
    return tokenize_fail(args.inputs.empty() ? "no text given"
                                             : "give the text as one argument (quote it)");
  }
  auto ids = tokenizer->encode(text, !args.no_special_tokens);
  if (!ids.ok()) return tokenize_fail(ids.status().to_string());
  if (args.json) {
    std::printf("%s\n", nlohmann::json(ids.value()).dump().c_str());
    return 0;
  }
  std::string line;
  for (std::size_t i = 0; i < ids->size(); ++i) {
    if (i > 0) line += ' ';
    line += std::to_string((*ids)[i]);
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

}  // namespace

void add_tokenize_command(CLI::App& app, int& exit_code) {
  auto* command =
      app.add_subcommand("tokenize", "Turn text into Qwen3 token ids, or ids back into text");
  auto args = std::make_shared<TokenizeArgs>();
  keep_text(command->add_option("--tokenizer", args->tokenizer_dir,
                                "Folder with tokenizer.json (or vocab.json + merges.txt)"))
      ->required();
  command->add_flag("--json", args->json, "Print a JSON array of ids (or a JSON string)");
  command->add_flag("--decode", args->decode, "Take token ids and print the text");
  command->add_flag("--skip-special", args->skip_special,
                    "With --decode: leave out special tokens");
  command->add_flag("--no-special-tokens", args->no_special_tokens,
                    "Encode the text alone, without the special tokens the tokenizer's "
                    "post-processor adds (Hugging Face's add_special_tokens=False)");
  keep_text(command->add_option("--file", args->file, "Read the text from a file"));
  // Every character of the text is kept ("[Intro] [Verse 1]", commas, quotes).
  keep_text(command->add_option("input", args->first_input, "The text, or with --decode the ids"));
  command->add_option("more", args->more_inputs, "More ids for --decode")->group("");
  command->callback([args, &exit_code] {
    args->inputs.clear();
    if (args->first_input) args->inputs.push_back(*args->first_input);
    args->inputs.insert(args->inputs.end(), args->more_inputs.begin(), args->more_inputs.end());
    exit_code = run_tokenize(*args);
  });
}

}  // namespace acefit::cli
