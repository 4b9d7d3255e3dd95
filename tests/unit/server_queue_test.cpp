// The server's job queue (tools/server/job_queue.h): admission, order,
// cancellation, progress, failures, restarts and shutdown. The run function
// is a gate the test opens; nothing sleeps.
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "job_queue.h"

namespace server_queue_test {

namespace fs = std::filesystem;
using namespace acefit;
using namespace acefit::server;
using namespace std::chrono_literals;

class TempFolder {
 public:
  TempFolder() {
    std::random_device device;
    path_ = fs::temp_directory_path() / ("acefit-queue-" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  fs::path path_;
};

// The run function: each job records that it started, then waits until the
// test releases it (or cancels it), emitting the progress the test hands
// it. request {"fail": "oom"|"io"|"throw"} makes it fail that way once
// released; {"file": PATH} writes PATH and reports it.
class Gate {
 public:
  RunFunction function() {
    return [this](const Job& job, const RunCallbacks& callbacks) { return run(job, callbacks); };
  }

  void release(const std::string& id) {
    std::lock_guard lock(mutex_);
    released_.insert(id);
    cv_.notify_all();
  }
  void release_all() {
    std::lock_guard lock(mutex_);
    release_all_ = true;
    cv_.notify_all();
  }
  // Hands (stage, done, total) to the running job and waits until it has
  // reported it.
  void progress(const std::string& stage, std::int64_t done, std::int64_t total) {
    std::unique_lock lock(mutex_);
    const std::size_t target = emitted_ + pending_.size() + 1;
    pending_.emplace_back(stage, done, total);
    cv_.notify_all();
    cv_.wait_for(lock, 5s, [&] { return emitted_ >= target; });
  }
  // Waits until `n` jobs have started; returns their ids in order.
  std::vector<std::string> wait_started(std::size_t n) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, 5s, [&] { return started_.size() >= n; });
    return started_;
  }
  std::vector<std::string> started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  // Called from the run function: advance the test clock by this much.
  std::function<void()> on_finish;

 private:
  Expected<RunOutput> run(const Job& job, const RunCallbacks& callbacks) {
    std::unique_lock lock(mutex_);
    started_.push_back(job.id);
    cv_.notify_all();
    while (!release_all_ && !released_.count(job.id)) {
      while (!pending_.empty()) {
        auto [stage, done, total] = pending_.front();
        pending_.pop_front();
        lock.unlock();
        callbacks.progress(stage, done, total);
        lock.lock();
        ++emitted_;
        cv_.notify_all();
      }
      if (callbacks.cancelled()) return Status(ErrorCode::cancelled, "cancelled at step 3");
      cv_.wait_for(lock, 1ms);
    }
    lock.unlock();
    if (on_finish) on_finish();
    const std::string fail = job.request.value("fail", "");
    if (fail == "oom") {
      OutOfMemoryInfo info;
      info.requested_bytes = 9;
      info.cap_bytes = 8;
      return Status::out_of_memory(info, "diffusion");
    }
    if (fail == "io") return Status(ErrorCode::io, "disk full");
    if (fail == "throw") throw std::runtime_error("bad state");
    RunOutput output;
    output.result = {{"seed", 42}, {"prompt", job.request.value("prompt", "")}};
    if (job.request.contains("file")) {
      const std::string path = job.request["file"];
      std::ofstream(path) << "ID3";
      output.files.push_back(path);
    }
    return output;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> started_;
  std::set<std::string> released_;
  bool release_all_ = false;
  std::deque<std::tuple<std::string, std::int64_t, std::int64_t>> pending_;
  std::size_t emitted_ = 0;
};

struct Fixture {
  TempFolder folder;
  std::unique_ptr<JobStore> store;
  Gate gate;
  std::atomic<std::int64_t> clock{1'000'000};

  Fixture() {
    auto opened = JobStore::open(folder.file("jobs.db"));
    EXPECT_TRUE(opened.ok()) << opened.status().to_string();
    if (opened.ok()) store = std::move(opened).value();
  }

  QueueConfig config(std::size_t max_queued = 8, bool start = true) {
    QueueConfig c;
    c.max_queued = max_queued;
    c.start_worker = start;
    c.clock_ms = [this] { return clock.load(); };
    return c;
  }

  std::unique_ptr<JobQueue> queue(QueueConfig c) {
    auto created = JobQueue::create(*store, gate.function(), std::move(c));
    EXPECT_TRUE(created.ok()) << created.status().to_string();
    return created.ok() ? std::move(created).value() : nullptr;
  }
};

std::string submit_ok(JobQueue& queue, nlohmann::json request = {{"prompt", "x"}}) {
  const SubmitResult result = queue.submit(std::move(request));
  EXPECT_EQ(result.outcome, SubmitOutcome::accepted);
  return result.id;
}

JobView finished(JobQueue& queue, const std::string& id) {
  auto view = queue.wait_finished(id, 5s);
  EXPECT_TRUE(view.ok());
  EXPECT_TRUE(view.ok() && view->has_value());
  if (!view.ok() || !view->has_value()) return {};
  EXPECT_TRUE(is_terminal((*view)->job.state)) << job_state_name((*view)->job.state);
  return **view;
}

TEST(ServerQueue, BurstAdmitsExactlyTheCapacity) {
  Fixture f;
  constexpr std::size_t kCapacity = 5;
  auto queue = f.queue(f.config(kCapacity, /*start=*/false));
  ASSERT_TRUE(queue);
  std::atomic<int> accepted{0}, full{0}, other{0};
  std::vector<std::thread> threads;
  std::atomic<int> retry_after{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        const SubmitResult r = queue->submit({{"prompt", "burst"}});
        if (r.outcome == SubmitOutcome::accepted) {
          ++accepted;
        } else if (r.outcome == SubmitOutcome::full) {
          ++full;
          retry_after = r.retry_after_s;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(accepted.load(), static_cast<int>(kCapacity));
  EXPECT_EQ(full.load(), 80 - static_cast<int>(kCapacity));
  EXPECT_EQ(other.load(), 0);
  // ceil(5.0 s * 5 queued), no job measured yet.
  EXPECT_EQ(retry_after.load(), 25);
  const QueueStats stats = queue->stats();
  EXPECT_EQ(stats.rejections, 80 - static_cast<int>(kCapacity));
  EXPECT_EQ(stats.queued, static_cast<std::int64_t>(kCapacity));
  EXPECT_EQ(stats.queue_maxsize, kCapacity);
  EXPECT_EQ(f.store->counts()->queued, static_cast<std::int64_t>(kCapacity));
}

TEST(ServerQueue, RunningJobIsNotCountedAgainstTheCapacity) {
  Fixture f;
  auto queue = f.queue(f.config(2));
  ASSERT_TRUE(queue);
  const std::string first = submit_ok(*queue);
  f.gate.wait_started(1);
  const SubmitResult a = queue->submit({});
  const SubmitResult b = queue->submit({});
  EXPECT_EQ(a.outcome, SubmitOutcome::accepted);
  EXPECT_EQ(a.queue_position, 1);
  EXPECT_EQ(b.queue_position, 2);
  const SubmitResult c = queue->submit({});
  EXPECT_EQ(c.outcome, SubmitOutcome::full);
  EXPECT_EQ(c.retry_after_s, 15);  // ceil(5.0 * (2 queued + 1 running))
  f.gate.release_all();
  finished(*queue, b.id);
  EXPECT_EQ(queue->retry_after_s(), 1);  // idle: at least 1
}

TEST(ServerQueue, JobsRunOneAtATimeInSubmissionOrder) {
  Fixture f;
  auto queue = f.queue(f.config(8, /*start=*/false));
  ASSERT_TRUE(queue);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(submit_ok(*queue, {{"prompt", std::to_string(i)}}));
    EXPECT_TRUE(f.store->get(ids.back()).ok());  // stored before the answer
  }
  auto view = queue->find(ids[3]);
  ASSERT_TRUE(view.ok() && view->has_value());
  EXPECT_EQ((*view)->queue_position, 4);
  queue->start();
  EXPECT_EQ(f.gate.wait_started(1).size(), 1u);
  EXPECT_EQ(queue->stats().running, 1);
  EXPECT_EQ((*queue->find(ids[1]))->queue_position, 1);
  f.gate.release_all();
  for (const auto& id : ids) EXPECT_EQ(finished(*queue, id).job.state, JobState::succeeded);
  EXPECT_EQ(f.gate.started(), ids);
  const QueueStats stats = queue->stats();
  EXPECT_EQ(stats.succeeded, 5);
  EXPECT_EQ(stats.total, 5);
  EXPECT_EQ(stats.queued, 0);
  EXPECT_EQ(stats.running, 0);
}

TEST(ServerQueue, CancelQueuedRunningFinishedTwiceAndUnknown) {
  Fixture f;
  auto queue = f.queue(f.config());
  ASSERT_TRUE(queue);
  const std::string running = submit_ok(*queue);
  f.gate.wait_started(1);
  const std::string waiting = submit_ok(*queue);
  const std::string later = submit_ok(*queue);

  // Queued: leaves the queue, cancelled at once; again: the same answer.
  for (int i = 0; i < 2; ++i) {
    const CancelResult r = queue->cancel(waiting);
    EXPECT_EQ(r.outcome, CancelOutcome::cancelled);
    EXPECT_EQ(r.state, JobState::cancelled);
  }
  EXPECT_EQ(f.store->get(waiting)->state, JobState::cancelled);
  EXPECT_EQ((*queue->find(later))->queue_position, 1);

  // Running: stops at its next step, then reads cancelled.
  for (int i = 0; i < 2; ++i) {
    const CancelResult r = queue->cancel(running, "cancelled by the client");
    EXPECT_EQ(r.outcome, CancelOutcome::cancel_requested);
  }
  const JobView stopped = finished(*queue, running);
  EXPECT_EQ(stopped.job.state, JobState::cancelled);
  EXPECT_EQ(stopped.job.reason, "cancelled by the client");
  EXPECT_EQ(queue->cancel(running).outcome, CancelOutcome::cancelled);

  // Finished: conflict, the record is untouched.
  f.gate.release_all();
  EXPECT_EQ(finished(*queue, later).job.state, JobState::succeeded);
  const CancelResult conflict = queue->cancel(later);
  EXPECT_EQ(conflict.outcome, CancelOutcome::conflict);
  EXPECT_EQ(conflict.state, JobState::succeeded);
  EXPECT_EQ(f.store->get(later)->state, JobState::succeeded);

  EXPECT_EQ(queue->cancel(new_job_id()).outcome, CancelOutcome::not_found);
  EXPECT_FALSE(queue->find(new_job_id())->has_value());
  // The cancelled jobs are not among the failures.
  const QueueStats stats = queue->stats();
  EXPECT_EQ(stats.cancelled, 2);
  EXPECT_EQ(stats.failed, 0);
}

TEST(ServerQueue, ProgressFractionEtaAndSubscribers) {
  Fixture f;
  auto queue = f.queue(f.config());
  ASSERT_TRUE(queue);
  const std::string id = submit_ok(*queue);
  f.gate.wait_started(1);
  const std::string next = submit_ok(*queue);
  auto view = queue->find(id);
  ASSERT_TRUE(view.ok() && view->has_value());
  EXPECT_EQ((*view)->job.state, JobState::running);
  EXPECT_EQ((*view)->queue_position, 0);
  ASSERT_TRUE((*view)->progress.has_value());
  EXPECT_DOUBLE_EQ((*view)->progress->eta_s, 5.0);  // no progress yet: the average job time

  const std::uint64_t seen = queue->change_seq();
  f.clock += 10'000;  // 10 s into the run
  f.gate.progress("diffusion", 4, 8);
  EXPECT_NE(queue->wait_change(seen, 1s), seen);
  view = queue->find(id);
  ASSERT_TRUE((*view)->progress.has_value());
  const JobProgress p = *(*view)->progress;
  EXPECT_EQ(p.stage, "diffusion");
  EXPECT_EQ(p.done, 4);
  EXPECT_EQ(p.total, 8);
  // load + lm_cot + lm_codes + codes + encode = 0.42, half of diffusion's 0.43.
  EXPECT_NEAR(p.fraction, 0.635, 1e-9);
  EXPECT_NEAR(p.elapsed_s, 10.0, 1e-9);
  EXPECT_NEAR(p.eta_s, 10.0 * 0.365 / 0.635, 1e-9);
  // The queued job waits for the running one and its own average time.
  EXPECT_NEAR((*queue->find(next))->eta_s, p.eta_s + 5.0, 1e-9);

  // Never backwards; past the end stays within 1.
  f.gate.progress("load", 1, 1);
  EXPECT_NEAR((*queue->find(id))->progress->fraction, 0.635, 1e-9);
  f.gate.progress("write", 5, 1);
  EXPECT_NEAR((*queue->find(id))->progress->fraction, 1.0, 1e-9);
  f.gate.release_all();
  EXPECT_EQ(finished(*queue, id).job.state, JobState::succeeded);
  EXPECT_FALSE(finished(*queue, id).progress.has_value());
}

TEST(ServerQueue, FailuresFailTheJobAndTheWorkerGoesOn) {
  Fixture f;
  auto queue = f.queue(f.config());
  ASSERT_TRUE(queue);
  const std::string output = f.folder.file("ok-1.mp3");
  const std::string oom = submit_ok(*queue, {{"fail", "oom"}});
  const std::string io = submit_ok(*queue, {{"fail", "io"}});
  const std::string thrown = submit_ok(*queue, {{"fail", "throw"}});
  const std::string ok = submit_ok(*queue, {{"prompt", "fine"}, {"file", output}});
  f.gate.release_all();
  const JobView a = finished(*queue, oom);
  EXPECT_EQ(a.job.state, JobState::failed);
  EXPECT_EQ(a.job.reason.rfind("out_of_memory: ", 0), 0u) << a.job.reason;
  const JobView b = finished(*queue, io);
  EXPECT_EQ(b.job.state, JobState::failed);
  EXPECT_EQ(b.job.reason, "io: disk full");
  const JobView c = finished(*queue, thrown);
  EXPECT_EQ(c.job.state, JobState::failed);
  EXPECT_NE(c.job.reason.find("bad state"), std::string::npos);
  const JobView d = finished(*queue, ok);
  EXPECT_EQ(d.job.state, JobState::succeeded);
  EXPECT_EQ(d.job.result["prompt"], "fine");
  EXPECT_EQ(d.job.files, std::vector<std::string>{output});
  EXPECT_TRUE(f.store->is_output_file(output));
  const QueueStats stats = queue->stats();
  EXPECT_EQ(stats.failed, 3);
  EXPECT_EQ(stats.succeeded, 1);
}

TEST(ServerQueue, AverageJobTimeCoversTheLastJobs) {
  Fixture f;
  QueueConfig config = f.config(1);
  config.duration_window = 2;
  auto queue = f.queue(config);
  ASSERT_TRUE(queue);
  EXPECT_DOUBLE_EQ(queue->avg_job_seconds(), 5.0);
  std::atomic<int> step{0};
  const std::int64_t durations_ms[] = {1000, 2000, 6000};
  f.gate.on_finish = [&] { f.clock += durations_ms[step++]; };
  f.gate.release_all();
  for (int i = 0; i < 3; ++i) finished(*queue, submit_ok(*queue));
  EXPECT_DOUBLE_EQ(queue->avg_job_seconds(), 4.0);  // (2 + 6) / 2
  EXPECT_DOUBLE_EQ(queue->stats().avg_job_seconds, 4.0);
}

TEST(ServerQueue, RestartKeepsQueuedJobsAndFailsTheInterruptedOne) {
  Fixture f;
  std::string running, waiting_a, waiting_b;
  {
    auto queue = f.queue(f.config());
    ASSERT_TRUE(queue);
    running = submit_ok(*queue);
    f.gate.wait_started(1);
    waiting_a = submit_ok(*queue);
    waiting_b = submit_ok(*queue);
    queue->shutdown(0ms);  // the running job is cancelled at once
    EXPECT_TRUE(queue->shutting_down());
    EXPECT_EQ(queue->submit({}).outcome, SubmitOutcome::shutting_down);
    queue->shutdown(0ms);  // twice is fine
  }
  const Job stopped = f.store->get(running).value();
  EXPECT_EQ(stopped.state, JobState::failed);
  EXPECT_EQ(stopped.reason.rfind("shutdown", 0), 0u) << stopped.reason;
  EXPECT_EQ(f.store->get(waiting_a)->state, JobState::queued);
  EXPECT_EQ(f.store->get(waiting_b)->state, JobState::queued);

  // A job the store says is running (the process died): failed at the next
  // start, never lost.
  const std::string crashed = new_job_id();
  {
    Job job;
    job.id = crashed;
    job.created_ms = f.clock.load() - 1;
    ASSERT_TRUE(f.store->insert(job).ok());
    ASSERT_TRUE(f.store->mark_running(crashed, f.clock.load()).ok());
  }
  Gate second;
  auto created = JobQueue::create(*f.store, second.function(), f.config());
  ASSERT_TRUE(created.ok());
  auto& queue = *created;
  second.release_all();
  EXPECT_EQ(finished(*queue, waiting_a).job.state, JobState::succeeded);
  EXPECT_EQ(finished(*queue, waiting_b).job.state, JobState::succeeded);
  EXPECT_EQ(second.started(), (std::vector<std::string>{waiting_a, waiting_b}));
  const Job lost = f.store->get(crashed).value();
  EXPECT_EQ(lost.state, JobState::failed);
  EXPECT_EQ(lost.reason, kInterruptedReason);
}

TEST(ServerQueue, ShutdownLetsTheRunningJobFinishWithinTheGrace) {
  Fixture f;
  auto queue = f.queue(f.config());
  ASSERT_TRUE(queue);
  const std::string id = submit_ok(*queue);
  f.gate.wait_started(1);
  std::thread stopper([&] { queue->shutdown(10s); });
  // Wait until the shutdown has begun, then let the job finish.
  std::uint64_t seen = queue->change_seq();
  while (!queue->shutting_down()) seen = queue->wait_change(seen, 100ms);
  f.gate.release_all();
  stopper.join();
  EXPECT_EQ(f.store->get(id)->state, JobState::succeeded);
}

TEST(ServerQueue, ShutdownKeepsAClientCancelACancel) {
  Fixture f;
  auto queue = f.queue(f.config());
  ASSERT_TRUE(queue);
  const std::string id = submit_ok(*queue);
  f.gate.wait_started(1);
  EXPECT_EQ(queue->cancel(id).outcome, CancelOutcome::cancel_requested);
  queue->shutdown(0ms);
  EXPECT_EQ(f.store->get(id)->state, JobState::cancelled);
}

TEST(ServerQueue, HousekeepingExpiresFinishedJobsAfterTheTtl) {
  Fixture f;
  QueueConfig config = f.config();
  config.ttl = 60s;
  config.housekeeping_interval = 1ms;
  auto queue = f.queue(config);
  ASSERT_TRUE(queue);
  const std::string output = f.folder.file("old-1.mp3");
  f.gate.release_all();
  const std::string id = submit_ok(*queue, {{"file", output}});
  finished(*queue, id);
  ASSERT_TRUE(fs::exists(output));
  f.clock += 59'999;
  auto none = queue->housekeeping();
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  // The worker's own timer removes it once the TTL has passed.
  std::uint64_t seen = queue->change_seq();
  f.clock += 1;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (queue->find(id)->has_value() && std::chrono::steady_clock::now() < deadline)
    seen = queue->wait_change(seen, 50ms);
  EXPECT_FALSE(queue->find(id)->has_value());
  EXPECT_FALSE(fs::exists(output));
  EXPECT_FALSE(f.store->is_output_file(output));
}

TEST(ServerQueue, BadConfigurationIsAnError) {
  Fixture f;
  QueueConfig config = f.config(0);
  EXPECT_FALSE(JobQueue::create(*f.store, f.gate.function(), config).ok());
  EXPECT_FALSE(JobQueue::create(*f.store, RunFunction(), f.config()).ok());
}

}  // namespace server_queue_test
