// The host: RAM from /proc/meminfo (MemTotal, MemAvailable) and the CPU's
// name from the first "model name" line of /proc/cpuinfo.
#include <charconv>
#include <fstream>
#include <limits>
#include <string_view>

#include "adapt/probe/probe_internal.h"

namespace acefit::probe {
namespace {

// Files are read no further than this many lines.
constexpr std::size_t kMaxLines = 1 << 16;

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string_view::npos) return std::string_view();
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

// The value of "Key:   1234 kB" in bytes, or nullopt for any other shape.
std::optional<std::uint64_t> kilobytes_field(std::string_view line, std::string_view key) {
  if (line.size() <= key.size() || line.substr(0, key.size()) != key || line[key.size()] != ':') {
    return std::nullopt;
  }
  const std::string_view rest = trim(line.substr(key.size() + 1));
  std::uint64_t kib = 0;
  const auto [end, error] = std::from_chars(rest.data(), rest.data() + rest.size(), kib);
  if (error != std::errc() || end == rest.data()) return std::nullopt;
  const std::string_view unit = trim(rest.substr(static_cast<std::size_t>(end - rest.data())));
  if (unit != "kB") return std::nullopt;
  if (kib > std::numeric_limits<std::uint64_t>::max() / 1024) return std::nullopt;
  return kib * 1024;
}

std::string cpu_model_name(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  for (std::size_t n = 0; n < kMaxLines && std::getline(in, line); ++n) {
    const std::string_view view(line);
    const auto colon = view.find(':');
    if (colon == std::string_view::npos) continue;
    if (trim(view.substr(0, colon)) == "model name")
      return std::string(trim(view.substr(colon + 1)));
  }
  return std::string();
}

}  // namespace

ApiProbe probe_host(const std::string& meminfo_path, const std::string& cpuinfo_path) {
  ApiProbe result;
  result.outcome.api = "host";
  result.outcome.library = meminfo_path;
  ProbedDevice host;
  host.api = "host";
  host.vendor = "CPU";
  if (!cpuinfo_path.empty()) host.name = cpu_model_name(cpuinfo_path);

  if (meminfo_path.empty()) {
    result.outcome.state = ProbeOutcome::State::disabled;
    result.devices.push_back(std::move(host));
    return result;
  }
  std::ifstream in(meminfo_path);
  if (!in) {
    set_failed(result.outcome, "cannot read " + meminfo_path);
    result.devices.push_back(std::move(host));
    return result;
  }
  std::optional<std::uint64_t> total;
  std::optional<std::uint64_t> available;
  std::string line;
  for (std::size_t n = 0; n < kMaxLines && std::getline(in, line); ++n) {
    if (!total) total = kilobytes_field(line, "MemTotal");
    if (!available) available = kilobytes_field(line, "MemAvailable");
    if (total && available) break;
  }
  if (!total || *total == 0) {
    set_failed(result.outcome, "no MemTotal line in " + meminfo_path);
  } else {
    set_memory(host, *total, available);
    if (!available) add_note(result.outcome, "no MemAvailable line in " + meminfo_path);
    result.outcome.device_count = 1;
  }
  result.devices.push_back(std::move(host));
  return result;
}

}  // namespace acefit::probe
