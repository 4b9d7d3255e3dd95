// What the benchmarks print about the machine they ran on.
#pragma once

#include <fstream>
#include <string>

namespace acefit::bench {

// "model name" from /proc/cpuinfo, or "unknown" where there is none.
inline std::string cpu_model() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? std::string("unknown") : line.substr(start);
  }
  return "unknown";
}

}  // namespace acefit::bench
