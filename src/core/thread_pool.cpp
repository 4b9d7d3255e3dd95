#include "core/thread_pool.h"

#include <algorithm>
#include <atomic>

namespace acefit {

namespace {
thread_local bool t_inside_pool = false;
}

struct ThreadPool::Job {
  const std::function<void(std::int64_t, std::int64_t)>* fn = nullptr;
  std::int64_t count = 0;
  std::int64_t chunk = 1;
  std::atomic<std::int64_t> next{0};
};

int ThreadPool::hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

ThreadPool::ThreadPool(int threads) {
  const int n = threads <= 0 ? hardware_threads() : threads;
  workers_.reserve(static_cast<std::size_t>(n - 1));
  for (int i = 1; i < n; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_chunks(Job& job) {
  const bool was_inside = t_inside_pool;
  t_inside_pool = true;
  for (;;) {
    const std::int64_t begin = job.next.fetch_add(job.chunk);
    if (begin >= job.count) break;
    (*job.fn)(begin, std::min(job.count, begin + job.chunk));
  }
  t_inside_pool = was_inside;
}

void ThreadPool::worker_loop() {
  std::uint64_t seen = 0;
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      job = job_;
      if (job == nullptr) continue;  // that job finished before this worker woke
      ++active_;
    }
    run_chunks(*job);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--active_ == 0) done_.notify_all();
    }
  }
}

void ThreadPool::parallel_for(std::int64_t count, std::int64_t grain,
                              const std::function<void(std::int64_t, std::int64_t)>& fn) {
  if (count <= 0) return;
  grain = std::max<std::int64_t>(grain, 1);
  if (workers_.empty() || t_inside_pool || count <= grain) {
    fn(0, count);
    return;
  }
  // Four chunks per thread balance uneven work without much overhead.
  const std::int64_t target = (count + size() * 4 - 1) / (size() * 4);
  Job job;
  job.fn = &fn;
  job.count = count;
  job.chunk = std::max(grain, target);

  std::lock_guard<std::mutex> submit(submit_mutex_);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &job;
    ++generation_;
  }
  wake_.notify_all();
  run_chunks(job);
  std::unique_lock<std::mutex> lock(mutex_);
  // Workers that have not woken yet must not pick up this job after we
  // return: wait until every started worker finished and no chunk is left.
  done_.wait(lock, [&] { return active_ == 0; });
  job_ = nullptr;
}

}  // namespace acefit
