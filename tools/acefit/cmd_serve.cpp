// acefit serve: the HTTP server (docs/SERVER.md). Opens the engine and the
// job store, serves upstream ACE-Step's API, acefit's own routes and the
// web UI, and shuts down gracefully on SIGINT/SIGTERM: readiness off, new
// submissions refused, the running job given a grace period, queued jobs
// kept in the store for the next start.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "cli_common.h"
#include "commands.h"
#include "confine.h"
#include "core/timer.h"
#include "http_server.h"
#include "io/file/atomic_file.h"
#include "io/file/temp_cleanup.h"
#include "job_queue.h"
#include "job_store.h"
#include "profile/derive.h"
#include "release_request.h"
#include "request_cli.h"
#include "runtime.h"
#include "settings_cli.h"

namespace acefit::cli {

namespace {

struct ServeArgs {
  std::string host = "127.0.0.1";
  int port = 8001;
  std::string checkpoints = "checkpoints";
  std::string output_dir = "acefit-output";
  int queue_size = 200;
  std::string db;
  double result_ttl_s = 86400;
  std::string api_key;
  std::string input_dir;
  bool insecure = false;
  int max_upload_mib = 32;
  double shutdown_grace_s = 30;
  int http_threads = 8;
  SettingFlags settings;
};

constexpr const char* kCommand = "serve";

int g_signal_pipe[2] = {-1, -1};

void on_stop_signal(int signal_number) {
  const int saved = errno;
  const auto byte = static_cast<unsigned char>(signal_number);
  (void)!::write(g_signal_pipe[1], &byte, 1);
  errno = saved;
}

// CLI::Range lets NaN through (every comparison with it is false).
const CLI::Validator kFiniteNumber(
    [](std::string& text) {
      char* end = nullptr;
      const double value = std::strtod(text.c_str(), &end);
      return std::isfinite(value) ? std::string() : std::string("must be a finite number");
    },
    "FINITE");

// The check-gpu document plus the tier table's tiers (GET /v1/gpu).
Expected<nlohmann::json> gpu_document(const SettingFlags& flags) {
  auto context = resolve_from_process(flags);
  if (!context.ok()) return context.status();
  nlohmann::json document = check_gpu_json(*context);
  const nlohmann::json table =
      nlohmann::json::parse(profile::tier_table_json(context->table, ""), nullptr, false);
  document["tiers"] =
      table.is_object() ? table.value("tiers", nlohmann::json::array()) : nlohmann::json::array();
  return document;
}

int run_serve(ServeArgs& args) {
  // Checks that need nothing opened.
  if (args.api_key.empty()) {
    if (const char* key = std::getenv("ACESTEP_API_KEY"); key != nullptr) args.api_key = key;
  }
  if (!server::is_loopback_host(args.host) && args.api_key.empty() && !args.insecure) {
    return report_error(kCommand, "--host " + args.host +
                                      " is not a loopback address and no API key is set "
                                      "(--api-key or ACESTEP_API_KEY); pass --insecure to serve "
                                      "it without authentication");
  }
  if (!args.input_dir.empty()) {
    const std::string canonical = server::canonical_path(args.input_dir);
    if (canonical.empty() || !std::filesystem::is_directory(canonical))
      return report_error(kCommand, "--input-dir " + args.input_dir + " is not a folder");
    args.input_dir = canonical;
  }
  std::error_code error;
  std::filesystem::create_directories(args.output_dir, error);
  if (error) {
    return report_error(
        kCommand, "--output-dir " + args.output_dir + " cannot be created: " + error.message());
  }
  if (Status folder = check_output_folder(args.output_dir); !folder.ok()) {
    return report_error(kCommand, "--output-dir " + args.output_dir + ": " + folder.message());
  }
  const std::string output_dir = server::canonical_path(args.output_dir);
  // Temp files of a server that died (kill -9) mid-write or mid-upload.
  const std::uint64_t stale =
      remove_dead_owner_temp_files(output_dir, kAtomicTempPrefix, /*min_age_s=*/0);
  if (stale > 0) {
    std::fprintf(stderr, "acefit serve: removed %llu stale temp file(s) in %s\n",
                 static_cast<unsigned long long>(stale), output_dir.c_str());
  }

  // SIGINT/SIGTERM: the handler only writes the signal number into a pipe
  // (async-signal-safe, whichever thread it runs on); a watcher thread acts.
  if (::pipe2(g_signal_pipe, O_CLOEXEC) != 0) {
    return report_error(kCommand, "cannot create the signal pipe", kExitRunFailed);
  }
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto gpu = gpu_document(args.settings);
  if (!gpu.ok()) return report_error(kCommand, gpu.status().message(), exit_code_for(gpu.status()));

  const std::string db = args.db.empty() ? output_dir + "/jobs.sqlite3" : args.db;
  auto store = server::JobStore::open(db);
  if (!store.ok()) return report_error(kCommand, store.status().message(), kExitRunFailed);

  EngineConfig config;
  config.checkpoints = args.checkpoints;
  config.settings = args.settings.values;
  config.tier_table = args.settings.tier_table_path;
  config.derived = args.settings.derived;
  config.environment = process_environment();
  config.tokenizer_dir = default_tokenizer_dir();
  auto engine = Engine::open(config);
  if (!engine.ok()) {
    return report_error(kCommand, engine.status().message(), exit_code_for(engine.status()));
  }
  for (const std::string& warning : (*engine)->info().warnings) report_warning(kCommand, warning);

  std::timed_mutex engine_mutex;
  server::QueueConfig queue_config;
  queue_config.max_queued = static_cast<std::size_t>(args.queue_size);
  queue_config.ttl = std::chrono::milliseconds(static_cast<std::int64_t>(args.result_ttl_s * 1000));
  queue_config.housekeeping_interval =
      std::min(queue_config.housekeeping_interval,
               std::max(std::chrono::milliseconds(1000), queue_config.ttl / 2));
  auto queue = server::JobQueue::create(
      **store, server::make_job_runner(**engine, engine_mutex, output_dir), queue_config);
  if (!queue.ok()) return report_error(kCommand, queue.status().message(), kExitRunFailed);

  server::ServerOptions options;
  options.host = args.host;
  options.port = args.port;
  options.output_dir = output_dir;
  options.api_key = args.api_key;
  options.input_dir = args.input_dir;
  options.max_upload_bytes = static_cast<std::uint64_t>(args.max_upload_mib) << 20;
  options.transport.threads = static_cast<std::size_t>(args.http_threads);
  options.gpu_document = std::move(*gpu);
  server::HttpServer http(std::move(options), **engine, engine_mutex, **queue, **store);
  auto port = http.bind();
  if (!port.ok()) return report_error(kCommand, port.status().message(), kExitRunFailed);
  const std::string shown_host =
      args.host.find(':') != std::string::npos ? "[" + args.host + "]" : args.host;
  std::printf("acefit serve: listening on http://%s:%d\n", shown_host.c_str(), *port);
  std::fflush(stdout);

  server::JobQueue& jobs = **queue;
  const auto grace =
      std::chrono::milliseconds(static_cast<std::int64_t>(args.shutdown_grace_s * 1000));
  std::thread signal_thread([&] {
    std::thread stopper;
    int received = 0;
    for (;;) {
      unsigned char signal_number = 0;
      const ssize_t n = ::read(g_signal_pipe[0], &signal_number, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || signal_number == 0) break;  // 0: the server stopped
      if (++received == 1) {
        std::fprintf(stderr, "acefit serve: %s: shutting down (grace %.0f s)\n",
                     signal_number == SIGINT ? "SIGINT" : "SIGTERM", args.shutdown_grace_s);
        http.begin_drain();
        stopper = std::thread([&] {
          jobs.shutdown(grace);
          http.stop();
        });
      } else {
        std::fprintf(stderr, "acefit serve: second signal: stopping the running job now\n");
        jobs.shutdown(std::chrono::milliseconds(0));
      }
    }
    if (stopper.joinable()) stopper.join();
  });
  // Warm-up: the models of a default request load while the server already
  // answers (submissions get 503 not_ready with Retry-After until then).
  http.state().ready = false;
  std::thread warm_up([&] {
    Stopwatch watch;
    if (const char* delay = std::getenv("ACEFIT_TEST_WARM_UP_DELAY_MS"); delay && *delay)
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoll(delay)));
    Status status;
    {
      std::lock_guard<std::timed_mutex> lock(engine_mutex);
      auto defaults =
          server::parse_release_request(nlohmann::json::object(), server::FieldSource::json);
      if (defaults.ok()) status = (*engine)->warm_up(defaults.value->song);
    }
    // Ready before the line says so: a client reading it may ask at once.
    http.state().ready = true;
    if (status.ok()) {
      std::printf("acefit serve: ready (models loaded in %.1f s)\n", watch.elapsed_s());
    } else {
      std::printf(
          "acefit serve: ready (the default request's models did not load: %s; each job "
          "loads its own)\n",
          status.message().c_str());
    }
    std::fflush(stdout);
  });
  const bool listened = http.listen();
  warm_up.join();
  const unsigned char stop_byte = 0;
  (void)!::write(g_signal_pipe[1], &stop_byte, 1);
  signal_thread.join();
  jobs.shutdown(grace);
  std::fprintf(stderr, "acefit serve: stopped\n");
  if (!listened && !http.state().stopping) {
    return report_error(kCommand, "the listening socket failed", kExitRunFailed);
  }
  return 0;
}

}  // namespace

void add_serve_command(CLI::App& app, int& exit_code) {
  auto* command = app.add_subcommand(
      "serve",
      "HTTP server: upstream ACE-Step's API (/release_task, /query_result, ...), acefit's "
      "/v1/plan, /v1/events, /v1/cancel, /v1/gpu, and the web UI at /");
  auto args = std::make_shared<ServeArgs>();
  keep_text(command->add_option("--host", args->host,
                                "Address to listen on [default: 127.0.0.1]; a non-loopback "
                                "address needs an API key (or --insecure)"));
  command->add_option("--port", args->port, "Port [default: 8001]; 0 picks a free one")
      ->check(CLI::Range(0, 65535));
  keep_text(command->add_option("--checkpoints", args->checkpoints,
                                "The checkpoints/ folder [default: checkpoints]"));
  keep_text(command->add_option("--output-dir", args->output_dir,
                                "Where the jobs' audio goes [default: acefit-output]"));
  command
      ->add_option("--queue-size", args->queue_size,
                   "Jobs that may wait (ACESTEP_QUEUE_MAXSIZE) [default: 200]")
      ->check(CLI::Range(1, 100000));
  keep_text(
      command->add_option("--db", args->db, "The job database [default: OUTPUT_DIR/jobs.sqlite3]"));
  command
      ->add_option("--result-ttl-s", args->result_ttl_s,
                   "Finished jobs and their files are removed after this many seconds "
                   "[default: 86400]")
      ->check(kFiniteNumber & CLI::Range(1.0, 3.2e9));
  keep_text(command->add_option("--api-key", args->api_key,
                                "Require this key (Bearer header or ai_token) [default: "
                                "ACESTEP_API_KEY]"));
  keep_text(command->add_option("--input-dir", args->input_dir,
                                "Folder reference_audio_path / src_audio_path may point into "
                                "[default: none, such paths are refused]"));
  command->add_flag("--insecure", args->insecure, "Allow a non-loopback --host without an API key");
  command
      ->add_option("--max-upload-mib", args->max_upload_mib, "Largest upload in MiB [default: 32]")
      ->check(CLI::Range(1, 1024));
  command
      ->add_option("--shutdown-grace-s", args->shutdown_grace_s,
                   "On SIGTERM/SIGINT, how long the running job may go on [default: 30]")
      ->check(kFiniteNumber & CLI::Range(0.0, 3600.0));
  command
      ->add_option("--http-threads", args->http_threads, "Connections served at once [default: 8]")
      ->check(CLI::Range(2, 256));
  add_setting_flags(*command, args->settings);
  command->callback([args, &exit_code] { exit_code = run_serve(*args); });
}

}  // namespace acefit::cli
