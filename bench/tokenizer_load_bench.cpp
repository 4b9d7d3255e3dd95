// acefit-tokenizer-load-bench: times loading the real Qwen3 tokenizer.json
// (11 MB) with acefit (Tokenizer::load_json_file: read, strict streaming
// parse, every TX-08 check, the tables built) against parsing the same
// bytes with nlohmann-json (a DOM only, no checks) and with acefit's strict
// pull reader alone (events only), in the same run, and prints one JSON
// document on stdout.
//   acefit-tokenizer-load-bench [DIR] [--runs N]
// DIR holds tokenizer.json (default: ACEFIT_QWEN3_TOKENIZER_DIR). Each side
// runs N times (default 7), interleaved; the JSON gives the median wall
// time and the median and fastest CPU time (this thread) of each.
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "bench_machine.h"
#include "io/json/strict_json.h"
#include "io/tokenizer/tokenizer.h"

namespace {

// CPU seconds of this thread: on a shared machine wall time also counts
// the other jobs; the JSON gives both.
double thread_cpu_s() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + 1e-9 * static_cast<double>(now.tv_nsec);
}

struct Stopwatch {
  std::chrono::steady_clock::time_point wall = std::chrono::steady_clock::now();
  double cpu = thread_cpu_s();
};

struct Times {
  std::vector<double> wall_s, cpu_s;
  void add(const Stopwatch& start) {
    wall_s.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start.wall).count());
    cpu_s.push_back(thread_cpu_s() - start.cpu);
  }
};

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else {
      dir = argv[i];
    }
  }
  if (dir.empty()) {
    const char* env = std::getenv("ACEFIT_QWEN3_TOKENIZER_DIR");
    if (env != nullptr) dir = env;
  }
  if (dir.empty()) {
    std::fprintf(stderr,
                 "acefit-tokenizer-load-bench: give the folder of tokenizer.json or set "
                 "ACEFIT_QWEN3_TOKENIZER_DIR\n");
    return 2;
  }
  const std::string path = dir + "/tokenizer.json";
  std::ifstream in(path, std::ios::binary);
  std::ostringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  if (!in || text.empty()) {
    std::fprintf(stderr, "acefit-tokenizer-load-bench: cannot read %s\n", path.c_str());
    return 2;
  }
  Times acefit, reader_only, nlohmann_dom;
  std::size_t reader_events = 0;
  std::int32_t vocab_size = 0;
  std::size_t nlohmann_vocab = 0;
  for (int run = 0; run < runs; ++run) {
    Stopwatch start;
    auto tokenizer = acefit::Tokenizer::load_json_file(path);
    acefit.add(start);
    if (!tokenizer.ok()) {
      std::fprintf(stderr, "acefit-tokenizer-load-bench: %s\n",
                   tokenizer.status().to_string().c_str());
      return 1;
    }
    vocab_size = tokenizer->vocab_size();
    start = Stopwatch();
    acefit::JsonReader reader(text, {});
    acefit::JsonEvent event;
    reader_events = 0;
    while (reader.next(event) && event.type != acefit::JsonEventType::end) ++reader_events;
    reader_only.add(start);
    start = Stopwatch();
    const nlohmann::json parsed = nlohmann::json::parse(text);
    nlohmann_dom.add(start);
    nlohmann_vocab = parsed["model"]["vocab"].size();
  }
  const nlohmann::ordered_json report = {
      {"machine", {{"cpu", acefit::bench::cpu_model()}}},
      {"file", path},
      {"file_bytes", text.size()},
      {"runs", runs},
      {"acefit_load",
       {{"what", "Tokenizer::load_json_file: read + strict parse + checks + tables"},
        {"median_s", median(acefit.wall_s)},
        {"median_cpu_s", median(acefit.cpu_s)},
        {"min_cpu_s", *std::min_element(acefit.cpu_s.begin(), acefit.cpu_s.end())},
        {"vocab_size", vocab_size}}},
      {"acefit_json_reader",
       {{"what", "acefit's strict pull reader over the same bytes (events only)"},
        {"median_s", median(reader_only.wall_s)},
        {"median_cpu_s", median(reader_only.cpu_s)},
        {"min_cpu_s", *std::min_element(reader_only.cpu_s.begin(), reader_only.cpu_s.end())},
        {"events", reader_events}}},
      {"nlohmann_parse",
       {{"what", "nlohmann::json::parse of the same bytes (DOM only, no checks)"},
        {"median_s", median(nlohmann_dom.wall_s)},
        {"median_cpu_s", median(nlohmann_dom.cpu_s)},
        {"min_cpu_s", *std::min_element(nlohmann_dom.cpu_s.begin(), nlohmann_dom.cpu_s.end())},
        {"vocab_entries", nlohmann_vocab}}},
      {"acefit_over_nlohmann_cpu", median(acefit.cpu_s) / median(nlohmann_dom.cpu_s)}};
  std::printf("%s\n", report.dump(2).c_str());
  return 0;
}
