// The text of the 5 Hz LM's chain of thought (spec: acestep-model.md 14.4):
// the phase-2 CoT written as YAML the way ACE-Step 1.5 writes it with PyYAML,
// and the phase-1 CoT the LM generated parsed back into CotFields.
#pragma once
#include <string>
#include <string_view>

#include "models/lm/cot_fields.h"

namespace acefit::models::lm {

// The phase-2 CoT YAML, byte for byte what ACE-Step 1.5 builds with
// yaml.dump(items, allow_unicode=True, sort_keys=True).strip(): the keys bpm,
// caption, duration, keyscale, language, timesignature (sorted, which is
// also the field order) that have values, one "key: value" per line, no
// trailing newline; "" when no field has a value. As upstream:
//   - genres is never written (upstream's key list leaves it out);
//   - a time signature "N/4" is written as N;
//   - a string value made only of ASCII digits is written as an integer
//     ("0123" -> 123);
//   - strings follow PyYAML's emitter: plain when YAML reads them back as
//     the same string (not yes/no/on/off/true/null/~/numbers/dates, no
//     leading indicator, no ": " or " #", ...), else single-quoted, else
//     (control characters, tabs, ...) double-quoted with escapes; plain and
//     quoted scalars are folded at a single space once the line is past
//     column 80, continuation lines indented by two spaces.
// Text that is not valid UTF-8 is read with U+FFFD for each bad byte.
std::string cot_yaml(const CotFields& fields);

// "<think>\n" + cot_yaml(fields) + "\n</think>": the assistant message of the
// phase-2 prompt (and a readable form of the fields for logs).
std::string cot_think_block(const CotFields& fields);

// The fields of a generated CoT (upstream's LLMHandler.parse_lm_output):
//   - the text between the first "<think>" and the next "</think>"; when
//     there is no such pair (the reference ends phase 1 with EOS in place of
//     "</think>") or it holds only white space, the text before the first
//     "<|audio_code_" (and, unlike upstream, before the first "<|im_end|>",
//     so an EOS decoded right after a value does not join it); white space
//     around it is dropped;
//   - a line that starts without white space and contains ':' starts a
//     field "key: value" (key lower-cased, trimmed); a line starting with a
//     space or tab continues the current field's value; lines whose first
//     non-blank character is '<' and all other lines are skipped;
//   - caption: its lines trimmed and joined by single spaces (YAML folding
//     undone); bpm and duration: an integer (optional sign, ASCII digits),
//     else the field is dropped; the other fields trimmed;
//   - unknown keys are ignored, a repeated key keeps its last value, and a
//     field whose value is empty is left unset.
// Quotes are kept as written (upstream does not unquote YAML scalars).
CotFields parse_cot(std::string_view generated_text);

}  // namespace acefit::models::lm
