#include "job_store.h"

#include <sqlite3.h>

#include <array>
#include <filesystem>
#include <mutex>
#include <random>
#include <system_error>
#include <utility>

namespace acefit::server {
namespace {

constexpr std::array<std::string_view, 5> kStateNames = {"queued", "running", "succeeded", "failed",
                                                         "cancelled"};

// A prepared statement, finalized on scope exit.
class Statement {
 public:
  Statement(sqlite3* db, std::string_view sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool prepared() const { return rc_ == SQLITE_OK && stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }

  void bind(int index, std::string_view text) {
    if (rc_ == SQLITE_OK)
      rc_ = sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                              SQLITE_TRANSIENT);
  }
  void bind(int index, std::int64_t value) {
    if (rc_ == SQLITE_OK) rc_ = sqlite3_bind_int64(stmt_, index, value);
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() {
    if (rc_ != SQLITE_OK && rc_ != SQLITE_ROW && rc_ != SQLITE_DONE) return rc_;
    rc_ = sqlite3_step(stmt_);
    return rc_;
  }
  std::string text(int column) const {
    const auto* data = sqlite3_column_text(stmt_, column);
    const int size = sqlite3_column_bytes(stmt_, column);
    return data ? std::string(reinterpret_cast<const char*>(data), static_cast<std::size_t>(size))
                : std::string();
  }
  std::int64_t integer(int column) const { return sqlite3_column_int64(stmt_, column); }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

ErrorCode code_of(int rc) {
  switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return ErrorCode::corrupt;
    case SQLITE_NOMEM:
      return ErrorCode::out_of_memory;
    default:
      return ErrorCode::io;
  }
}

nlohmann::json parse_or(const std::string& text, nlohmann::json fallback) {
  if (text.empty()) return fallback;
  auto value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return value.is_discarded() ? fallback : value;
}

constexpr std::string_view kJobColumns =
    "id, created_ms, started_ms, finished_ms, state, request, result, reason, files";

}  // namespace

std::string_view job_state_name(JobState state) {
  return kStateNames[static_cast<std::size_t>(state)];
}

std::optional<JobState> parse_job_state(std::string_view name) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (kStateNames[i] == name) return static_cast<JobState>(i);
  }
  return std::nullopt;
}

bool is_terminal(JobState state) {
  return state == JobState::succeeded || state == JobState::failed || state == JobState::cancelled;
}

std::string new_job_id() {
  static std::mutex mutex;
  static std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seq{device(), device(), device(), device(),
                      device(), device(), device(), device()};
    return std::mt19937_64(seq);
  }();
  std::uint64_t halves[2];
  {
    std::lock_guard lock(mutex);
    halves[0] = engine();
    halves[1] = engine();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (int i = 0; i < 32; ++i) {
    const std::uint64_t half = halves[i / 16];
    id[static_cast<std::size_t>(i)] = kHex[(half >> (4 * (15 - i % 16))) & 0xf];
  }
  return id;
}

bool is_job_id(std::string_view text) {
  if (text.size() != 32) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct JobStore::Impl {
  std::string path;
  sqlite3* db = nullptr;
  mutable std::mutex mutex;

  ~Impl() {
    if (db) sqlite3_close_v2(db);
  }

  Status error(int rc, std::string_view what) const {
    std::string message = "job store " + path + ": " + std::string(what) + ": ";
    message += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    return Status(code_of(rc), std::move(message));
  }

  Status exec(std::string_view sql, std::string_view what) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db, std::string(sql).c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return Status();
    std::string text = "job store " + path + ": " + std::string(what) + ": " +
                       (message ? message : sqlite3_errstr(rc));
    sqlite3_free(message);
    return Status(code_of(rc), std::move(text));
  }

  static Job read_job(const Statement& s) {
    Job job;
    job.id = s.text(0);
    job.created_ms = s.integer(1);
    job.started_ms = s.integer(2);
    job.finished_ms = s.integer(3);
    job.state = parse_job_state(s.text(4)).value_or(JobState::failed);
    job.request = parse_or(s.text(5), nlohmann::json::object());
    job.result = parse_or(s.text(6), nullptr);
    job.reason = s.text(7);
    const auto files = parse_or(s.text(8), nlohmann::json::array());
    if (files.is_array()) {
      for (const auto& file : files) {
        if (file.is_string()) job.files.push_back(file.get<std::string>());
      }
    }
    return job;
  }

  // The state of `id`, not_found when unknown. Caller holds the mutex.
  Expected<JobState> state_of(const std::string& id) const {
    Statement s(db, "SELECT state FROM jobs WHERE id = ?1");
    s.bind(1, id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return Status(ErrorCode::not_found, "no job " + id);
    if (rc != SQLITE_ROW) return error(rc, "reading job " + id);
    const auto state = parse_job_state(s.text(0));
    if (!state) return Status(ErrorCode::corrupt, "job " + id + " has an unknown state");
    return *state;
  }

  // Runs one change statement inside the caller's lock.
  Status run(Statement& s, std::string_view what) {
    if (!s.prepared()) return error(sqlite3_errcode(db), what);
    const int rc = s.step();
    if (rc != SQLITE_DONE) return error(rc, what);
    return Status();
  }

  Status finish(const std::string& id, JobState state, std::int64_t finished_ms,
                const nlohmann::json& result, const std::string& reason,
                const std::vector<std::string>& files) {
    std::lock_guard lock(mutex);
    ACEFIT_ASSIGN(const JobState current, state_of(id));
    if (is_terminal(current)) {
      return invalid_argument("job " + id + " is already " + std::string(job_state_name(current)));
    }
    ACEFIT_TRY(exec("BEGIN IMMEDIATE", "starting a transaction"));
    Status status = [&]() -> Status {
      Statement s(db,
                  "UPDATE jobs SET state = ?2, finished_ms = ?3, result = ?4, reason = ?5, "
                  "files = ?6 WHERE id = ?1");
      s.bind(1, id);
      s.bind(2, job_state_name(state));
      s.bind(3, finished_ms);
      s.bind(4, result.is_null() ? std::string() : result.dump());
      s.bind(5, reason);
      s.bind(6, nlohmann::json(files).dump());
      ACEFIT_TRY(run(s, "finishing job " + id));
      for (const auto& file : files) {
        Statement f(db, "INSERT OR REPLACE INTO files (path, job_id) VALUES (?1, ?2)");
        f.bind(1, file);
        f.bind(2, id);
        ACEFIT_TRY(run(f, "recording the files of job " + id));
      }
      return Status();
    }();
    if (!status.ok()) {
      (void)exec("ROLLBACK", "rolling back");
      return status;
    }
    return exec("COMMIT", "committing job " + id);
  }
};

JobStore::JobStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
JobStore::~JobStore() = default;

const std::string& JobStore::path() const {
  return impl_->path;
}

Expected<std::unique_ptr<JobStore>> JobStore::open(const std::string& path) {
  if (path.empty()) return invalid_argument("job store: no database path given");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return Status(ErrorCode::io, "job store " + path + ": is a folder, not a database file");
  }
  auto impl = std::make_unique<Impl>();
  impl->path = path;
  const int rc =
      sqlite3_open_v2(path.c_str(), &impl->db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) return impl->error(rc, "cannot open the database");
  sqlite3_extended_result_codes(impl->db, 1);
  sqlite3_busy_timeout(impl->db, 5000);
  // journal_mode=WAL reads the file: a file that is not a database fails here.
  ACEFIT_TRY(impl->exec("PRAGMA journal_mode=WAL", "cannot read the database"));
  ACEFIT_TRY(impl->exec("PRAGMA synchronous=FULL", "cannot set synchronous=FULL"));
  ACEFIT_TRY(impl->exec("PRAGMA foreign_keys=ON", "cannot enable foreign keys"));
  {
    Statement check(impl->db, "PRAGMA quick_check");
    if (!check.prepared())
      return impl->error(sqlite3_errcode(impl->db), "cannot check the database");
    const int step = check.step();
    if (step != SQLITE_ROW) return impl->error(step, "cannot check the database");
    if (check.text(0) != "ok") {
      return Status(ErrorCode::corrupt,
                    "job store " + path + ": the database is damaged: " + check.text(0));
    }
  }
  ACEFIT_TRY(
      impl->exec("BEGIN IMMEDIATE;"
                 "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);"
                 "CREATE TABLE IF NOT EXISTS jobs ("
                 " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
                 " id TEXT NOT NULL UNIQUE,"
                 " created_ms INTEGER NOT NULL,"
                 " started_ms INTEGER NOT NULL DEFAULT 0,"
                 " finished_ms INTEGER NOT NULL DEFAULT 0,"
                 " state TEXT NOT NULL,"
                 " request TEXT NOT NULL,"
                 " result TEXT NOT NULL DEFAULT '',"
                 " reason TEXT NOT NULL DEFAULT '',"
                 " files TEXT NOT NULL DEFAULT '[]');"
                 "CREATE INDEX IF NOT EXISTS jobs_state ON jobs (state, created_ms, seq);"
                 "CREATE TABLE IF NOT EXISTS files ("
                 " path TEXT PRIMARY KEY,"
                 " job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE);"
                 "CREATE INDEX IF NOT EXISTS files_job ON files (job_id);"
                 "INSERT INTO schema_version (version) SELECT 1 WHERE NOT EXISTS "
                 "(SELECT 1 FROM schema_version);"
                 "COMMIT;",
                 "cannot create the tables (is the file and its folder writable?)"));
  {
    Statement version(impl->db, "SELECT MAX(version) FROM schema_version");
    const int step = version.step();
    if (step != SQLITE_ROW) return impl->error(step, "cannot read the schema version");
    const std::int64_t found = version.integer(0);
    if (found != kSchemaVersion) {
      return Status(ErrorCode::unsupported,
                    "job store " + path + ": schema version " + std::to_string(found) +
                        ", this acefit reads version " + std::to_string(kSchemaVersion));
    }
  }
  return std::unique_ptr<JobStore>(new JobStore(std::move(impl)));
}

Status JobStore::insert(const Job& job) {
  if (job.state != JobState::queued) return invalid_argument("a new job must be queued");
  if (!is_job_id(job.id)) return invalid_argument("not a job id: " + job.id);
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db,
              "INSERT INTO jobs (id, created_ms, state, request) VALUES (?1, ?2, 'queued', ?3)");
  s.bind(1, job.id);
  s.bind(2, job.created_ms);
  s.bind(3, job.request.dump());
  if (!s.prepared()) return impl_->error(sqlite3_errcode(impl_->db), "adding a job");
  const int rc = s.step();
  if ((rc & 0xff) == SQLITE_CONSTRAINT) return invalid_argument("job " + job.id + " exists");
  if (rc != SQLITE_DONE) return impl_->error(rc, "adding job " + job.id);
  return Status();
}

Status JobStore::mark_running(const std::string& id, std::int64_t started_ms) {
  std::lock_guard lock(impl_->mutex);
  ACEFIT_ASSIGN(const JobState current, impl_->state_of(id));
  if (current != JobState::queued) {
    return invalid_argument("job " + id + " is " + std::string(job_state_name(current)) +
                            ", not queued");
  }
  Statement s(impl_->db,
              "UPDATE jobs SET state = 'running', started_ms = ?2 WHERE id = ?1 AND state = "
              "'queued'");
  s.bind(1, id);
  s.bind(2, started_ms);
  return impl_->run(s, "starting job " + id);
}

Status JobStore::finish_succeeded(const std::string& id, std::int64_t finished_ms,
                                  const nlohmann::json& result,
                                  const std::vector<std::string>& files) {
  return impl_->finish(id, JobState::succeeded, finished_ms, result, "", files);
}

Status JobStore::finish_failed(const std::string& id, std::int64_t finished_ms,
                               const std::string& reason) {
  return impl_->finish(id, JobState::failed, finished_ms, nullptr, reason, {});
}

Status JobStore::finish_cancelled(const std::string& id, std::int64_t finished_ms,
                                  const std::string& reason) {
  return impl_->finish(id, JobState::cancelled, finished_ms, nullptr, reason, {});
}

Expected<Job> JobStore::get(const std::string& id) const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db, "SELECT " + std::string(kJobColumns) + " FROM jobs WHERE id = ?1");
  s.bind(1, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return Status(ErrorCode::not_found, "no job " + id);
  if (rc != SQLITE_ROW) return impl_->error(rc, "reading job " + id);
  return Impl::read_job(s);
}

Expected<std::vector<Job>> JobStore::list_queued() const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db, "SELECT " + std::string(kJobColumns) +
                             " FROM jobs WHERE state = 'queued' ORDER BY created_ms, seq");
  std::vector<Job> jobs;
  for (;;) {
    const int rc = s.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return impl_->error(rc, "listing the queued jobs");
    jobs.push_back(Impl::read_job(s));
  }
  return jobs;
}

Expected<StateCounts> JobStore::counts() const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
  StateCounts counts;
  for (;;) {
    const int rc = s.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return impl_->error(rc, "counting the jobs");
    const auto state = parse_job_state(s.text(0));
    if (!state) continue;
    const std::int64_t n = s.integer(1);
    switch (*state) {
      case JobState::queued:
        counts.queued = n;
        break;
      case JobState::running:
        counts.running = n;
        break;
      case JobState::succeeded:
        counts.succeeded = n;
        break;
      case JobState::failed:
        counts.failed = n;
        break;
      case JobState::cancelled:
        counts.cancelled = n;
        break;
    }
  }
  return counts;
}

Expected<std::vector<std::string>> JobStore::recover(std::int64_t now_ms) {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> ids;
  {
    Statement s(impl_->db, "SELECT id FROM jobs WHERE state = 'running' ORDER BY seq");
    for (;;) {
      const int rc = s.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return impl_->error(rc, "listing the running jobs");
      ids.push_back(s.text(0));
    }
  }
  if (ids.empty()) return ids;
  Statement s(impl_->db,
              "UPDATE jobs SET state = 'failed', finished_ms = ?1, reason = ?2 WHERE state = "
              "'running'");
  s.bind(1, now_ms);
  s.bind(2, kInterruptedReason);
  ACEFIT_TRY(impl_->run(s, "failing the interrupted jobs"));
  return ids;
}

Expected<std::vector<ExpiredJob>> JobStore::expire(std::int64_t now_ms, std::int64_t ttl_ms) {
  std::lock_guard lock(impl_->mutex);
  std::vector<ExpiredJob> expired;
  {
    Statement s(impl_->db,
                "SELECT id, state, files FROM jobs WHERE state IN ('succeeded', 'failed', "
                "'cancelled') AND finished_ms <= ?1 ORDER BY seq");
    s.bind(1, now_ms - ttl_ms);
    for (;;) {
      const int rc = s.step();
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) return impl_->error(rc, "listing the expired jobs");
      ExpiredJob job;
      job.id = s.text(0);
      job.state = parse_job_state(s.text(1)).value_or(JobState::failed);
      const auto files = parse_or(s.text(2), nlohmann::json::array());
      if (files.is_array()) {
        for (const auto& file : files) {
          if (file.is_string()) job.files_removed.push_back(file.get<std::string>());
        }
      }
      expired.push_back(std::move(job));
    }
  }
  for (auto& job : expired) {
    // Rows first: once a job is gone, is_output_file no longer serves its
    // files, then the files go.
    Statement d(impl_->db, "DELETE FROM jobs WHERE id = ?1");
    d.bind(1, job.id);
    ACEFIT_TRY(impl_->run(d, "removing job " + job.id));
    std::vector<std::string> removed;
    for (const auto& file : job.files_removed) {
      std::error_code ec;
      std::filesystem::remove(file, ec);
      (ec ? job.files_failed : removed).push_back(file);
    }
    job.files_removed = std::move(removed);
  }
  return expired;
}

bool JobStore::is_output_file(const std::string& path) const {
  std::lock_guard lock(impl_->mutex);
  Statement s(impl_->db,
              "SELECT 1 FROM files JOIN jobs ON jobs.id = files.job_id WHERE files.path = ?1 AND "
              "jobs.state = 'succeeded'");
  s.bind(1, path);
  return s.step() == SQLITE_ROW;
}

}  // namespace acefit::server
