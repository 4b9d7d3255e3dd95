#include "profile/tier_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string_view>

namespace acefit::profile {

namespace {

// Text in these tables is UTF-8 ("✅", "—", "→"): widths and cuts count
// code points, as upstream's Python formatting does.
std::size_t utf8_length(std::string_view text) {
  std::size_t count = 0;
  for (const char c : text) {
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++count;
  }
  return count;
}

// The first `count` code points of `text`.
std::string utf8_prefix(std::string_view text, std::size_t count) {
  std::size_t seen = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == count) return std::string(text.substr(0, i));
      ++seen;
    }
  }
  return std::string(text);
}

// `text` cut to `keep` code points followed by ".." when it is longer.
std::string shortened(std::string_view text, std::size_t keep) {
  if (utf8_length(text) <= keep) return std::string(text);
  return utf8_prefix(text, keep) + "..";
}

std::string decimals_text(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

struct ReportCell {
  std::string text;
  std::size_t width = 0;  // 0: as is
  bool right = false;
};

// The cells padded to their widths, joined by `separator`, without trailing
// blanks.
std::string table_line(const std::vector<ReportCell>& cells, std::string_view separator = " ") {
  std::string line;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += separator;
    const ReportCell& cell = cells[i];
    const std::size_t length = utf8_length(cell.text);
    const std::string padding(cell.width > length ? cell.width - length : 0, ' ');
    line += cell.right ? padding + cell.text : cell.text + padding;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

std::string rule_of(char c, std::size_t count) {
  return std::string(count, c);
}

std::string error_or_unknown(const TierRunRecord& record) {
  return record.error ? *record.error : std::string("unknown");
}

// "tier4 (8GB)".
std::string tier_and_size(const TierRunRecord& record) {
  return record.config.tier + " (" + vram_label(record.config.tier_gb) + ")";
}

// ---- summary ----

struct SummaryLayout {
  bool variants = false;  // some run is not "default"
  bool both = false;      // some run has both engines: Plan(GB) and marks
};

constexpr std::size_t kLmModelChars = 22;  // then ".."
constexpr std::size_t kStatusChars = 28;   // then ".."

std::vector<ReportCell> summary_header(const SummaryLayout& layout) {
  std::vector<ReportCell> cells = {{"VRAM", 7, true}, {"Tier", 10, false}};
  if (layout.variants) cells.push_back({"Variant", 13, false});
  cells.insert(cells.end(), {{"LM", 4, true},
                             {"LM Model", kLmModelChars + 2, false},
                             {"Backend", 8, false},
                             {"Offload", 8, false},
                             {"Quant", 6, false},
                             {"Init", 5, true},
                             {"Gen", 5, true},
                             {"Wall(s)", 8, true}});
  if (layout.both) {
    // One more place after the peak for the mark of a differing row.
    cells.push_back({"Peak(GB) ", 10, true});
    cells.push_back({"Plan(GB)", 9, true});
  } else {
    cells.push_back({"Peak(GB)", 9, true});
  }
  cells.push_back({"Status", 30, false});
  return cells;
}

bool differs_from_plan(const TierRunRecord& record) {
  return record.engine == "both" && !record.planned_matches;
}

std::vector<ReportCell> summary_row(const TierRunRecord& record, const SummaryLayout& layout) {
  const TierRunConfig& config = record.config;
  std::vector<ReportCell> cells = {{vram_label(config.tier_gb), 7, true}, {config.tier, 10, false}};
  if (layout.variants) cells.push_back({config.variant, 13, false});
  const std::string lm_model =
      config.use_lm && config.lm_model ? shortened(*config.lm_model, kLmModelChars) : "-";
  std::string status = "PASS";
  if (!passed(record)) status = shortened(record.error ? *record.error : "FAIL", kStatusChars);
  cells.insert(cells.end(), {{config.use_lm ? "Y" : "N", 4, true},
                             {lm_model, kLmModelChars + 2, false},
                             {config.lm_backend, 8, false},
                             {offloads_text_vae(config.offload) ? "Y" : "N", 8, false},
                             {config.quantization ? "int8" : "-", 6, false},
                             {record.init_success ? "✅" : "❌", 5, true},
                             {record.gen_success ? "✅" : "❌", 5, true},
                             {decimals_text(record.wall_time, 2), 8, true}});
  const std::string peak = decimals_text(record.peak_vram_gb, 2);
  if (layout.both) {
    cells.push_back({peak + (differs_from_plan(record) ? "≠" : " "), 10, true});
    cells.push_back(
        {record.planned_peak_gb ? decimals_text(*record.planned_peak_gb, 2) : "-", 9, true});
  } else {
    cells.push_back({peak, 9, true});
  }
  cells.push_back({status, 30, false});
  return cells;
}

// ---- boundary ----

// The tier a run was made for: by name, else by its simulated size.
const TierRecord& tier_of(const TierRunRecord& record, const TierTable& table) {
  if (const TierRecord* named = table.find(record.config.tier)) return *named;
  return table.tier_for_memory(record.config.tier_gb);
}

void sort_by_size(std::vector<const TierRunRecord*>& runs) {
  std::stable_sort(runs.begin(), runs.end(), [](const auto* a, const auto* b) {
    return a->config.tier_gb < b->config.tier_gb;
  });
}

constexpr std::size_t kBoundaryErrorChars = 60;

// Prints one capability and returns its first passing run (nullptr: none).
const TierRunRecord* capability_lines(std::string& out, const std::string& capability,
                                      const std::vector<const TierRunRecord*>& runs) {
  out += "  " + capability + ":\n";
  const TierRunRecord* first_pass = nullptr;
  const TierRunRecord* last_failure = nullptr;
  for (const TierRunRecord* run : runs) {
    if (passed(*run)) {
      if (!first_pass) first_pass = run;
    } else {
      last_failure = run;
    }
  }
  if (first_pass) {
    out += "    Minimum tier:  " + tier_and_size(*first_pass) + "\n";
    out += "    Peak VRAM:     " + decimals_text(first_pass->peak_vram_gb, 2) + "GB\n";
    if (last_failure) {
      out += "    Last failure:  " + tier_and_size(*last_failure) + " — " +
             utf8_prefix(error_or_unknown(*last_failure), kBoundaryErrorChars) + "\n";
    }
  } else if (last_failure) {
    out += "    ❌ No tier passed: every tested tier failed.\n";
    for (const TierRunRecord* run : runs) {
      out += "       " + tier_and_size(*run) + " — " +
             utf8_prefix(error_or_unknown(*run), kBoundaryErrorChars) + "\n";
    }
  } else {
    out += "    ⚠️ No run tested this capability.\n";
  }
  out += "\n";
  return first_pass;
}

std::string compact_boundary_row(const std::string& capability, const TierRunRecord* first_pass) {
  if (!first_pass) return table_line({{capability, 45}, {"N/A", 10}, {"N/A"}});
  return table_line(
      {{capability, 45}, {first_pass->config.tier, 10}, {vram_label(first_pass->config.tier_gb)}});
}

// ---- batch boundary ----

constexpr std::string_view kBatchNoLmPrefix = "batch-noLM-";
constexpr std::string_view kBatchLmPrefix = "batch-LM-";

// The batch runs of one simulated size, without or with the LM.
struct BatchVariantRuns {
  bool tested = false;
  int max_batch = 0;  // 0: none passed
  double peak_gb = 0;

  void add(const TierRunRecord& record) {
    tested = true;
    if (passed(record) && record.config.batch_size > max_batch) {
      max_batch = record.config.batch_size;
      peak_gb = record.peak_vram_gb;
    }
  }
  // The largest passing batch, "FAIL" when none passed, "N/A" when untested.
  std::string batch_text() const {
    if (!tested) return "N/A";
    return max_batch > 0 ? std::to_string(max_batch) : "FAIL";
  }
  std::string peak_text() const { return max_batch > 0 ? decimals_text(peak_gb, 2) + "GB" : "-"; }
  // "no_lm: 4→8" when the tested maximum differs from the configured one
  // ("→FAIL" when not even batch 1 passed); empty when it agrees or was not
  // tested.
  std::string recommendation(const std::string& name, int configured) const {
    if (!tested || max_batch == configured) return "";
    return name + ": " + std::to_string(configured) + "→" + batch_text();
  }
};

struct BatchSizeRuns {
  std::string tier;
  BatchVariantRuns without_lm, with_lm;
};

}  // namespace

std::string vram_label(double tier_gb) {
  if (std::isfinite(tier_gb) && tier_gb == std::floor(tier_gb) && std::fabs(tier_gb) < 1e15) {
    return decimals_text(tier_gb, 0) + "GB";
  }
  std::string text = decimals_text(tier_gb, 2);
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text + "GB";
}

std::string tier_summary_table(const std::vector<TierRunRecord>& records) {
  SummaryLayout layout;
  for (const TierRunRecord& record : records) {
    if (record.config.variant != "default") layout.variants = true;
    if (record.engine == "both") layout.both = true;
  }
  const std::vector<ReportCell> header = summary_header(layout);
  std::size_t width = 0;
  for (const ReportCell& cell : header) width += cell.width + 1;
  width -= 1;

  std::string out = "\n" + rule_of('=', width) + "\n";
  out += "TIER TEST SUMMARY\n";
  out += rule_of('=', width) + "\n";
  out += table_line(header) + "\n";
  out += rule_of('-', width) + "\n";
  int passes = 0;
  int both_rows = 0;
  int differing_rows = 0;
  for (const TierRunRecord& record : records) {
    out += table_line(summary_row(record, layout)) + "\n";
    if (passed(record)) ++passes;
    if (record.engine == "both") ++both_rows;
    if (differs_from_plan(record)) ++differing_rows;
  }
  out += rule_of('-', width) + "\n";
  if (layout.both) {
    out += "  Planned vs measured peak: " + std::to_string(differing_rows) + " of " +
           std::to_string(both_rows) + " rows differ" + (differing_rows > 0 ? " (marked ≠)" : "") +
           "\n";
  }
  const int runs = static_cast<int>(records.size());
  out += "  Total: " + std::to_string(runs) + " tests run, " + std::to_string(passes) +
         " PASSED, " + std::to_string(runs - passes) + " FAILED\n";
  return out;
}

std::string boundary_analysis(const std::vector<TierRunRecord>& records, const TierTable& table) {
  std::vector<const TierRunRecord*> without_quant, without_offload;
  for (const TierRunRecord& record : records) {
    const std::string& variant = record.config.variant;
    if (variant == "no-quant") without_quant.push_back(&record);
    if (variant == "no-offload") without_offload.push_back(&record);
    if (variant != "default") continue;
    const TierRecord& tier = tier_of(record, table);
    if (!tier.quantization_int8) {
      without_quant.push_back(&record);
      if (tier.offload == OffloadMode::none) without_offload.push_back(&record);
    }
  }
  sort_by_size(without_quant);
  sort_by_size(without_offload);

  const std::string rule = rule_of('=', 100);
  std::string out = "\n" + rule + "\nBOUNDARY ANALYSIS\n" + rule + "\n\n";
  out += "  This analysis shows the minimum VRAM tier at which each optimization\n";
  out += "  can be safely disabled while still completing inference successfully.\n\n";
  const TierRunRecord* min_without_quant =
      capability_lines(out, "Without INT8 Quantization", without_quant);
  const TierRunRecord* min_without_offload =
      capability_lines(out, "Without CPU Offload (and no quantization)", without_offload);

  const std::string dashes = "  " + rule_of('-', 60) + "\n";
  out += dashes;
  out += "  " + table_line({{"Capability", 45}, {"Min Tier", 10}, {"VRAM"}}) + "\n";
  out += dashes;
  out += "  " + compact_boundary_row("No INT8 Quantization", min_without_quant) + "\n";
  out +=
      "  " + compact_boundary_row("No CPU Offload (all models on GPU)", min_without_offload) + "\n";
  out += dashes;
  out += "\n";
  out += "  Note: these boundaries are empirical and depend on:\n";
  out += "    - the DiT model variant (turbo or base)\n";
  out += "    - whether the LM is on (--tier-with-lm)\n";
  out += "    - the generation duration and batch size\n";
  out += "    - flash-attention availability\n";
  return out;
}

std::string batch_boundary_analysis(const std::vector<TierRunRecord>& records,
                                    const TierTable& table) {
  std::map<double, BatchSizeRuns> sizes;
  for (const TierRunRecord& record : records) {
    const std::string_view variant = record.config.variant;
    const bool without_lm = variant.starts_with(kBatchNoLmPrefix);
    if (!without_lm && !variant.starts_with(kBatchLmPrefix)) continue;
    BatchSizeRuns& size = sizes[record.config.tier_gb];
    if (size.tier.empty()) size.tier = record.config.tier;
    (without_lm ? size.without_lm : size.with_lm).add(record);
  }

  const std::string rule = rule_of('=', 120);
  std::string out = "\n" + rule + "\nBATCH BOUNDARY ANALYSIS\n" + rule + "\n\n";
  out += "  This analysis shows the maximum batch size that completed successfully\n";
  out += "  for each simulated VRAM tier.\n\n";
  if (sizes.empty()) {
    out += "  ⚠️ No batch-boundary runs to analyse.\n";
    return out;
  }

  const std::string_view gap = "  ";
  out += "  " +
         table_line({{"VRAM", 7, true},
                     {"Tier", 12},
                     {"Max Batch (no LM)", 18, true},
                     {"Peak VRAM", 10, true},
                     {"Max Batch (with LM)", 20, true},
                     {"Peak VRAM", 10, true}},
                    gap) +
         "\n";
  out += "  " + rule_of('-', 90) + "\n";
  for (const auto& [tier_gb, size] : sizes) {
    out += "  " +
           table_line({{vram_label(tier_gb), 7, true},
                       {size.tier, 12},
                       {size.without_lm.batch_text(), 18, true},
                       {size.without_lm.peak_text(), 10, true},
                       {size.with_lm.batch_text(), 20, true},
                       {size.with_lm.peak_text(), 10, true}},
                      gap) +
           "\n";
  }
  out += "  " + rule_of('-', 90) + "\n\n";

  out += "  Comparison with current GPU_TIER_CONFIGS:\n";
  out += "  " +
         table_line({{"VRAM", 7, true},
                     {"Tier", 12},
                     {"Config (no LM)", 15, true},
                     {"Tested (no LM)", 15, true},
                     {"Config (LM)", 12, true},
                     {"Tested (LM)", 12, true},
                     {"Recommendation"}},
                    gap) +
         "\n";
  out += "  " + rule_of('-', 110) + "\n";
  for (const auto& [tier_gb, size] : sizes) {
    const TierRecord& configured = table.tier_for_memory(tier_gb);
    std::string recommendation =
        size.without_lm.recommendation("no_lm", configured.max_batch_without_lm);
    const std::string with_lm = size.with_lm.recommendation("lm", configured.max_batch_with_lm);
    if (!with_lm.empty()) recommendation += (recommendation.empty() ? "" : ", ") + with_lm;
    if (recommendation.empty()) recommendation = "OK";
    out += "  " +
           table_line({{vram_label(tier_gb), 7, true},
                       {size.tier, 12},
                       {std::to_string(configured.max_batch_without_lm), 15, true},
                       {size.without_lm.batch_text(), 15, true},
                       {std::to_string(configured.max_batch_with_lm), 12, true},
                       {size.with_lm.batch_text(), 12, true},
                       {recommendation}},
                      gap) +
           "\n";
  }
  out += "  " + rule_of('-', 110) + "\n\n";
  out += "  Note: batch boundaries are empirical and depend on:\n";
  out += "    - the DiT model variant (turbo or base)\n";
  out += "    - the generation duration (longer songs need more memory per batch item)\n";
  out += "    - flash-attention availability\n";
  out += "    - the LM size (0.6B, 1.7B or 4B)\n";
  out += "    - quantization and offload\n";
  return out;
}

}  // namespace acefit::profile
