// acefit-model-bench: times whole-model work at the real dims on the CPU
// device, for scripts/bench-models, which runs the PyTorch reference
// (tests/reference/bench_reference.py) on the same inputs in the same run.
//
//   acefit-model-bench dit --checkpoint DIR --dtype bf16|f32 --frames 750,4500
//                      [--enc-len 300] [--warmup 1] [--runs 3] [--io DIR]
//   acefit-model-bench vae --vae DIR --frames 250 [--warmup 1] [--runs 3] [--io DIR]
//   acefit-model-bench lm --checkpoint DIR --dtype bf16|f32 [--prompt 256] [--steps 32]
//                      [--warmup 2] [--kv grown|preallocated] [--io DIR]
//   common: [--threads 2] [--seed 1234] [--device cpu|vulkan:N]
//
// --device vulkan:N runs the model on that Vulkan device (`acefit devices`
// lists them); each timed run then ends with the device synchronized.
//
// dit: loads only the DiT decoder (matrices stored as --dtype), then per
// frame count T builds random inputs from --seed (x_t [1, T, 64], context
// [1, T, 128], encoder states [1, L, 2048]) and times prepare once and
// forward (t = r = 0.5) warm-up + runs times. vae: loads the Oobleck decoder
// and times decode of random latents [1, 64, T]. With --io, the inputs and
// the outputs are written there as raw little-endian f32 (the names are in
// the JSON) for the reference to read and compare. Prints one JSON object
// per line on stdout: the timings (every run and the median), load time and
// the peak RSS of the process.
//
// lm: loads the 5 Hz LM folder (acestep-5Hz-lm-*) with --dtype matrices,
// prefills two sequences (a CFG pair) with seeded random text ids, P each,
// then runs warm-up + steps decode steps of both sequences together, as
// phase 2 of generation does: decode, the tied head over the audio-code rows
// [151669, 215669) only, and the download of those logits. Every step is
// timed alone (the warm-up steps are left out); the row gives the median
// ms per step and steps per second (= audio codes per second of one item).
// The tokens fed are seeded random audio codes, the same for both
// sequences. With --io the prompt ids and tokens (raw little-endian i32) and
// the last step's logits [2, 64000] (f32) are written there.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/thread_pool.h"
#include "core/timer.h"
#include "device/cpu/cpu_device.h"
#include "device/device_selection.h"
#include "io/checkpoint/model_config.h"
#include "models/dit/dit_decoder.h"
#include "models/host_tensor.h"
#include "models/lm/causal_lm.h"
#include "models/lm/kv_cache.h"
#include "models/lm/lm_tokens.h"
#include "models/vae/oobleck_decoder.h"
#include "models/weight_loader.h"
#include "ops/cpu/blas.h"
#include "ops/op_context.h"

namespace {

using acefit::Expected;
using acefit::Status;
using acefit::Stopwatch;
using acefit::Tensor;
using nlohmann::ordered_json;

struct Options {
  std::string mode;
  std::string checkpoint;  // dit: the acestep-v15-* folder; vae: the vae folder
  std::string dtype = "bf16";
  std::vector<std::int64_t> frames;
  std::int64_t enc_len = 300;
  int warmup = 1;
  int runs = 3;
  int threads = 2;
  std::uint64_t seed = 1234;
  std::string io_dir;
  std::string device = "cpu";
  std::int64_t prompt = 256;  // lm: prompt tokens per sequence
  std::int64_t steps = 32;    // lm: timed decode steps
  std::string kv = "grown";   // lm: KvCache kind
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "acefit-model-bench: %s\n"
               "usage: acefit-model-bench dit --checkpoint DIR --dtype bf16|f32 --frames 750,4500\n"
               "                          [--enc-len 300] [--warmup 1] [--runs 3] [--io DIR]\n"
               "       acefit-model-bench vae --vae DIR --frames 250 [--warmup 1] [--runs 3]\n"
               "                          [--io DIR]\n"
               "       acefit-model-bench lm --checkpoint DIR --dtype bf16|f32 [--prompt 256]\n"
               "                          [--steps 32] [--warmup 2] [--kv grown|preallocated]\n"
               "                          [--io DIR]\n"
               "       common: [--threads 2] [--seed 1234] [--device cpu|vulkan:N]\n",
               why.c_str());
  std::exit(2);
}

std::vector<std::int64_t> parse_list(const std::string& text) {
  std::vector<std::int64_t> out;
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    char* end = nullptr;
    const long long v = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || v <= 0) usage("bad frame count '" + item + "'");
    out.push_back(v);
  }
  return out;
}

Options parse(int argc, char** argv) {
  if (argc < 2) usage("no mode");
  Options o;
  o.mode = argv[1];
  if (o.mode != "dit" && o.mode != "vae" && o.mode != "lm") usage("mode must be dit, vae or lm");
  if (o.mode == "lm") o.warmup = 2;
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--checkpoint" || flag == "--vae") {
      o.checkpoint = value;
    } else if (flag == "--dtype") {
      o.dtype = value;
    } else if (flag == "--frames") {
      o.frames = parse_list(value);
    } else if (flag == "--enc-len") {
      o.enc_len = std::stoll(value);
    } else if (flag == "--warmup") {
      o.warmup = std::stoi(value);
    } else if (flag == "--runs") {
      o.runs = std::stoi(value);
    } else if (flag == "--threads") {
      o.threads = std::stoi(value);
    } else if (flag == "--seed") {
      o.seed = std::stoull(value);
    } else if (flag == "--io") {
      o.io_dir = value;
    } else if (flag == "--device") {
      o.device = value;
    } else if (flag == "--prompt") {
      o.prompt = std::stoll(value);
    } else if (flag == "--steps") {
      o.steps = std::stoll(value);
    } else if (flag == "--kv") {
      o.kv = value;
    } else {
      usage("unknown flag " + flag);
    }
  }
  if (o.checkpoint.empty()) usage("no checkpoint folder");
  if (o.mode == "lm") {
    if (o.prompt < 1 || o.prompt > 32768) usage("--prompt must be 1..32768");
    if (o.steps < 1 || o.steps > 4096) usage("--steps must be 1..4096");
    if (o.kv != "grown" && o.kv != "preallocated") usage("--kv must be grown or preallocated");
  } else if (o.frames.empty()) {
    usage("no --frames");
  }
  if (o.dtype != "bf16" && o.dtype != "f32") usage("--dtype must be bf16 or f32");
  if (o.runs < 1 || o.warmup < 0 || o.threads < 1) usage("bad run or thread count");
  return o;
}

// VmHWM of this process in MiB (0 where /proc is not there).
double peak_rss_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0.0;
}

std::vector<float> random_normal(std::size_t n, std::uint64_t seed) {
  acefit::Rng rng(seed);
  std::vector<float> out(n);
  for (auto& v : out) v = rng.normal();
  return out;
}

Status write_raw(const std::string& path, const std::vector<float>& values) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(values.data()),
             static_cast<std::streamsize>(values.size() * sizeof(float)));
  if (!file) return acefit::internal_error("cannot write " + path);
  return Status();
}

// CPU seconds of every thread of this process so far.
double process_cpu_s() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Wall and CPU seconds of the timed runs.
struct Runs {
  std::vector<double> wall_s, cpu_s;
};

acefit::Device* device_of_runs = nullptr;  // synchronized at the end of each run

// Runs `fn` warmup + runs times.
template <typename Fn>
Expected<Runs> time_runs(const Options& o, Fn&& fn) {
  Runs runs;
  for (int i = 0; i < o.warmup + o.runs; ++i) {
    const double cpu0 = process_cpu_s();
    Stopwatch watch;
    ACEFIT_TRY(fn());
    ACEFIT_TRY(device_of_runs->synchronize());
    const double s = watch.elapsed_s();
    const double cpu = process_cpu_s() - cpu0;
    if (i >= o.warmup) {
      runs.wall_s.push_back(s);
      runs.cpu_s.push_back(cpu);
    }
    std::fprintf(stderr, "  %s run %d: %.3f s (cpu %.3f s)\n", i < o.warmup ? "warm-up" : "timed",
                 i, s, cpu);
  }
  return runs;
}

Status run_dit(const Options& o, const acefit::ops::OpContext& ctx) {
  ACEFIT_ASSIGN(const acefit::DitConfig config, acefit::load_dit_config(o.checkpoint));
  ACEFIT_ASSIGN(const auto loader, acefit::models::WeightLoader::open(o.checkpoint));
  const acefit::DType dtype = o.dtype == "bf16" ? acefit::DType::bf16 : acefit::DType::f32;
  Stopwatch load_watch;
  ACEFIT_ASSIGN(const auto dit, acefit::models::DitDecoder::load(loader, ctx, config, dtype));
  const double load_s = load_watch.elapsed_s();
  std::fprintf(stderr, "acefit dit (%s): loaded in %.1f s\n", o.dtype.c_str(), load_s);

  const std::int64_t hidden = config.hidden_size;
  const std::int64_t latent = config.audio_acoustic_hidden_dim;
  const std::int64_t ctx_ch = config.in_channels - latent;
  for (const std::int64_t frames : o.frames) {
    const std::string tag = "T" + std::to_string(frames);
    const auto x_host = random_normal(static_cast<std::size_t>(frames * latent), o.seed + 1);
    const auto c_host = random_normal(static_cast<std::size_t>(frames * ctx_ch), o.seed + 2);
    const auto e_host = random_normal(static_cast<std::size_t>(o.enc_len * hidden), o.seed + 3);
    ACEFIT_ASSIGN(const Tensor x_t,
                  acefit::models::tensor_from_host(ctx.device, {1, frames, latent}, x_host));
    ACEFIT_ASSIGN(const Tensor context,
                  acefit::models::tensor_from_host(ctx.device, {1, frames, ctx_ch}, c_host));
    ACEFIT_ASSIGN(const Tensor enc,
                  acefit::models::tensor_from_host(ctx.device, {1, o.enc_len, hidden}, e_host));

    std::fprintf(stderr, "acefit dit (%s) T=%lld:\n", o.dtype.c_str(),
                 static_cast<long long>(frames));
    Stopwatch prepare_watch;
    ACEFIT_ASSIGN(const auto cache, dit.prepare(ctx, enc));
    const double prepare_s = prepare_watch.elapsed_s();
    const std::vector<float> t = {0.5f};
    Tensor velocity;
    ACEFIT_ASSIGN(const auto seconds, time_runs(o, [&]() -> Status {
                    ACEFIT_ASSIGN(velocity, dit.forward(ctx, x_t, context, t, t, cache));
                    return Status();
                  }));

    ordered_json row = {{"model", "dit"},
                        {"frames", frames},
                        {"enc_len", o.enc_len},
                        {"dtype", o.dtype},
                        {"threads", ctx.pool.size()},
                        {"load_s", load_s},
                        {"prepare_s", prepare_s},
                        {"runs_s", seconds.wall_s},
                        {"median_s", median(seconds.wall_s)},
                        {"cpu_runs_s", seconds.cpu_s},
                        {"median_cpu_s", median(seconds.cpu_s)}};
    if (!o.io_dir.empty()) {
      const std::string base = o.io_dir + "/dit_" + tag;
      ACEFIT_TRY(write_raw(base + "_x_t.f32", x_host));
      ACEFIT_TRY(write_raw(base + "_context.f32", c_host));
      ACEFIT_TRY(write_raw(base + "_enc.f32", e_host));
      ACEFIT_ASSIGN(const auto v_host, acefit::models::tensor_to_host(velocity));
      const std::string out = base + "_velocity_" + o.dtype + ".f32";
      ACEFIT_TRY(write_raw(out, v_host));
      row["inputs"] = {{"x_t", base + "_x_t.f32"},
                       {"context", base + "_context.f32"},
                       {"enc", base + "_enc.f32"}};
      row["output"] = out;
    }
    row["peak_rss_mib"] = peak_rss_mib();
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
  }
  return Status();
}

Status run_vae(const Options& o, const acefit::ops::OpContext& ctx) {
  Stopwatch load_watch;
  ACEFIT_ASSIGN(const auto vae,
                acefit::models::OobleckDecoder::load(o.checkpoint, ctx.device, &ctx.pool));
  const double load_s = load_watch.elapsed_s();
  const std::int64_t channels = vae.config().decoder_input_channels;
  for (const std::int64_t frames : o.frames) {
    const std::string tag = "T" + std::to_string(frames);
    const auto z_host = random_normal(static_cast<std::size_t>(channels * frames), o.seed + 4);
    ACEFIT_ASSIGN(const Tensor latents,
                  acefit::models::tensor_from_host(ctx.device, {1, channels, frames}, z_host));
    std::fprintf(stderr, "acefit vae T=%lld:\n", static_cast<long long>(frames));
    Tensor audio;
    ACEFIT_ASSIGN(const auto seconds, time_runs(o, [&]() -> Status {
                    ACEFIT_ASSIGN(audio, vae.decode(ctx, latents));
                    return Status();
                  }));
    ordered_json row = {{"model", "vae"},
                        {"frames", frames},
                        {"samples", frames * vae.hop()},
                        {"dtype", "f32"},
                        {"threads", ctx.pool.size()},
                        {"load_s", load_s},
                        {"runs_s", seconds.wall_s},
                        {"median_s", median(seconds.wall_s)},
                        {"cpu_runs_s", seconds.cpu_s},
                        {"median_cpu_s", median(seconds.cpu_s)}};
    if (!o.io_dir.empty()) {
      const std::string base = o.io_dir + "/vae_" + tag;
      ACEFIT_TRY(write_raw(base + "_latents.f32", z_host));
      ACEFIT_ASSIGN(const auto a_host, acefit::models::tensor_to_host(audio));
      ACEFIT_TRY(write_raw(base + "_audio.f32", a_host));
      row["inputs"] = {{"latents", base + "_latents.f32"}};
      row["output"] = base + "_audio.f32";
    }
    row["peak_rss_mib"] = peak_rss_mib();
    std::printf("%s\n", row.dump().c_str());
    std::fflush(stdout);
  }
  return Status();
}

template <typename T>
Status write_raw_as(const std::string& path, const std::vector<T>& values) {
  std::ofstream file(path, std::ios::binary);
  file.write(reinterpret_cast<const char*>(values.data()),
             static_cast<std::streamsize>(values.size() * sizeof(T)));
  if (!file) return acefit::internal_error("cannot write " + path);
  return Status();
}

// n ids drawn uniformly from [begin, begin + count).
std::vector<std::int32_t> random_ids(std::size_t n, std::int32_t begin, std::int32_t count,
                                     std::uint64_t seed) {
  acefit::Rng rng(seed);
  std::vector<std::int32_t> out(n);
  for (auto& id : out) {
    id = begin + static_cast<std::int32_t>(rng.next_u64() % static_cast<std::uint64_t>(count));
  }
  return out;
}

Status run_lm(const Options& o, const acefit::ops::OpContext& ctx) {
  namespace lm = acefit::models::lm;
  const acefit::DType dtype = o.dtype == "bf16" ? acefit::DType::bf16 : acefit::DType::f32;
  Stopwatch load_watch;
  ACEFIT_ASSIGN(const lm::CausalLm model, lm::CausalLm::load(o.checkpoint, ctx.device, dtype));
  const double load_s = load_watch.elapsed_s();
  std::fprintf(stderr, "acefit lm (%s): loaded in %.1f s\n", o.dtype.c_str(), load_s);

  const std::int64_t total_steps = o.warmup + o.steps;
  // Text ids for the prompts (below the special tokens), audio codes to feed.
  const auto prompt_ids =
      random_ids(static_cast<std::size_t>(2 * o.prompt), 0, lm::kPadTokenId, o.seed + 5);
  const auto tokens = random_ids(static_cast<std::size_t>(total_steps), lm::kFirstAudioCodeTokenId,
                                 lm::kAudioCodeValues, o.seed + 6);
  lm::KvCacheOptions options;
  options.kind = o.kv == "grown" ? lm::KvCacheKind::grown : lm::KvCacheKind::preallocated;
  options.sequences = 2;
  options.tokens_per_sequence = o.prompt + total_steps;
  ACEFIT_ASSIGN(lm::KvCache cache, lm::KvCache::create(ctx.device, model.config(), options));

  Stopwatch prefill_watch;
  for (int seq = 0; seq < 2; ++seq) {
    const std::span<const std::int32_t> ids(prompt_ids.data() + seq * o.prompt,
                                            static_cast<std::size_t>(o.prompt));
    ACEFIT_ASSIGN(const Tensor hidden, model.prefill(ctx, cache, seq, ids));
    (void)hidden;
  }
  ACEFIT_TRY(ctx.device.synchronize());
  const double prefill_s = prefill_watch.elapsed_s();
  std::fprintf(stderr, "acefit lm (%s): prefill 2 x %lld tokens in %.2f s\n", o.dtype.c_str(),
               static_cast<long long>(o.prompt), prefill_s);

  const std::int64_t code_begin = lm::kFirstAudioCodeTokenId;
  const std::int64_t code_end = code_begin + lm::kAudioCodeValues;
  const int seqs[2] = {0, 1};
  std::vector<double> step_s, step_cpu_s;
  std::vector<float> logits_host;
  for (std::int64_t i = 0; i < total_steps; ++i) {
    const std::int32_t step_tokens[2] = {tokens[i], tokens[i]};
    const double cpu0 = process_cpu_s();
    Stopwatch watch;
    ACEFIT_ASSIGN(const Tensor hidden, model.decode(ctx, cache, seqs, step_tokens));
    ACEFIT_ASSIGN(const Tensor logits, model.logits(ctx, hidden, code_begin, code_end));
    ACEFIT_ASSIGN(logits_host, acefit::models::tensor_to_host(logits));
    const double s = watch.elapsed_s();
    if (i >= o.warmup) {
      step_s.push_back(s);
      step_cpu_s.push_back(process_cpu_s() - cpu0);
    }
  }
  const double median_s = median(step_s);
  std::fprintf(stderr, "acefit lm (%s): %lld steps, median %.1f ms a step\n", o.dtype.c_str(),
               static_cast<long long>(o.steps), 1e3 * median_s);

  ordered_json row = {{"model", "lm"},
                      {"prompt", o.prompt},
                      {"steps", o.steps},
                      {"warmup_steps", o.warmup},
                      {"sequences", 2},
                      {"dtype", o.dtype},
                      {"kv", o.kv},
                      {"threads", ctx.pool.size()},
                      {"load_s", load_s},
                      {"prefill_s", prefill_s},
                      {"steps_s", step_s},
                      {"median_step_ms", 1e3 * median_s},
                      {"median_cpu_step_ms", 1e3 * median(step_cpu_s)},
                      {"steps_per_s", 1.0 / median_s},
                      {"kv_reserved_mib", static_cast<double>(cache.reserved_bytes()) / 1048576.0}};
  if (!o.io_dir.empty()) {
    const std::string base = o.io_dir + "/lm_P" + std::to_string(o.prompt);
    ACEFIT_TRY(write_raw_as(base + "_prompt.i32", prompt_ids));
    ACEFIT_TRY(write_raw_as(base + "_tokens.i32", tokens));
    const std::string out = base + "_logits_" + o.dtype + ".f32";
    ACEFIT_TRY(write_raw(out, logits_host));
    row["inputs"] = {{"prompt", base + "_prompt.i32"}, {"tokens", base + "_tokens.i32"}};
    row["output"] = out;
  }
  row["peak_rss_mib"] = peak_rss_mib();
  std::printf("%s\n", row.dump().c_str());
  std::fflush(stdout);
  return Status();
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  acefit::ThreadPool pool(options.threads);
  acefit::cpu::blas_set_threads(pool.size());
  std::shared_ptr<acefit::Device> device = acefit::make_cpu_device();
  if (options.device != "cpu") {
    std::vector<std::string> warnings;
    auto request = acefit::device_request_from(
        [](std::string_view) { return std::optional<std::string>(); }, options.device);
    auto opened = request.ok()
                      ? acefit::open_device(request.value(), warnings)
                      : acefit::Expected<std::shared_ptr<acefit::Device>>(request.status());
    if (!opened.ok()) {
      std::fprintf(stderr, "acefit-model-bench: %s\n", opened.status().to_string().c_str());
      return 2;
    }
    device = opened.value();
  }
  device_of_runs = device.get();
  const acefit::ops::OpContext ctx{*device, pool};
  const Status status = options.mode == "dit"   ? run_dit(options, ctx)
                        : options.mode == "vae" ? run_vae(options, ctx)
                                                : run_lm(options, ctx);
  if (!status.ok()) {
    std::fprintf(stderr, "acefit-model-bench: %s\n", status.to_string().c_str());
    return 1;
  }
  return 0;
}
