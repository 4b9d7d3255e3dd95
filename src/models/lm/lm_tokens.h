// The 5 Hz LM's vocabulary (spec: acestep-model.md 14.2): the Qwen3 base
// tokens, then 65535 <|audio_code_N|> slots at 151669 + N (only N < 64000
// are FSQ codes). The audio-code helpers live with the tokenizer
// (io/tokenizer/tokenizer.h: kAudioCodeFirstTokenId, is_audio_code, ...).
#pragma once
#include <cstdint>

namespace acefit::models::lm {

inline constexpr std::int64_t kLmVocabSize = 217204;      // 151669 + 65535
inline constexpr std::int32_t kPadTokenId = 151643;       // <|endoftext|>
inline constexpr std::int32_t kImStartTokenId = 151644;   // <|im_start|>
inline constexpr std::int32_t kImEndTokenId = 151645;     // <|im_end|>: EOS
inline constexpr std::int32_t kThinkTokenId = 151667;     // <think>
inline constexpr std::int32_t kEndThinkTokenId = 151668;  // </think>
inline constexpr std::int32_t kFirstAudioCodeTokenId = 151669;
inline constexpr std::int32_t kAudioCodeValues = 64000;  // codes 0..63999 are valid

}  // namespace acefit::models::lm
