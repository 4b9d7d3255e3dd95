#!/usr/bin/env python3
"""acefit serve crash test (reliability.md OV-10, OUT-08): submit several
jobs, kill -9 the server while the first runs, restart it on the same
output folder and database: the running job is failed with a reason, the
queued ones run, none is lost, and no temp file is left. Usage:
crash_test.py ACEFIT WORKDIR"""

import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check, finish, job_fields, make_checkpoints, start_deadline, temp_files

start_deadline(100)
acefit, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
ck = os.path.join(work, "ck")
make_checkpoints(acefit, ck)
out = os.path.join(work, "out")
db = os.path.join(work, "jobs.sqlite3")

server = Server(acefit, ck, out, ["--queue-size", "10", "--db", db]).start()
first = server.submit(job_fields(duration=30, steps=8)).data()["task_id"]
queued = [server.submit(job_fields(seed=s, use_random_seed=False)).data()["task_id"] for s in (1, 2, 3)]
# Wait until the first job is well into its run.
end = time.time() + 30
while time.time() < end:
    item = (server.query([first]) or {}).get(first, {})
    if item.get("state") == "running" and "diffusion" in item.get("progress_text", ""):
        break
    time.sleep(0.05)
check(item.get("state") == "running", "the first job never ran: %r" % item)
# A stale temp file as a writer killed mid-write leaves one (pid 1 is no acefit... use a dead pid).
dead_pid = 4194303
with open(os.path.join(out, ".acefit-tmp-%d-x.wav" % dead_pid), "wb") as f:
    f.write(b"RIFF")
server.kill9()

server = Server(acefit, ck, out, ["--queue-size", "10", "--db", db]).start()
check(temp_files(out) == [], "temp files after the restart: %r" % temp_files(out))
items = server.wait_status([first] + queued, {1, 2}, timeout=60)
got = items.get(first, {})
check(got.get("status") == 2 and got.get("state") == "failed" and "interrupted" in got.get("progress_text", ""),
      "the interrupted job: %r" % got)
for task in queued:
    check(items.get(task, {}).get("status") == 1, "queued job %s after the restart: %r" % (task, items.get(task)))
check(len(items) == 4, "jobs accounted for: %d of 4" % len(items))
r = server.request("GET", "/v1/stats")
d = r.data() or {}
check(d.get("jobs", {}).get("total") == 4, "stats after the restart: %r" % d.get("jobs"))
check(server.stop() == 0, "exit code")
check(temp_files(out) == [], "temp files at the end: %r" % temp_files(out))
finish("server crash test")
