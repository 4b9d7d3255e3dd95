#!/usr/bin/env python3
"""acefit serve load test (reliability.md 4.3, OV-01, OV-02): with a queue of
Q = 3 and a job running, 10 x Q concurrent submissions -> exactly Q
accepted, the rest 429 with Retry-After; every accepted job completes; no
500; /health answers throughout, slowloris connections included; SIGTERM
-> exit 0 with no temp files left. Usage: load_test.py ACEFIT WORKDIR"""

import os
import shutil
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, check, finish, job_fields, make_checkpoints, start_deadline, temp_files

start_deadline(110)
acefit, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
ck = os.path.join(work, "ck")
make_checkpoints(acefit, ck)
out = os.path.join(work, "out")
Q = 3
server = Server(acefit, ck, out, ["--queue-size", str(Q), "--http-threads", "8"]).start()

# /health every 50 ms for the whole test, each call with its own timeout.
health = {"ok": 0, "bad": []}
stop_health = threading.Event()


def poll_health():
    while not stop_health.is_set():
        try:
            r = server.request("GET", "/health", auth=False, timeout=5)
            if r.status == 200:
                health["ok"] += 1
            else:
                health["bad"].append(r.status)
        except OSError as error:
            health["bad"].append(repr(error))
        time.sleep(0.05)


health_thread = threading.Thread(target=poll_health, daemon=True)
health_thread.start()

# A handful of slowloris connections: a header byte a second.
slow = []
slow_started = time.time()
for _ in range(3):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    slow.append(sock)


def drip():
    for _ in range(30):
        for sock in slow:
            try:
                sock.sendall(b"a")
            except OSError:
                pass
        time.sleep(1)


threading.Thread(target=drip, daemon=True).start()

# A job that runs through the burst, so the free capacity is exactly Q.
blocker = server.submit(job_fields(duration=30, steps=8)).data()["task_id"]
check(server.wait_state(blocker, {"running"}, timeout=30) is not None, "the blocker never ran")

results = []
lock = threading.Lock()
barrier = threading.Barrier(10 * Q)


def submit_one():
    try:
        barrier.wait(timeout=10)
        r = server.submit(job_fields(), timeout=20)
        with lock:
            results.append(r)
    except Exception as error:  # noqa: BLE001 - every failure is a finding
        with lock:
            results.append(error)


threads = [threading.Thread(target=submit_one) for _ in range(10 * Q)]
started = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join(timeout=30)
burst_s = time.time() - started
statuses = [getattr(r, "status", repr(r)) for r in results]
accepted = [r.data()["task_id"] for r in results if getattr(r, "status", None) == 200]
rejected = [r for r in results if getattr(r, "status", None) == 429]
check(len(results) == 10 * Q, "answers: %d of %d" % (len(results), 10 * Q))
check(len(accepted) == Q, "accepted %d, expected exactly %d (statuses %r)" % (len(accepted), Q, statuses))
check(len(rejected) == 10 * Q - Q, "429s: %d (statuses %r)" % (len(rejected), statuses))
check(all((r.header("Retry-After") or "").isdigit() and int(r.header("Retry-After")) >= 1 for r in rejected),
      "a 429 without a Retry-After in seconds")
check(all(not isinstance(s, int) or s < 500 for s in statuses), "5xx in the burst: %r" % statuses)

# Slowloris connections are closed after the head timeout; the server still answers.
items = server.wait_status([blocker] + accepted, {1, 2}, timeout=80)
check(all(items.get(t, {}).get("status") == 1 for t in [blocker] + accepted),
      "not every accepted job succeeded: %r" % {t: items.get(t, {}).get("progress_text") for t in accepted})
# The head timeout is 10 s from the first byte: by 12 s every slow
# connection has been answered and closed, though it still sends.
time.sleep(max(0.0, slow_started + 12 - time.time()))
closed = 0
for sock in slow:
    sock.settimeout(2)
    try:
        while sock.recv(4096):
            pass
        closed += 1
    except socket.timeout:
        pass
    except OSError:
        closed += 1
    sock.close()
check(closed == len(slow), "slowloris connections still open: %d of %d closed" % (closed, len(slow)))

stop_health.set()
health_thread.join(timeout=10)
check(health["ok"] > 10 and not health["bad"], "/health: %d ok, failures %r" % (health["ok"], health["bad"][:5]))
r = server.request("GET", "/v1/stats")
d = r.data() or {}
check(d.get("responses", {}).get("5xx") == 0, "5xx responses: %r" % d.get("responses"))
print("connections: %r" % d.get("connections"))
check(d.get("rejections", {}).get("queue_full") == 10 * Q - Q, "queue_full counter: %r" % d.get("rejections"))
code = server.stop()
check(code == 0, "exit code after SIGTERM: %r" % code)
check(temp_files(out) == [], "temp files left: %r" % temp_files(out))
print("burst of %d answered in %.2f s; %d health checks" % (10 * Q, burst_s, health["ok"]))
finish("server load test")
