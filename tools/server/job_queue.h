// The server's job queue (docs/SERVER.md, "Jobs and persistence"): one
// worker thread per device runs the jobs one at a time, oldest first,
// through an injected run function (the server's calls Engine::generate;
// tests inject their own). Every state change is written to the JobStore
// before it is visible, so a job the queue accepted always reaches a
// terminal state with a reason, across restarts too.
//
// Capacity counts the queued jobs only (the running one is not counted):
// with max_queued = Q, Q jobs wait while one runs. Admission is atomic: a
// submission reserves a slot under the lock, then persists the job; a full
// queue answers `full` with a Retry-After computed from measured job times.
//
// Thread-safe: submit, cancel, find, wait_change and stats may be called
// from any thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "acefit/engine.h"
#include "acefit/status.h"
#include "job_store.h"

namespace acefit::server {

// What a successful run hands back: the job's result (stored as JSON text)
// and the files it wrote (recorded for /v1/audio and expiry).
struct RunOutput {
  nlohmann::json result;
  std::vector<std::string> files;
};

// Runs one job. It reports progress and polls cancellation through the
// callbacks (callbacks.cancelled() turns true when the job is cancelled or
// the server stops); returning ErrorCode::cancelled after that ends the job
// cancelled. Any other failure (out_of_memory included) fails the job with
// the status message as reason; the worker goes on to the next job. It may
// throw: an exception fails the job like an error does.
using RunFunction = std::function<Expected<RunOutput>(const Job&, const RunCallbacks&)>;

struct QueueConfig {
  std::size_t max_queued = 200;  // ACESTEP_QUEUE_MAXSIZE; at least 1
  // Expiry of finished jobs: every housekeeping_interval, jobs finished more
  // than ttl ago are removed with their files.
  std::chrono::milliseconds housekeeping_interval{std::chrono::seconds(300)};
  std::chrono::milliseconds ttl{std::chrono::hours(24)};
  // Average job time before any job finished, and how many of the last job
  // durations the average covers (upstream: 5.0 s, 50).
  double initial_job_s = 5.0;
  std::size_t duration_window = 50;
  // The clock for created/started/finished times, elapsed time and expiry
  // (ms since the epoch); empty: unix_now_ms. Tests inject their own.
  std::function<std::int64_t()> clock_ms;
  // Start the worker in the constructor (tests may start it later, to fill
  // the queue first).
  bool start_worker = true;
};

// A running job's progress. `fraction` covers the whole run (0..1, never
// decreasing): each stage has a fixed share (docs/SERVER.md) and `done /
// total` moves within it.
struct JobProgress {
  std::string stage;  // load, lm_cot, lm_codes, codes, encode, diffusion, decode, write
  std::int64_t done = 0;
  std::int64_t total = 0;
  double fraction = 0;
  double elapsed_s = 0;
  // elapsed * (1 - fraction) / fraction once fraction > 0; before that the
  // average job time minus elapsed (at least 0).
  double eta_s = 0;
};

// A job as the HTTP layer shows it.
struct JobView {
  Job job;                              // the stored record (state as of now)
  std::int64_t queue_position = 0;      // 1-based among queued jobs; 0 when not queued
  std::optional<JobProgress> progress;  // while running
  bool cancel_requested = false;        // running, cancel asked, not stopped yet
  double eta_s = 0;                     // queued: until it finishes; running: progress.eta_s
};

enum class SubmitOutcome { accepted, full, shutting_down, error };

struct SubmitResult {
  SubmitOutcome outcome = SubmitOutcome::error;
  std::string id;                   // accepted
  std::int64_t queue_position = 0;  // accepted: 1-based
  int retry_after_s = 0;            // full: ceil(avg_job_s * (queued + running)), >= 1
  Status status;                    // error: why the job could not be stored
};

enum class CancelOutcome {
  cancelled,         // it was queued (or had already been cancelled): now cancelled
  cancel_requested,  // it is running: it stops at its next step and ends cancelled
  conflict,          // it already succeeded or failed (409)
  not_found,         // unknown id (404)
  error,             // the store failed
};

struct CancelResult {
  CancelOutcome outcome = CancelOutcome::error;
  JobState state = JobState::queued;  // the state after the call
  Status status;                      // error
};

struct QueueStats {
  std::int64_t total = 0;  // jobs in the store (finished ones until they expire)
  std::int64_t queued = 0;
  std::int64_t running = 0;
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  std::int64_t cancelled = 0;
  std::int64_t rejections = 0;  // submissions refused because the queue was full
  double avg_job_seconds = 0;
  std::size_t queue_maxsize = 0;
};

class JobQueue {
 public:
  // Calls store.recover() (running jobs left by a stopped server fail),
  // then loads the queued jobs, oldest first, and starts the worker (unless
  // config.start_worker is false). The store must outlive the queue.
  static Expected<std::unique_ptr<JobQueue>> create(JobStore& store, RunFunction run,
                                                    QueueConfig config = {});
  // shutdown(0) when still running.
  ~JobQueue();
  JobQueue(const JobQueue&) = delete;
  JobQueue& operator=(const JobQueue&) = delete;

  // Starts the worker when config.start_worker was false (no-op otherwise).
  void start();

  // Reserves a slot and persists a new queued job with a fresh id.
  SubmitResult submit(nlohmann::json request);

  // See CancelOutcome. Idempotent: cancelling a cancelled job answers
  // `cancelled`, a running one with a cancel pending `cancel_requested`.
  CancelResult cancel(const std::string& id, const std::string& reason = "cancelled by the client");

  // The job with its queue position and progress; nullopt for an unknown id
  // (or one already expired), error when the store fails.
  Expected<std::optional<JobView>> find(const std::string& id) const;

  // A counter bumped by every change (submission, start, progress, finish,
  // cancellation); with wait_change, the HTTP layer streams events.
  std::uint64_t change_seq() const;
  // Waits until change_seq() differs from `seen` or `timeout` passes, or the
  // queue shuts down; returns the current change_seq(). Subscribers then read
  // what they follow with find().
  std::uint64_t wait_change(std::uint64_t seen, std::chrono::milliseconds timeout) const;
  // Waits until the job is finished (or unknown) or the timeout passes;
  // returns find()'s answer at that point.
  Expected<std::optional<JobView>> wait_finished(const std::string& id,
                                                 std::chrono::milliseconds timeout) const;

  QueueStats stats() const;
  // ceil(avg_job_s * (queued + running)), at least 1.
  int retry_after_s() const;
  double avg_job_seconds() const;

  // Expires finished jobs now (the worker also does it every
  // housekeeping_interval). Returns what it removed.
  Expected<std::vector<ExpiredJob>> housekeeping();

  // Stops accepting (submit answers shutting_down), lets the running job
  // run for `grace`, then cancels it (it ends failed with reason
  // "shutdown: ..."), and joins the worker. Queued jobs stay queued in the
  // store and run after a restart. Safe to call twice; a second call with a
  // shorter grace shortens the wait.
  void shutdown(std::chrono::milliseconds grace);
  bool shutting_down() const;

 private:
  struct Impl;
  explicit JobQueue(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace acefit::server
