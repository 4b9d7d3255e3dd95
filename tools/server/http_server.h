// `acefit serve`'s HTTP server (docs/SERVER.md): upstream ACE-Step's API
// (/release_task, /query_result, /v1/audio, /health, /v1/models,
// /v1/stats) and acefit's own routes (/v1/cancel, /v1/events, /v1/plan,
// /v1/gpu), the web UI's files, authentication, limits and graceful
// shutdown, over cpp-httplib. Jobs run through the JobQueue, whose run
// function calls Engine::generate (make_job_runner).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "acefit/engine.h"
#include "acefit/status.h"
#include "http_transport.h"
#include "job_queue.h"
#include "job_store.h"

namespace acefit::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8001;         // 0: any free port
  std::string output_dir;  // absolute; the jobs' audio files
  std::string api_key;     // "": no authentication
  // Where reference_audio_path / src_audio_path may point ("": refused).
  std::string input_dir;
  std::uint64_t max_json_bytes = 1ull << 20;
  std::uint64_t max_upload_bytes = 32ull << 20;
  TransportLimits transport;
  // GET /v1/gpu: computed once at startup (check-gpu --json plus "tiers").
  nlohmann::json gpu_document = nlohmann::json::object();
};

// What the routes share.
struct ServerState {
  ServerOptions options;
  Engine& engine;
  // One caller at a time (Engine is not thread-safe): the job worker holds
  // it for a whole generation, /v1/plan for a prepare.
  std::timed_mutex& engine_mutex;
  JobQueue& queue;
  JobStore& store;
  bool loopback = true;  // bound to a loopback address: Host is checked
  std::atomic<bool> ready{true};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};  // SSE streams end
  // Responses by status class and rejections by reason (GET /v1/stats).
  std::atomic<std::uint64_t> responses_2xx{0}, responses_4xx{0}, responses_5xx{0};
  std::atomic<std::uint64_t> rejected_auth{0}, rejected_size{0}, rejected_queue_full{0},
      rejected_shutting_down{0}, rejected_invalid{0};
  std::atomic<std::uint64_t> handler_exceptions{0};
  const TransportCounters* transport = nullptr;  // connections (GET /v1/stats)

  ServerState(ServerOptions o, Engine& e, std::timed_mutex& m, JobQueue& q, JobStore& s)
      : options(std::move(o)), engine(e), engine_mutex(m), queue(q), store(s) {}
};

class HttpServer {
 public:
  HttpServer(ServerOptions options, Engine& engine, std::timed_mutex& engine_mutex, JobQueue& queue,
             JobStore& store);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds host:port; returns the port (the chosen one for port 0).
  Expected<int> bind();
  // Serves until stop(); false when the listening socket failed.
  bool listen();
  // Readiness off, new submissions 503 shutting_down, event streams end;
  // the other routes keep answering until stop().
  void begin_drain();
  void stop();
  ServerState& state() { return *state_; }

 private:
  std::unique_ptr<ServerState> state_;
  std::unique_ptr<GuardedServer> http_;
};

// True for 127.0.0.0/8, ::1 and "localhost".
bool is_loopback_host(const std::string& host);

// The JobQueue's run function: reads the stored request back
// (parse_release_request), writes OUTPUT_DIR/<task id>-N.<ext> through
// Engine::generate under engine_mutex, and returns upstream's result list.
RunFunction make_job_runner(Engine& engine, std::timed_mutex& engine_mutex, std::string output_dir);

}  // namespace acefit::server
