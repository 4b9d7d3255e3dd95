// DiT prompts, task instructions and metadata validation
// (acestep-model.md 6, 14.4).
#include "pipeline/prompt.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>

namespace acefit {

namespace {

constexpr std::array<std::string_view, 6> kTaskNames = {"text2music", "repaint", "cover",
                                                        "extract",    "lego",    "complete"};

constexpr auto kLanguageCodes = std::to_array<std::string_view>(
    {"ar", "az", "bg", "bn", "ca", "cs", "da", "de", "el", "en",  "es", "fa",     "fi",
     "fr", "he", "hi", "hr", "ht", "hu", "id", "is", "it", "ja",  "ko", "la",     "lt",
     "ms", "ne", "nl", "no", "pa", "pl", "pt", "ro", "ru", "sa",  "sk", "sr",     "sv",
     "sw", "ta", "te", "th", "tl", "tr", "uk", "ur", "vi", "yue", "zh", "unknown"});
static_assert(kLanguageCodes.size() == 51);

std::string quoted(std::string_view text) {
  return "\"" + std::string(text) + "\"";
}

std::string to_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view text) {
  const auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  return text;
}

Status check_track(std::string_view track) {
  if (is_track_name(track)) return {};
  std::string valid;
  for (std::string_view name : kTrackNames)
    valid += (valid.empty() ? "" : ", ") + std::string(name);
  return invalid_argument("unknown track " + quoted(track) + " (valid tracks: " + valid + ")");
}

// Parses a small positive decimal integer; nullopt for anything else.
std::optional<int> parse_small_int(std::string_view text) {
  if (text.empty() || text.size() > 3) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

std::string_view task_name(Task task) {
  return kTaskNames[static_cast<std::size_t>(task)];
}

Expected<Task> parse_task(std::string_view name) {
  for (std::size_t i = 0; i < kTaskNames.size(); ++i) {
    if (kTaskNames[i] == name) return static_cast<Task>(i);
  }
  return invalid_argument("unknown task " + quoted(name) +
                          " (valid tasks: text2music, repaint, cover, extract, lego, complete)");
}

bool is_track_name(std::string_view name) {
  return std::find(kTrackNames.begin(), kTrackNames.end(), name) != kTrackNames.end();
}

Expected<std::string> task_instruction(Task task, std::span<const std::string> tracks) {
  for (const std::string& track : tracks) ACEFIT_TRY(check_track(track));
  switch (task) {
    case Task::text2music:
    case Task::repaint:
    case Task::cover:
      if (!tracks.empty()) {
        return invalid_argument("task " + std::string(task_name(task)) + " takes no track");
      }
      if (task == Task::text2music) return std::string(kText2MusicInstruction);
      if (task == Task::repaint) return std::string(kRepaintInstruction);
      return std::string(kCoverInstruction);
    case Task::extract:
    case Task::lego: {
      if (tracks.size() > 1) {
        return invalid_argument("task " + std::string(task_name(task)) + " takes one track, got " +
                                std::to_string(tracks.size()));
      }
      const std::string track = tracks.empty() ? "" : to_upper(tracks[0]) + " ";
      if (task == Task::extract) return "Extract the " + track + "track from the audio:";
      return "Generate the " + track + "track based on the audio context:";
    }
    case Task::complete: {
      if (tracks.empty()) return std::string("Complete the input track:");
      std::string classes;
      for (const std::string& track : tracks) {
        classes += (classes.empty() ? "" : " | ") + to_upper(track);
      }
      return "Complete the input track with " + classes + ":";
    }
  }
  return invalid_argument("unknown task value " + std::to_string(static_cast<int>(task)));
}

bool is_cover_instruction(std::string_view instruction, bool has_audio_codes) {
  if (has_audio_codes) return true;
  const std::string lower = to_lower(instruction);
  return lower.find("generate audio semantic tokens") != std::string::npos &&
         lower.find("based on the given conditions") != std::string::npos;
}

Status validate_bpm(int bpm) {
  if (bpm < kMinBpm || bpm > kMaxBpm) {
    return invalid_argument("bpm must be between " + std::to_string(kMinBpm) + " and " +
                            std::to_string(kMaxBpm) + ", got " + std::to_string(bpm));
  }
  return {};
}

Expected<int> parse_time_signature(std::string_view text) {
  const std::string_view trimmed = trim(text);
  const auto error = [&] {
    return invalid_argument("time signature " + quoted(text) +
                            " is not one of 2, 3, 4, 6 (or 2/4, 3/4, 4/4, 6/8)");
  };
  const std::size_t slash = trimmed.find('/');
  const std::optional<int> numerator = parse_small_int(trim(trimmed.substr(0, slash)));
  if (!numerator) return error();
  if (slash != std::string_view::npos) {
    const std::optional<int> denominator = parse_small_int(trim(trimmed.substr(slash + 1)));
    if (!denominator ||
        (*denominator != 2 && *denominator != 4 && *denominator != 8 && *denominator != 16)) {
      return error();
    }
  }
  if (*numerator != 2 && *numerator != 3 && *numerator != 4 && *numerator != 6) return error();
  return *numerator;
}

Status validate_keyscale(std::string_view keyscale) {
  const auto error = [&] {
    return invalid_argument("keyscale " + quoted(keyscale) +
                            " must be a note A-G, an optional #, b, \u266F or \u266D, a space "
                            "and major or minor (e.g. \"F# minor\")");
  };
  std::string_view rest = keyscale;
  if (rest.empty() || rest[0] < 'A' || rest[0] > 'G') return error();
  rest.remove_prefix(1);
  for (std::string_view accidental : {"#", "b", "\u266F", "\u266D"}) {
    if (rest.starts_with(accidental)) {
      rest.remove_prefix(accidental.size());
      break;
    }
  }
  if (rest != " major" && rest != " minor") return error();
  return {};
}

std::span<const std::string_view> language_codes() {
  return kLanguageCodes;
}

Status validate_language(std::string_view code) {
  if (std::find(kLanguageCodes.begin(), kLanguageCodes.end(), code) != kLanguageCodes.end()) {
    return {};
  }
  std::string valid;
  for (std::string_view c : kLanguageCodes) valid += (valid.empty() ? "" : " ") + std::string(c);
  return invalid_argument("unknown language " + quoted(code) + " (valid: " + valid + ")");
}

Expected<std::string> metas_block(const PromptMetas& metas) {
  std::string out = "- bpm: ";
  if (metas.bpm) {
    ACEFIT_TRY(validate_bpm(*metas.bpm));
    out += std::to_string(*metas.bpm);
  } else {
    out += "N/A";
  }
  out += "\n- timesignature: ";
  if (metas.time_signature) {
    ACEFIT_TRY(parse_time_signature(*metas.time_signature).status());
    out += trim(*metas.time_signature);
  } else {
    out += "N/A";
  }
  out += "\n- keyscale: ";
  if (metas.keyscale) {
    ACEFIT_TRY(validate_keyscale(*metas.keyscale));
    out += *metas.keyscale;
  } else {
    out += "N/A";
  }
  const double duration_s = metas.duration_s.value_or(kDefaultMetasDurationS);
  if (!std::isfinite(duration_s) || duration_s <= 0 || duration_s > 1e6) {
    return invalid_argument("duration must be a finite number of seconds in (0, 1e6], got " +
                            std::to_string(duration_s));
  }
  out += "\n- duration: " + std::to_string(static_cast<long long>(duration_s)) + " seconds\n";
  return out;
}

Expected<std::string> caption_prompt(std::string_view instruction, std::string_view caption,
                                     const PromptMetas& metas) {
  ACEFIT_ASSIGN(const std::string metas_text, metas_block(metas));
  std::string out = "# Instruction\n";
  out += instruction;
  if (!instruction.ends_with(':')) out += ':';
  out += "\n\n# Caption\n";
  out += caption;
  out += "\n\n# Metas\n";
  out += metas_text;
  out += "<|endoftext|>\n";
  return out;
}

Expected<std::string> lyric_prompt(std::string_view language, std::string_view lyrics) {
  ACEFIT_TRY(validate_language(language));
  std::string out = "# Languages\n";
  out += language;
  out += "\n\n# Lyric\n";
  out += lyrics;
  out += "<|endoftext|>";
  return out;
}

Expected<PromptTokens> tokenize_prompt(const Tokenizer& tokenizer, std::string_view text,
                                       std::size_t max_length) {
  const std::size_t special_count = tokenizer.special_token_count();
  if (max_length <= special_count) {
    return invalid_argument("prompt max_length " + std::to_string(max_length) +
                            " leaves no room for the text beside the tokenizer's " +
                            std::to_string(special_count) + " special tokens");
  }
  ACEFIT_ASSIGN(std::vector<std::int32_t> text_ids,
                tokenizer.encode(text, /*add_special_tokens=*/false));
  PromptTokens tokens;
  tokens.full_length = text_ids.size() + special_count;
  const std::size_t text_limit = max_length - special_count;
  if (text_ids.size() > text_limit) {
    text_ids.resize(text_limit);
    tokens.truncated = true;
  }
  const auto prefix = tokenizer.special_prefix();
  const auto suffix = tokenizer.special_suffix();
  tokens.ids.reserve(text_ids.size() + special_count);
  tokens.ids.assign(prefix.begin(), prefix.end());
  tokens.ids.insert(tokens.ids.end(), text_ids.begin(), text_ids.end());
  tokens.ids.insert(tokens.ids.end(), suffix.begin(), suffix.end());
  return tokens;
}

}  // namespace acefit
