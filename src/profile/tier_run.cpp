#include "profile/tier_run.h"

#include <cmath>
#include <cstdint>

namespace acefit::profile {

namespace {

// `value` rounded to `decimals` places; non-finite values pass through
// (nlohmann writes them as null).
double json_rounded(double value, int decimals) {
  if (!std::isfinite(value)) return value;
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

nlohmann::ordered_json seconds_json(double seconds) {
  return json_rounded(seconds, 2);
}

nlohmann::ordered_json gib_json(double gib) {
  return json_rounded(gib, 3);
}

nlohmann::ordered_json optional_gib_json(const std::optional<double>& gib) {
  if (!gib) return nullptr;
  return gib_json(*gib);
}

// 8 rather than 8.0 for a whole size; 7.5 stays a number with its fraction.
nlohmann::ordered_json tier_gb_json(double tier_gb) {
  const double size = json_rounded(tier_gb, 3);
  if (std::isfinite(size) && size == std::floor(size) && std::fabs(size) < 1e15) {
    return static_cast<std::int64_t>(size);
  }
  return size;
}

}  // namespace

bool passed(const TierRunRecord& record) {
  return record.init_success && record.gen_success;
}

bool offloads_text_vae(OffloadMode mode) {
  return mode != OffloadMode::none;
}

bool offloads_dit(OffloadMode mode) {
  return mode == OffloadMode::cpu_dit;
}

nlohmann::ordered_json tier_run_json(const TierRunRecord& record) {
  const TierRunConfig& config = record.config;
  nlohmann::ordered_json json = nlohmann::ordered_json::object();
  json["tier_gb"] = tier_gb_json(config.tier_gb);
  json["tier"] = config.tier;
  json["test_variant"] = config.variant;
  json["use_lm"] = config.use_lm;
  if (config.use_lm && config.lm_model) {
    json["lm_model"] = *config.lm_model;
  } else {
    json["lm_model"] = nullptr;
  }
  json["lm_backend"] = config.lm_backend;
  json["offload"] = offloads_text_vae(config.offload);
  json["offload_dit"] = offloads_dit(config.offload);
  if (config.quantization) {
    json["quantization"] = "int8_weight_only";
  } else {
    json["quantization"] = nullptr;
  }
  json["duration"] = config.duration_s;
  json["batch_size"] = config.batch_size;
  json["init_success"] = record.init_success;
  json["gen_success"] = record.gen_success;
  json["wall_time"] = seconds_json(record.wall_time);
  if (record.error) {
    json["error"] = *record.error;
  } else {
    json["error"] = nullptr;
  }
  json["peak_vram_gb"] = gib_json(record.peak_vram_gb);
  if (record.lm_time) json["lm_time"] = seconds_json(*record.lm_time);
  if (record.dit_time) json["dit_time"] = seconds_json(*record.dit_time);
  if (record.vae_time) json["vae_time"] = seconds_json(*record.vae_time);
  json["engine"] = record.engine;
  json["planned_peak_vram_gb"] = optional_gib_json(record.planned_peak_gb);
  json["measured_peak_vram_gb"] = optional_gib_json(record.measured_peak_gb);
  json["planned_matches"] = record.planned_matches;
  return json;
}

nlohmann::ordered_json tier_runs_json(const std::vector<TierRunRecord>& records) {
  nlohmann::ordered_json runs = nlohmann::ordered_json::array();
  for (const TierRunRecord& record : records) runs.push_back(tier_run_json(record));
  return runs;
}

}  // namespace acefit::profile
