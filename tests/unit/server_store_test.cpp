// The server's SQLite job store (tools/server/job_store.h).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <sqlite3.h>
#include <unistd.h>

#include "job_store.h"

namespace server_store_test {

namespace fs = std::filesystem;
using namespace acefit;
using namespace acefit::server;

class TempFolder {
 public:
  TempFolder() {
    std::random_device device;
    path_ = fs::temp_directory_path() / ("acefit-store-" + std::to_string(device()));
    fs::create_directories(path_);
  }
  ~TempFolder() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, ec);
    fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::unique_ptr<JobStore> open_store(const std::string& path) {
  auto store = JobStore::open(path);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(store).value() : nullptr;
}

Job queued_job(std::int64_t created_ms, nlohmann::json request = {{"prompt", "x"}}) {
  Job job;
  job.id = new_job_id();
  job.created_ms = created_ms;
  job.request = std::move(request);
  return job;
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(ServerStore, JobIdsAreRandom128BitHex) {
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    const std::string id = new_job_id();
    EXPECT_TRUE(is_job_id(id)) << id;
    ids.insert(id);
  }
  EXPECT_EQ(ids.size(), 200u);
  EXPECT_FALSE(is_job_id("0123"));
  EXPECT_FALSE(is_job_id("0123456789ABCDEF0123456789abcdef"));
  EXPECT_FALSE(is_job_id("../3456789abcdef0123456789abcdef0"));
}

TEST(ServerStore, StateNamesRoundTrip) {
  for (const auto state : {JobState::queued, JobState::running, JobState::succeeded,
                           JobState::failed, JobState::cancelled}) {
    EXPECT_EQ(parse_job_state(job_state_name(state)), state);
  }
  EXPECT_FALSE(parse_job_state("done").has_value());
  EXPECT_FALSE(is_terminal(JobState::running));
  EXPECT_TRUE(is_terminal(JobState::cancelled));
}

TEST(ServerStore, JobsPersistAcrossReopen) {
  TempFolder folder;
  const std::string db = folder.file("jobs.db");
  const Job a = queued_job(1000, {{"prompt", "first"}, {"batch_size", 2}});
  const Job b = queued_job(1000);
  const Job c = queued_job(999);
  const Job d = queued_job(2000);
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    for (const Job* job : {&a, &b, &c, &d}) ASSERT_TRUE(store->insert(*job).ok());
    EXPECT_FALSE(store->insert(a).ok());  // duplicate id
    ASSERT_TRUE(store->mark_running(d.id, 2100).ok());
    ASSERT_TRUE(store->finish_succeeded(d.id, 2200, {{"seed", 7}}, {folder.file("d-1.mp3")}).ok());
    ASSERT_TRUE(store->finish_cancelled(b.id, 2300, "cancelled by the client").ok());
  }
  auto store = open_store(db);
  ASSERT_TRUE(store);
  auto got = store->get(a.id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->state, JobState::queued);
  EXPECT_EQ(got->created_ms, 1000);
  EXPECT_EQ(got->request, a.request);
  EXPECT_TRUE(got->result.is_null());

  auto done = store->get(d.id);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->state, JobState::succeeded);
  EXPECT_EQ(done->started_ms, 2100);
  EXPECT_EQ(done->finished_ms, 2200);
  EXPECT_EQ(done->result, nlohmann::json({{"seed", 7}}));
  EXPECT_EQ(done->files, std::vector<std::string>{folder.file("d-1.mp3")});

  auto cancelled = store->get(b.id);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state, JobState::cancelled);
  EXPECT_EQ(cancelled->reason, "cancelled by the client");

  // Queued in creation order (ties: insertion order).
  auto queued = store->list_queued();
  ASSERT_TRUE(queued.ok());
  ASSERT_EQ(queued->size(), 2u);
  EXPECT_EQ((*queued)[0].id, c.id);
  EXPECT_EQ((*queued)[1].id, a.id);

  auto counts = store->counts();
  ASSERT_TRUE(counts.ok());
  EXPECT_EQ(counts->queued, 2);
  EXPECT_EQ(counts->succeeded, 1);
  EXPECT_EQ(counts->cancelled, 1);
  EXPECT_EQ(counts->total(), 4);

  EXPECT_EQ(store->get(new_job_id()).status().code(), ErrorCode::not_found);
}

TEST(ServerStore, TransitionsAreChecked) {
  TempFolder folder;
  auto store = open_store(folder.file("jobs.db"));
  ASSERT_TRUE(store);
  const Job job = queued_job(1);
  ASSERT_TRUE(store->insert(job).ok());
  ASSERT_TRUE(store->finish_failed(job.id, 5, "out_of_memory: need 9 GiB").ok());
  EXPECT_EQ(store->finish_succeeded(job.id, 6, {}, {}).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(store->mark_running(job.id, 6).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(store->mark_running(new_job_id(), 6).code(), ErrorCode::not_found);
  EXPECT_EQ(store->finish_cancelled(new_job_id(), 6, "x").code(), ErrorCode::not_found);
  Job running = queued_job(2);
  running.state = JobState::running;
  EXPECT_EQ(store->insert(running).code(), ErrorCode::invalid_argument);
  EXPECT_EQ(store->get(job.id)->reason, "out_of_memory: need 9 GiB");
}

TEST(ServerStore, RecoverFailsInterruptedJobsAndKeepsQueuedOnes) {
  TempFolder folder;
  const std::string db = folder.file("jobs.db");
  const Job running = queued_job(10);
  const Job waiting = queued_job(20);
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    ASSERT_TRUE(store->insert(running).ok());
    ASSERT_TRUE(store->insert(waiting).ok());
    ASSERT_TRUE(store->mark_running(running.id, 15).ok());
  }  // the server stops while `running` runs
  auto store = open_store(db);
  ASSERT_TRUE(store);
  auto failed = store->recover(500);
  ASSERT_TRUE(failed.ok());
  EXPECT_EQ(*failed, std::vector<std::string>{running.id});
  auto job = store->get(running.id);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state, JobState::failed);
  EXPECT_EQ(job->reason, kInterruptedReason);
  EXPECT_EQ(job->finished_ms, 500);
  EXPECT_EQ(store->get(waiting.id)->state, JobState::queued);
  EXPECT_TRUE(store->recover(600)->empty());
}

TEST(ServerStore, ExpireRemovesOldFinishedJobsAndOnlyTheirFiles) {
  TempFolder folder;
  auto store = open_store(folder.file("jobs.db"));
  ASSERT_TRUE(store);
  const std::string old_file = folder.file("old-1.mp3");
  const std::string new_file = folder.file("new-1.mp3");
  const std::string stranger = folder.file("other.mp3");
  for (const auto& f : {old_file, new_file, stranger}) write_file(f, "ID3");
  const Job old_job = queued_job(1);
  const Job new_job = queued_job(2);
  const Job old_failed = queued_job(3);
  const Job queued = queued_job(0);
  for (const Job* job : {&old_job, &new_job, &old_failed, &queued})
    ASSERT_TRUE(store->insert(*job).ok());
  ASSERT_TRUE(store->finish_succeeded(old_job.id, 1000, {}, {old_file}).ok());
  ASSERT_TRUE(store->finish_succeeded(new_job.id, 1500, {}, {new_file}).ok());
  ASSERT_TRUE(store->finish_failed(old_failed.id, 1000, "io: disk full").ok());
  EXPECT_TRUE(store->is_output_file(old_file));
  EXPECT_TRUE(store->is_output_file(new_file));

  // ttl 500 at 1500: finished at or before 1000 goes.
  auto expired = store->expire(1500, 500);
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 2u);
  EXPECT_EQ((*expired)[0].id, old_job.id);
  EXPECT_EQ((*expired)[0].files_removed, std::vector<std::string>{old_file});
  EXPECT_EQ((*expired)[1].id, old_failed.id);
  EXPECT_FALSE(fs::exists(old_file));
  EXPECT_TRUE(fs::exists(new_file));
  EXPECT_TRUE(fs::exists(stranger));
  EXPECT_EQ(store->get(old_job.id).status().code(), ErrorCode::not_found);
  EXPECT_TRUE(store->get(new_job.id).ok());
  EXPECT_EQ(store->get(queued.id)->state, JobState::queued);  // never expires while queued
  EXPECT_FALSE(store->is_output_file(old_file));
  EXPECT_TRUE(store->is_output_file(new_file));
  EXPECT_TRUE(store->expire(1500, 500)->empty());
}

TEST(ServerStore, OutputFilesMatchExactlyAndOnlyForSucceededJobs) {
  TempFolder folder;
  auto store = open_store(folder.file("jobs.db"));
  ASSERT_TRUE(store);
  const std::string file = folder.file("job-1.mp3");
  const Job job = queued_job(1);
  ASSERT_TRUE(store->insert(job).ok());
  ASSERT_TRUE(store->mark_running(job.id, 2).ok());
  EXPECT_FALSE(store->is_output_file(file));
  ASSERT_TRUE(store->finish_succeeded(job.id, 3, {}, {file}).ok());
  EXPECT_TRUE(store->is_output_file(file));
  for (const std::string& other :
       {folder.file("job-1.mp"), folder.file("job-1.mp3 "), folder.file("./job-1.mp3"),
        folder.file("JOB-1.mp3"), file + std::string(1, '\0'), std::string(), folder.file("")}) {
    EXPECT_FALSE(store->is_output_file(other)) << other;
  }
}

TEST(ServerStore, CorruptDatabaseIsAnErrorAtOpen) {
  TempFolder folder;
  const std::string db = folder.file("jobs.db");
  std::string garbage(8192, 'x');
  write_file(db, garbage);
  auto store = JobStore::open(db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::corrupt) << store.status().to_string();
  EXPECT_NE(store.status().message().find(db), std::string::npos);
}

TEST(ServerStore, DamagedPagesAreAnErrorAtOpen) {
  TempFolder folder;
  const std::string db = folder.file("jobs.db");
  {
    auto store = open_store(db);
    ASSERT_TRUE(store);
    for (int i = 0; i < 50; ++i)
      ASSERT_TRUE(store->insert(queued_job(i, {{"prompt", std::string(300, 'a')}})).ok());
  }
  // Keep the header (page 1), scribble over the rest.
  {
    std::fstream file(db, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(4096);
    const std::string noise(4 * 4096, '\xa5');
    file.write(noise.data(), static_cast<std::streamsize>(noise.size()));
  }
  auto store = JobStore::open(db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::corrupt) << store.status().to_string();
}

TEST(ServerStore, UnusablePathsAreAnErrorAtOpen) {
  TempFolder folder;
  auto as_folder = JobStore::open(folder.path().string());
  EXPECT_FALSE(as_folder.ok());
  auto missing_folder = JobStore::open(folder.file("missing/jobs.db"));
  EXPECT_FALSE(missing_folder.ok());
  EXPECT_FALSE(JobStore::open("").ok());
  if (::geteuid() != 0) {
    const fs::path locked = folder.path() / "locked";
    fs::create_directories(locked);
    fs::permissions(locked, fs::perms::owner_read | fs::perms::owner_exec);
    auto unwritable = JobStore::open((locked / "jobs.db").string());
    EXPECT_FALSE(unwritable.ok());
    if (!unwritable.ok()) {
      EXPECT_EQ(unwritable.status().code(), ErrorCode::io);
    }
    fs::permissions(locked, fs::perms::owner_all);
  }
}

TEST(ServerStore, NewerSchemaIsRefused) {
  TempFolder folder;
  const std::string db = folder.file("jobs.db");
  { ASSERT_TRUE(open_store(db)); }
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(raw, "UPDATE schema_version SET version = 99", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = JobStore::open(db);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), ErrorCode::unsupported);
}

}  // namespace server_store_test
