// Shared by the 5 Hz LM text tests: the committed reference outputs under
// tests/data/lm (tests/reference/lm_text_expected.py and lm_prompt_ids.mjs)
// and their CoT fields as CotFields.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "models/lm/cot_fields.h"

namespace acefit::testing {

inline nlohmann::json load_lm_reference(const std::string& file_name) {
  std::ifstream in(std::string(ACEFIT_TEST_DATA_DIR) + "/lm/" + file_name, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().empty()) {
    ADD_FAILURE() << "missing tests/data/lm/" << file_name;
    return nlohmann::json::object({{"cases", nlohmann::json::array()}});
  }
  return nlohmann::json::parse(text.str());
}

// A case's "fields" (upstream's metadata dict) as CotFields.
inline models::lm::CotFields lm_cot_fields_from_json(const nlohmann::json& fields) {
  models::lm::CotFields out;
  if (fields.contains("bpm")) out.bpm = fields["bpm"].get<int>();
  if (fields.contains("caption")) out.caption = fields["caption"].get<std::string>();
  if (fields.contains("duration")) out.duration_s = fields["duration"].get<int>();
  if (fields.contains("genres")) out.genres = fields["genres"].get<std::string>();
  if (fields.contains("keyscale")) out.keyscale = fields["keyscale"].get<std::string>();
  if (fields.contains("language")) out.language = fields["language"].get<std::string>();
  if (fields.contains("timesignature")) {
    out.time_signature = fields["timesignature"].get<std::string>();
  }
  return out;
}

}  // namespace acefit::testing
