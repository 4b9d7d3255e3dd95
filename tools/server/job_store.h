// The server's job records in SQLite (docs/SERVER.md, "Jobs and
// persistence"): one row per job, written before a submission is answered,
// so a job the server accepted is never lost. The database runs in WAL mode
// with synchronous=FULL (a committed change survives a power cut) and a busy
// timeout; a schema_version table carries the layout version for later
// migrations.
//
// Every operation returns a Status or an Expected and never throws or
// aborts. The store is thread-safe (one connection behind a mutex): the
// queue's worker writes while the HTTP threads read.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "acefit/status.h"

namespace acefit::server {

enum class JobState { queued, running, succeeded, failed, cancelled };

// "queued", "running", "succeeded", "failed", "cancelled".
std::string_view job_state_name(JobState state);
std::optional<JobState> parse_job_state(std::string_view name);
// succeeded, failed or cancelled.
bool is_terminal(JobState state);

// The reason recover() gives a job that was running when the server stopped.
inline constexpr std::string_view kInterruptedReason =
    "interrupted: the server stopped while this job was running";

// A fresh task id: 128 random bits as 32 lowercase hex digits.
std::string new_job_id();
// True for 32 lowercase hex digits (what new_job_id makes).
bool is_job_id(std::string_view text);
// Milliseconds since the Unix epoch (system clock).
std::int64_t unix_now_ms();

struct Job {
  std::string id;
  std::int64_t created_ms = 0;   // ms since the epoch
  std::int64_t started_ms = 0;   // 0: not started
  std::int64_t finished_ms = 0;  // 0: not finished
  JobState state = JobState::queued;
  nlohmann::json request = nlohmann::json::object();  // as the queue was given it
  nlohmann::json result;                              // null until succeeded
  std::string reason;              // why it failed or was cancelled ("" otherwise)
  std::vector<std::string> files;  // output files (succeeded jobs), as the run reported them
};

struct StateCounts {
  std::int64_t queued = 0;
  std::int64_t running = 0;
  std::int64_t succeeded = 0;
  std::int64_t failed = 0;
  std::int64_t cancelled = 0;
  std::int64_t total() const { return queued + running + succeeded + failed + cancelled; }
};

// A job expire() removed, with the files it deleted and the ones it could
// not delete (already gone counts as deleted).
struct ExpiredJob {
  std::string id;
  JobState state = JobState::succeeded;
  std::vector<std::string> files_removed;
  std::vector<std::string> files_failed;
};

class JobStore {
 public:
  // The current layout version (table schema_version).
  static constexpr int kSchemaVersion = 1;

  // Opens (creating when missing) the database at `path`. A file that is
  // not a database, a corrupt one, a newer schema version, or a folder that
  // cannot be written is an error naming the path (io, corrupt or
  // unsupported), found here rather than at the first job.
  static Expected<std::unique_ptr<JobStore>> open(const std::string& path);
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  const std::string& path() const;

  // Adds a job in state queued (job.state must be queued; its id must be
  // new: a duplicate is invalid_argument).
  Status insert(const Job& job);
  // queued -> running. not_found for an unknown id, invalid_argument when
  // the job is not queued.
  Status mark_running(const std::string& id, std::int64_t started_ms);
  // queued or running -> succeeded / failed / cancelled. The files are
  // recorded with the job (is_output_file, expire). invalid_argument when
  // the job is already finished, not_found when unknown.
  Status finish_succeeded(const std::string& id, std::int64_t finished_ms,
                          const nlohmann::json& result, const std::vector<std::string>& files);
  Status finish_failed(const std::string& id, std::int64_t finished_ms, const std::string& reason);
  Status finish_cancelled(const std::string& id, std::int64_t finished_ms,
                          const std::string& reason);

  // not_found for an unknown id.
  Expected<Job> get(const std::string& id) const;
  // The queued jobs, oldest first (creation time, then insertion order).
  Expected<std::vector<Job>> list_queued() const;
  Expected<StateCounts> counts() const;

  // At startup: every job left running becomes failed with
  // kInterruptedReason, finished at `now_ms`; queued jobs stay queued.
  // Returns the ids it failed.
  Expected<std::vector<std::string>> recover(std::int64_t now_ms);

  // Removes the finished jobs that finished at or before now_ms - ttl_ms and
  // deletes their recorded files (only those). Queued and running jobs are
  // never removed.
  Expected<std::vector<ExpiredJob>> expire(std::int64_t now_ms, std::int64_t ttl_ms);

  // True only when `path` is, byte for byte, a file recorded for a finished
  // (succeeded) job still in the store. A database error reads as false.
  bool is_output_file(const std::string& path) const;

 private:
  struct Impl;
  explicit JobStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace acefit::server
