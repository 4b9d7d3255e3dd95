#include "job_queue.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>

namespace acefit::server {
namespace {

// Each stage's share of a whole run, in run order (docs/SERVER.md). A run
// that skips a stage (no LM) jumps over its share.
struct StageShare {
  std::string_view name;
  double share;
};
constexpr std::array<StageShare, 8> kStageShares = {{{"load", 0.05},
                                                     {"lm_cot", 0.10},
                                                     {"lm_codes", 0.20},
                                                     {"codes", 0.02},
                                                     {"encode", 0.05},
                                                     {"diffusion", 0.43},
                                                     {"decode", 0.13},
                                                     {"write", 0.02}}};

// The fraction of the whole run at (stage, done, total); nullopt for a
// stage not in the table.
std::optional<double> run_fraction(std::string_view stage, std::int64_t done, std::int64_t total) {
  double before = 0;
  for (const auto& entry : kStageShares) {
    if (entry.name == stage) {
      double within = 0;
      if (total > 0) within = std::clamp(static_cast<double>(done) / total, 0.0, 1.0);
      return std::min(1.0, before + entry.share * within);
    }
    before += entry.share;
  }
  return std::nullopt;
}

constexpr std::string_view kShutdownReason =
    "shutdown: the server stopped before this job finished";

}  // namespace

struct JobQueue::Impl {
  struct Running {
    Job job;
    std::atomic<bool> cancel{false};
    bool cancel_for_shutdown = false;  // under the mutex
    std::string cancel_reason;         // under the mutex
    JobProgress progress;              // under the mutex
    bool has_progress = false;         // under the mutex
  };

  JobStore& store;
  RunFunction run;
  QueueConfig config;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;  // seq bumped
  std::condition_variable work;             // a job was queued, or stopping
  std::deque<Job> queued;
  std::size_t reserved = 0;  // slots taken by submissions still being stored
  std::shared_ptr<Running> running;
  std::deque<double> durations_s;
  std::int64_t rejections = 0;
  std::uint64_t seq = 0;
  bool stopping = false;
  bool shutdown_owner_taken = false;
  bool joined = false;
  std::chrono::steady_clock::time_point shutdown_deadline;
  std::thread worker;
  std::chrono::steady_clock::time_point next_housekeeping;

  Impl(JobStore& s, RunFunction r, QueueConfig c)
      : store(s), run(std::move(r)), config(std::move(c)) {}

  std::int64_t now_ms() const { return config.clock_ms ? config.clock_ms() : unix_now_ms(); }

  // Under the mutex.
  void bump() {
    ++seq;
    changed.notify_all();
  }

  // Under the mutex.
  double avg_s() const {
    if (durations_s.empty()) return config.initial_job_s;
    double sum = 0;
    for (const double d : durations_s) sum += d;
    return sum / static_cast<double>(durations_s.size());
  }

  // Under the mutex.
  int retry_after() const {
    const double jobs = static_cast<double>(queued.size() + reserved + (running ? 1 : 0));
    const double seconds = std::ceil(avg_s() * jobs);
    if (!(seconds >= 1)) return 1;
    if (seconds > 86400) return 86400;
    return static_cast<int>(seconds);
  }

  // Under the mutex.
  void record_duration(double seconds) {
    if (!(seconds >= 0) || !std::isfinite(seconds)) return;
    durations_s.push_back(seconds);
    while (durations_s.size() > std::max<std::size_t>(1, config.duration_window))
      durations_s.pop_front();
  }

  // Under the mutex: the ETA of the running job.
  double running_eta_s() const {
    if (!running) return 0;
    if (running->has_progress) return running->progress.eta_s;
    const double elapsed = static_cast<double>(now_ms() - running->job.started_ms) / 1000.0;
    return std::max(0.0, avg_s() - elapsed);
  }

  void on_progress(Running& job, std::string_view stage, std::int64_t done, std::int64_t total) {
    std::lock_guard lock(mutex);
    JobProgress& p = job.progress;
    p.stage = std::string(stage);
    p.done = done;
    p.total = total;
    if (const auto f = run_fraction(stage, done, total)) p.fraction = std::max(p.fraction, *f);
    p.elapsed_s = std::max(0.0, static_cast<double>(now_ms() - job.job.started_ms) / 1000.0);
    p.eta_s = p.fraction > 0 ? p.elapsed_s * (1.0 - p.fraction) / p.fraction
                             : std::max(0.0, avg_s() - p.elapsed_s);
    job.has_progress = true;
    bump();
  }

  void housekeeping_if_due() {
    const auto now = std::chrono::steady_clock::now();
    if (now < next_housekeeping) return;
    next_housekeeping = now + std::max(config.housekeeping_interval, std::chrono::milliseconds(1));
    const auto expired = store.expire(now_ms(), config.ttl.count());
    if (expired.ok() && !expired->empty()) {
      std::lock_guard lock(mutex);
      bump();
    }
  }

  void run_one(const std::shared_ptr<Running>& current) {
    Job& job = current->job;
    if (Status s = store.mark_running(job.id, job.started_ms); !s.ok()) {
      (void)store.finish_failed(job.id, now_ms(), s.to_string());
      return;
    }
    RunCallbacks callbacks;
    callbacks.progress = [this, raw = current.get()](std::string_view stage, std::int64_t done,
                                                     std::int64_t total) {
      on_progress(*raw, stage, done, total);
    };
    callbacks.cancelled = [raw = current.get()] { return raw->cancel.load(); };
    Expected<RunOutput> output = Status(ErrorCode::internal, "the run function did not return");
    try {
      output = run(job, callbacks);
    } catch (const std::exception& e) {
      output = Status(ErrorCode::internal, std::string("the run threw: ") + e.what());
    } catch (...) {
      output = Status(ErrorCode::internal, "the run threw an unknown exception");
    }
    const std::int64_t finished_ms = now_ms();
    bool for_shutdown = false;
    std::string cancel_reason;
    {
      std::lock_guard lock(mutex);
      for_shutdown = current->cancel_for_shutdown;
      cancel_reason = current->cancel_reason;
    }
    const double seconds = static_cast<double>(finished_ms - job.started_ms) / 1000.0;
    if (output.ok()) {
      if (!store.finish_succeeded(job.id, finished_ms, output->result, output->files).ok()) {
        (void)store.finish_failed(job.id, finished_ms,
                                  "io: the job store could not record the result");
      }
      std::lock_guard lock(mutex);
      record_duration(seconds);
      return;
    }
    const Status& status = output.status();
    if (status.code() == ErrorCode::cancelled && current->cancel.load()) {
      if (for_shutdown) {
        (void)store.finish_failed(job.id, finished_ms, std::string(kShutdownReason));
      } else {
        (void)store.finish_cancelled(job.id, finished_ms, cancel_reason);
      }
      return;
    }
    (void)store.finish_failed(job.id, finished_ms, status.to_string());
    std::lock_guard lock(mutex);
    record_duration(seconds);
  }

  void worker_loop() {
    for (;;) {
      housekeeping_if_due();
      std::shared_ptr<Running> current;
      {
        std::unique_lock lock(mutex);
        while (!stopping && queued.empty()) {
          if (work.wait_until(lock, next_housekeeping) == std::cv_status::timeout) break;
        }
        if (stopping) return;
        if (queued.empty()) continue;  // housekeeping is due
        current = std::make_shared<Running>();
        current->job = std::move(queued.front());
        queued.pop_front();
        current->job.state = JobState::running;
        current->job.started_ms = now_ms();
        running = current;
        bump();
      }
      run_one(current);
      std::lock_guard lock(mutex);
      running.reset();
      bump();
    }
  }

  void start_worker() {
    std::lock_guard lock(mutex);
    if (worker.joinable() || stopping) return;
    next_housekeeping = std::chrono::steady_clock::now() + config.housekeeping_interval;
    worker = std::thread([this] { worker_loop(); });
  }
};

JobQueue::JobQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

JobQueue::~JobQueue() {
  shutdown(std::chrono::milliseconds(0));
}

Expected<std::unique_ptr<JobQueue>> JobQueue::create(JobStore& store, RunFunction run,
                                                     QueueConfig config) {
  if (!run) return invalid_argument("job queue: no run function");
  if (config.max_queued < 1) return invalid_argument("job queue: the capacity must be at least 1");
  if (config.ttl.count() < 0) return invalid_argument("job queue: the TTL must not be negative");
  auto impl = std::make_unique<Impl>(store, std::move(run), std::move(config));
  auto recovered = store.recover(impl->now_ms());
  if (!recovered.ok()) return recovered.status();
  auto queued = store.list_queued();
  if (!queued.ok()) return queued.status();
  for (auto& job : *queued) impl->queued.push_back(std::move(job));
  const bool start = impl->config.start_worker;
  std::unique_ptr<JobQueue> queue(new JobQueue(std::move(impl)));
  if (start) queue->start();
  return queue;
}

void JobQueue::start() {
  impl_->start_worker();
}

SubmitResult JobQueue::submit(nlohmann::json request) {
  Impl& q = *impl_;
  SubmitResult result;
  {
    std::lock_guard lock(q.mutex);
    if (q.stopping) {
      result.outcome = SubmitOutcome::shutting_down;
      return result;
    }
    if (q.queued.size() + q.reserved >= q.config.max_queued) {
      ++q.rejections;
      result.outcome = SubmitOutcome::full;
      result.retry_after_s = q.retry_after();
      q.bump();
      return result;
    }
    ++q.reserved;
  }
  Job job;
  job.id = new_job_id();
  job.created_ms = q.now_ms();
  job.request = std::move(request);
  Status status = q.store.insert(job);
  std::lock_guard lock(q.mutex);
  --q.reserved;
  if (!status.ok()) {
    result.outcome = SubmitOutcome::error;
    result.status = status;
    return result;
  }
  result.outcome = SubmitOutcome::accepted;
  result.id = job.id;
  q.queued.push_back(std::move(job));
  result.queue_position = static_cast<std::int64_t>(q.queued.size());
  q.bump();
  q.work.notify_one();
  return result;
}

CancelResult JobQueue::cancel(const std::string& id, const std::string& reason) {
  Impl& q = *impl_;
  CancelResult result;
  {
    std::lock_guard lock(q.mutex);
    const auto it = std::find_if(q.queued.begin(), q.queued.end(),
                                 [&](const Job& job) { return job.id == id; });
    if (it != q.queued.end()) {
      // Stored first: a job leaves the queue only once its cancellation is
      // on disk.
      Status status = q.store.finish_cancelled(id, q.now_ms(), reason);
      if (!status.ok()) {
        result.status = status;
        return result;
      }
      q.queued.erase(it);
      q.bump();
      result.outcome = CancelOutcome::cancelled;
      result.state = JobState::cancelled;
      return result;
    }
    if (q.running && q.running->job.id == id) {
      if (!q.running->cancel.load()) {
        q.running->cancel_reason = reason;
        q.running->cancel.store(true);
        q.bump();
      }
      result.outcome = CancelOutcome::cancel_requested;
      result.state = JobState::running;
      return result;
    }
  }
  auto job = q.store.get(id);
  if (!job.ok()) {
    result.outcome = job.status().code() == ErrorCode::not_found ? CancelOutcome::not_found
                                                                 : CancelOutcome::error;
    if (result.outcome == CancelOutcome::error) result.status = job.status();
    return result;
  }
  result.state = job->state;
  switch (job->state) {
    case JobState::cancelled:
      result.outcome = CancelOutcome::cancelled;
      break;
    case JobState::succeeded:
    case JobState::failed:
      result.outcome = CancelOutcome::conflict;
      break;
    case JobState::queued:
    case JobState::running:
      // Between the store and the queue (a submission or a finish in
      // progress): read again once it settles.
      result.outcome = CancelOutcome::cancel_requested;
      break;
  }
  return result;
}

Expected<std::optional<JobView>> JobQueue::find(const std::string& id) const {
  const Impl& q = *impl_;
  {
    std::lock_guard lock(q.mutex);
    for (std::size_t i = 0; i < q.queued.size(); ++i) {
      if (q.queued[i].id != id) continue;
      JobView view;
      view.job = q.queued[i];
      view.queue_position = static_cast<std::int64_t>(i + 1);
      view.eta_s = q.running_eta_s() + q.avg_s() * static_cast<double>(i + 1);
      return std::optional<JobView>(std::move(view));
    }
    if (q.running && q.running->job.id == id) {
      JobView view;
      view.job = q.running->job;
      if (q.running->has_progress) {
        JobProgress progress = q.running->progress;
        progress.elapsed_s =
            std::max(0.0, static_cast<double>(q.now_ms() - view.job.started_ms) / 1000.0);
        view.progress = progress;
      } else {
        JobProgress progress;
        progress.elapsed_s =
            std::max(0.0, static_cast<double>(q.now_ms() - view.job.started_ms) / 1000.0);
        progress.eta_s = q.running_eta_s();
        view.progress = progress;
      }
      view.eta_s = view.progress->eta_s;
      view.cancel_requested = q.running->cancel.load();
      return std::optional<JobView>(std::move(view));
    }
  }
  auto job = q.store.get(id);
  if (!job.ok()) {
    if (job.status().code() == ErrorCode::not_found) return std::optional<JobView>();
    return job.status();
  }
  JobView view;
  view.job = std::move(job).value();
  return std::optional<JobView>(std::move(view));
}

std::uint64_t JobQueue::change_seq() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->seq;
}

std::uint64_t JobQueue::wait_change(std::uint64_t seen, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->seq != seen; });
  return impl_->seq;
}

Expected<std::optional<JobView>> JobQueue::wait_finished(const std::string& id,
                                                         std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const std::uint64_t seen = change_seq();
    auto view = find(id);
    if (!view.ok() || !view->has_value() || is_terminal((*view)->job.state)) return view;
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return view;
    wait_change(seen, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now) +
                          std::chrono::milliseconds(1));
  }
}

QueueStats JobQueue::stats() const {
  const Impl& q = *impl_;
  QueueStats stats;
  const auto counts = q.store.counts();
  std::lock_guard lock(q.mutex);
  stats.queued = static_cast<std::int64_t>(q.queued.size());
  stats.running = q.running ? 1 : 0;
  if (counts.ok()) {
    stats.succeeded = counts->succeeded;
    stats.failed = counts->failed;
    stats.cancelled = counts->cancelled;
  }
  stats.total = stats.queued + stats.running + stats.succeeded + stats.failed + stats.cancelled;
  stats.rejections = q.rejections;
  stats.avg_job_seconds = q.avg_s();
  stats.queue_maxsize = q.config.max_queued;
  return stats;
}

int JobQueue::retry_after_s() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->retry_after();
}

double JobQueue::avg_job_seconds() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->avg_s();
}

Expected<std::vector<ExpiredJob>> JobQueue::housekeeping() {
  auto expired = impl_->store.expire(impl_->now_ms(), impl_->config.ttl.count());
  if (expired.ok() && !expired->empty()) {
    std::lock_guard lock(impl_->mutex);
    impl_->bump();
  }
  return expired;
}

void JobQueue::shutdown(std::chrono::milliseconds grace) {
  Impl& q = *impl_;
  std::unique_lock lock(q.mutex);
  const auto deadline =
      std::chrono::steady_clock::now() + std::max(grace, std::chrono::milliseconds(0));
  if (!q.stopping || deadline < q.shutdown_deadline) q.shutdown_deadline = deadline;
  q.stopping = true;
  q.work.notify_all();
  q.bump();
  if (q.shutdown_owner_taken) {
    // Another call joins the worker; wait for it.
    q.changed.wait(lock, [&] { return q.joined; });
    return;
  }
  q.shutdown_owner_taken = true;
  while (q.running && std::chrono::steady_clock::now() < q.shutdown_deadline) {
    q.changed.wait_until(lock, q.shutdown_deadline);
  }
  // A job the client already cancelled stays cancelled.
  if (q.running && !q.running->cancel.load()) {
    q.running->cancel_for_shutdown = true;
    q.running->cancel.store(true);
  }
  lock.unlock();
  if (q.worker.joinable()) q.worker.join();
  lock.lock();
  q.joined = true;
  q.bump();
}

bool JobQueue::shutting_down() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stopping;
}

}  // namespace acefit::server
