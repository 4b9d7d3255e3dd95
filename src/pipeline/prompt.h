// The DiT's text inputs (acestep-model.md 6): the caption prompt fed to the
// Qwen3 text encoder (6.1, with the metas block of 6.2), the lyric prompt
// fed to the embedding lookup (6.3), the task instructions (6.4), the
// validation of the metadata values (bpm, time signature, key/scale,
// language; 14.4), and tokenization with the prompts' length limits.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "io/tokenizer/tokenizer.h"

namespace acefit {

// ---- tasks and instructions (6.4) ----

enum class Task { text2music, repaint, cover, extract, lego, complete };

std::string_view task_name(Task task);  // "text2music", "repaint", ...
// invalid_argument naming the valid tasks.
Expected<Task> parse_task(std::string_view name);

inline constexpr std::array<std::string_view, 12> kTrackNames = {
    "woodwinds", "brass",  "fx",   "synth", "strings",        "percussion",
    "keyboard",  "guitar", "bass", "drums", "backing_vocals", "vocals"};
bool is_track_name(std::string_view name);

inline constexpr std::string_view kText2MusicInstruction =
    "Fill the audio semantic mask based on the given conditions:";
inline constexpr std::string_view kRepaintInstruction =
    "Repaint the mask area based on the given conditions:";
inline constexpr std::string_view kCoverInstruction =
    "Generate audio semantic tokens based on the given conditions:";
// LM-only instructions.
inline constexpr std::string_view kLmGenerateInstruction = kCoverInstruction;
inline constexpr std::string_view kLmUnderstandInstruction =
    "Understand the given musical conditions and describe the audio semantics accordingly:";
inline constexpr std::string_view kLmInspireInstruction =
    "Expand the user's input into a more detailed and specific musical description:";
inline constexpr std::string_view kLmFormatInstruction =
    "Format the user's input into a more detailed and specific musical description:";

// The instruction of `task`. extract/lego take one track name (empty: the
// generic "the track" form); complete takes any number of track classes
// (none: "Complete the input track:"). Track names must be from kTrackNames
// and are written upper-case, track classes joined with " | ", as the
// reference UI writes them ("Extract the VOCALS track from the audio:",
// "Complete the input track with DRUMS | BASS:"). Other tasks take no
// tracks. invalid_argument for an unknown track or tracks given to a task
// that takes none.
Expected<std::string> task_instruction(Task task, std::span<const std::string> tracks = {});

// Whether an item is treated as cover (6.4 rules): its instruction contains
// both "generate audio semantic tokens" and "based on the given conditions"
// (case-insensitive), or it has audio codes.
bool is_cover_instruction(std::string_view instruction, bool has_audio_codes = false);

// ---- metadata values ----

inline constexpr int kMinBpm = 30;
inline constexpr int kMaxBpm = 300;
Status validate_bpm(int bpm);

// "4", "4/4", "3/4", "6/8", "2/4", "3", ... -> the numerator, which must be
// 2, 3, 4 or 6 (a denominator, when written, must be 2, 4, 8 or 16).
Expected<int> parse_time_signature(std::string_view text);

// A note A-G, an optional accidental (#, b, ♯, ♭), one space, "major" or
// "minor" ("F# minor", "B♭ major").
Status validate_keyscale(std::string_view keyscale);

// The 50 vocal language codes of 14.4 plus "unknown".
std::span<const std::string_view> language_codes();
Status validate_language(std::string_view code);

// ---- prompts (6.1 - 6.3) ----

inline constexpr double kDefaultMetasDurationS = 30.0;

struct PromptMetas {
  std::optional<int> bpm;  // 30..300
  // As the user wrote it ("3/4", "6/8", "4"): checked by
  // parse_time_signature and written verbatim (surrounding white space
  // trimmed), as upstream does (18.2). Only a value from the LM's CoT is the
  // bare numerator.
  std::optional<std::string> time_signature;
  std::optional<std::string> keyscale;
  std::optional<double> duration_s;  // written as int(seconds); missing: 30
};

// The four "- key: value\n" lines of 6.2 (N/A for what is missing).
// invalid_argument for an invalid value.
Expected<std::string> metas_block(const PromptMetas& metas);

// "# Instruction\n{instruction}\n\n# Caption\n{caption}\n\n# Metas\n{metas}
// <|endoftext|>\n", with ':' appended to the instruction when it does not
// end with one.
Expected<std::string> caption_prompt(std::string_view instruction, std::string_view caption,
                                     const PromptMetas& metas);

inline constexpr std::string_view kInstrumentalLyrics = "[Instrumental]";
inline constexpr std::string_view kDefaultLanguage = "unknown";

// "# Languages\n{language}\n\n# Lyric\n{lyrics}<|endoftext|>" (no final
// newline). Empty lyrics stay empty (18.2); "[Instrumental]" is written
// only when the caller asks for an instrumental (generate --instrumental
// passes kInstrumentalLyrics). invalid_argument for a language not in
// language_codes().
Expected<std::string> lyric_prompt(std::string_view language, std::string_view lyrics);

// ---- tokenization ----

inline constexpr std::size_t kCaptionMaxTokens = 256;
inline constexpr std::size_t kLyricMaxTokens = 2048;

struct PromptTokens {
  std::vector<std::int32_t> ids;  // at most max_length ids, special tokens included
  bool truncated = false;         // the text had more tokens; callers warn
  std::size_t full_length = 0;    // the token count before truncation, special tokens included
};

// Encodes `text` with the tokenizer's special tokens (its post-processor
// template, Hugging Face's add_special_tokens = true; 18.1), truncating as
// Hugging Face does: the text's ids are cut to max_length minus the
// special-token count, then the template's ids are added. invalid_argument
// when max_length leaves no room for the text.
Expected<PromptTokens> tokenize_prompt(const Tokenizer& tokenizer, std::string_view text,
                                       std::size_t max_length);

}  // namespace acefit
