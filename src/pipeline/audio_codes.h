// Audio codes as users pass them (upstream's audio_code_string): the LM's
// output text with <|audio_code_N|> tokens (every such token in order, the
// text around them ignored), or plain integers separated by commas or white
// space. Every code must be a valid FSQ index, 0..63999.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace acefit {

// invalid_argument naming the bad piece (its position) or an empty list.
Expected<std::vector<std::int64_t>> parse_audio_codes(std::string_view text);

// "<|audio_code_1|><|audio_code_22|>..." (what the LM writes).
std::string audio_code_string(const std::vector<std::int64_t>& codes);

}  // namespace acefit
