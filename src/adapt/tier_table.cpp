#include "adapt/tier_table.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "io/json/config_json.h"

namespace acefit {

namespace detail {
extern const char kDefaultTierTableJson[];
extern const char kUpstreamTierTableJson[];
}  // namespace detail

namespace {

constexpr std::string_view kFormat = "acefit-tier-table-1";
constexpr std::size_t kMaxTiers = 32;

template <typename List>
bool contains(const List& list, std::string_view item) {
  return std::find(std::begin(list), std::end(list), item) != std::end(list);
}

Status tier_error(const ConfigJson& tier, const std::string& what) {
  return Status(ErrorCode::corrupt, tier.origin() + ": " + what);
}

Expected<std::vector<std::string>> choices(ConfigJson& tier, const std::string& key,
                                           const std::string_view* allowed, std::size_t count) {
  ACEFIT_ASSIGN(auto values, tier.string_list(key, count, {}));
  std::set<std::string> seen;
  for (const auto& value : values) {
    if (std::find(allowed, allowed + count, value) == allowed + count) {
      return tier_error(tier,
                        "key \"" + key + "\" holds \"" + value + "\", not one of the known values");
    }
    if (!seen.insert(value).second) {
      return tier_error(tier, "key \"" + key + "\" lists \"" + value + "\" twice");
    }
  }
  return values;
}

Expected<TierRecord> parse_tier(ConfigJson& tier) {
  TierRecord record;
  ACEFIT_ASSIGN(record.name, tier.string("name", std::nullopt));
  if (record.name.empty() || record.name.size() > 32) {
    return tier_error(tier, "key \"name\" must be 1 to 32 characters");
  }
  ACEFIT_ASSIGN(record.label, tier.string("label", std::nullopt));
  ACEFIT_ASSIGN(record.min_memory_gib, tier.number("min_memory_gib", 0, 1e6, std::nullopt));
  ACEFIT_ASSIGN(auto duration_lm, tier.integer("max_duration_with_lm_s", 10, 600, std::nullopt));
  ACEFIT_ASSIGN(auto duration_no_lm,
                tier.integer("max_duration_without_lm_s", 10, 600, std::nullopt));
  ACEFIT_ASSIGN(auto batch_lm, tier.integer("max_batch_with_lm", 1, 64, std::nullopt));
  ACEFIT_ASSIGN(auto batch_no_lm, tier.integer("max_batch_without_lm", 1, 64, std::nullopt));
  record.max_duration_with_lm_s = static_cast<int>(duration_lm);
  record.max_duration_without_lm_s = static_cast<int>(duration_no_lm);
  record.max_batch_with_lm = static_cast<int>(batch_lm);
  record.max_batch_without_lm = static_cast<int>(batch_no_lm);
  ACEFIT_ASSIGN(record.init_lm_default, tier.boolean("init_lm_default", std::nullopt));
  ACEFIT_ASSIGN(record.lm_models, choices(tier, "lm_models", kLmSizes, std::size(kLmSizes)));
  // Keep sizes small to large whatever order the file lists them in.
  std::sort(record.lm_models.begin(), record.lm_models.end(), [](const auto& a, const auto& b) {
    return std::find(std::begin(kLmSizes), std::end(kLmSizes), a) <
           std::find(std::begin(kLmSizes), std::end(kLmSizes), b);
  });
  if (tier.has("recommended_lm")) {
    ACEFIT_ASSIGN(auto recommended, tier.string("recommended_lm", std::nullopt));
    if (!record.allows_lm(recommended)) {
      return tier_error(tier, "recommended_lm \"" + recommended + "\" is not in lm_models");
    }
    record.recommended_lm = recommended;
  } else {
    (void)tier.string("recommended_lm", std::string());  // marks null as read
    if (!record.lm_models.empty()) {
      return tier_error(tier, "recommended_lm is missing although lm_models lists models");
    }
  }
  if (record.init_lm_default && record.lm_models.empty()) {
    return tier_error(tier, "init_lm_default is true but lm_models is empty");
  }
  ACEFIT_ASSIGN(record.allowed_backends,
                choices(tier, "allowed_backends", kLmBackends, std::size(kLmBackends)));
  if (record.allowed_backends.empty()) return tier_error(tier, "allowed_backends is empty");
  ACEFIT_ASSIGN(record.recommended_backend, tier.string("recommended_backend", std::nullopt));
  if (!record.allows_backend(record.recommended_backend)) {
    return tier_error(tier, "recommended_backend \"" + record.recommended_backend +
                                "\" is not in allowed_backends");
  }
  ACEFIT_ASSIGN(auto offload, tier.string("offload", std::nullopt));
  const auto mode = parse_offload_mode(offload);
  if (!mode) {
    return tier_error(tier, "offload \"" + offload + "\" is not one of cpu+dit, cpu, none");
  }
  record.offload = *mode;
  ACEFIT_ASSIGN(auto quantization, tier.string("quantization", std::nullopt));
  if (quantization != "int8" && quantization != "none") {
    return tier_error(tier, "quantization \"" + quantization + "\" is not one of int8, none");
  }
  record.quantization_int8 = quantization == "int8";
  ACEFIT_ASSIGN(record.compile, tier.boolean("compile", std::nullopt));
  ACEFIT_ASSIGN(auto memory, tier.object("lm_memory_gib"));
  for (const auto& size : memory.keys()) {
    if (!record.allows_lm(size)) {
      return tier_error(tier, "lm_memory_gib names \"" + size + "\", which lm_models lacks");
    }
    ACEFIT_ASSIGN(const double gib, memory.number(size, 0, 1e4, std::nullopt));
    record.lm_memory.push_back({size, gib});
  }
  ACEFIT_ASSIGN(record.max_vae_chunk_frames,
                tier.optional_integer("max_vae_chunk_frames", 1, 1 << 20));
  const auto unread = tier.unread_keys();
  if (!unread.empty()) return tier_error(tier, "unknown key \"" + unread.front() + "\"");
  return record;
}

}  // namespace

std::string_view offload_mode_name(OffloadMode mode) {
  switch (mode) {
    case OffloadMode::cpu_dit:
      return "cpu+dit";
    case OffloadMode::cpu:
      return "cpu";
    case OffloadMode::none:
      return "none";
  }
  return "none";
}

std::optional<OffloadMode> parse_offload_mode(std::string_view text) {
  if (text == "cpu+dit") return OffloadMode::cpu_dit;
  if (text == "cpu") return OffloadMode::cpu;
  if (text == "none") return OffloadMode::none;
  return std::nullopt;
}

bool TierRecord::allows_backend(std::string_view backend) const {
  return contains(allowed_backends, backend);
}

bool TierRecord::allows_lm(std::string_view size) const {
  return contains(lm_models, size);
}

int TierRecord::max_duration_s(bool with_lm) const {
  return with_lm ? max_duration_with_lm_s : max_duration_without_lm_s;
}

int TierRecord::max_batch(bool with_lm) const {
  return with_lm ? max_batch_with_lm : max_batch_without_lm;
}

const TierRecord& TierTable::tier_for_memory(double memory_gib) const {
  const TierRecord* chosen = &tiers.front();
  for (const auto& tier : tiers) {
    if (memory_gib >= tier.min_memory_gib) chosen = &tier;
  }
  return *chosen;
}

const TierRecord* TierTable::find(std::string_view name) const {
  if (name == "tier6") name = "tier6b";
  for (const auto& tier : tiers) {
    if (tier.name == name) return &tier;
  }
  return nullptr;
}

std::vector<std::string> TierTable::names() const {
  std::vector<std::string> out;
  for (const auto& tier : tiers) out.push_back(tier.name);
  return out;
}

namespace {

Expected<TierTable> tier_table_from(ConfigJson root) {
  const std::string origin = root.origin();
  ACEFIT_ASSIGN(const auto format, root.string("format", std::nullopt));
  if (format != kFormat) {
    return Status(ErrorCode::corrupt,
                  origin + ": format \"" + format + "\" is not \"" + std::string(kFormat) + "\"");
  }
  (void)root.string("comment", std::string());
  ACEFIT_ASSIGN(auto tiers, root.object_list("tiers", kMaxTiers));
  const auto unread = root.unread_keys();
  if (!unread.empty()) {
    return Status(ErrorCode::corrupt, origin + ": unknown key \"" + unread.front() + "\"");
  }
  TierTable table;
  table.origin = origin;
  std::set<std::string> names;
  for (auto& tier : tiers) {
    ACEFIT_ASSIGN(auto record, parse_tier(tier));
    if (!names.insert(record.name).second) {
      return tier_error(tier, "tier name \"" + record.name + "\" appears twice");
    }
    if (table.tiers.empty() && record.min_memory_gib != 0) {
      return tier_error(tier, "the first tier must start at min_memory_gib 0");
    }
    if (!table.tiers.empty() && record.min_memory_gib <= table.tiers.back().min_memory_gib) {
      return tier_error(tier, "min_memory_gib must be above the previous tier's");
    }
    table.tiers.push_back(std::move(record));
  }
  return table;
}

}  // namespace

Expected<TierTable> parse_tier_table(const std::string& json_text, const std::string& origin) {
  ACEFIT_ASSIGN(auto root, ConfigJson::parse(json_text, origin));
  return tier_table_from(std::move(root));
}

Expected<TierTable> load_tier_table(const std::string& path) {
  ACEFIT_ASSIGN(auto root, ConfigJson::load(path));
  return tier_table_from(std::move(root));
}

Expected<TierTable> default_tier_table() {
  return parse_tier_table(detail::kDefaultTierTableJson, "built-in tier table");
}

Expected<TierTable> upstream_tier_table() {
  return parse_tier_table(detail::kUpstreamTierTableJson, std::string(kUpstreamTierTableOrigin));
}

Expected<TierTable> tier_table_by_name_or_path(const std::string& name_or_path) {
  if (name_or_path == kUpstreamTierTableName) return upstream_tier_table();
  if (name_or_path == kGuideTierTableName) return default_tier_table();
  auto table = load_tier_table(name_or_path);
  std::error_code error;
  if (!table.ok() && table.status().code() != ErrorCode::corrupt &&
      !std::filesystem::exists(name_or_path, error)) {
    return Status(table.status().code(), table.status().message() +
                                             " (the built-in tables are named " +
                                             std::string(kGuideTierTableName) + " and " +
                                             std::string(kUpstreamTierTableName) + ")");
  }
  return table;
}

std::optional<std::string> largest_lm_size(const std::vector<std::string>& sizes) {
  for (auto it = std::rbegin(kLmSizes); it != std::rend(kLmSizes); ++it) {
    if (contains(sizes, *it)) return std::string(*it);
  }
  return std::nullopt;
}

namespace {

struct SizeMatch {
  std::size_t at;
  std::string_view size;
};

// Where a model name names its size. A size counts only as a whole dash- or
// underscore-separated part, so "4B" does not match inside "14B".
std::optional<SizeMatch> find_lm_size(std::string_view model_name) {
  const auto separator = [](char c) { return c == '-' || c == '_'; };
  for (std::string_view size : kLmSizes) {
    for (auto at = model_name.find(size); at != std::string_view::npos;
         at = model_name.find(size, at + 1)) {
      const auto end = at + size.size();
      if ((at == 0 || separator(model_name[at - 1])) &&
          (end == model_name.size() || separator(model_name[end]))) {
        return SizeMatch{at, size};
      }
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> lm_size_of(std::string_view model_name) {
  const auto match = find_lm_size(model_name);
  if (!match) return std::nullopt;
  return std::string(match->size);
}

std::string with_lm_size(std::string_view model_name, std::string_view size) {
  std::string name(model_name);
  if (const auto match = find_lm_size(model_name)) {
    name.replace(match->at, match->size.size(), size);
  }
  return name;
}

std::string lm_model_name(std::string_view size) {
  return "acestep-5Hz-lm-" + std::string(size);
}

}  // namespace acefit
