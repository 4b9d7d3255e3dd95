#!/usr/bin/env python3
"""acefit serve API test (docs/SERVER.md; reliability.md 3.3, 3.4): every
route, authentication, each error code, a sample of the field table,
traversal on /v1/audio and on the path fields, oversized and malformed
bodies and uploads, cancel of queued and running jobs, a finished job's
WAV, server-sent events, /v1/plan's shape, an out-of-memory job that fails
alone, graceful shutdown. Usage: api_test.py ACEFIT WORKDIR"""

import json
import os
import shutil
import signal
import socket
import struct
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (API_KEY, Server, check, finish, job_fields, make_checkpoints, raw_exchange,
                     start_deadline, status_of, temp_files, wav_header, without_timestamp)

start_deadline(150)
acefit, work = sys.argv[1], sys.argv[2]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
ck = os.path.join(work, "ck")
make_checkpoints(acefit, ck)
out = os.path.join(work, "out")
inputs = os.path.join(work, "inputs")
os.makedirs(inputs)


def wav_bytes(frames, rate=48000, channels=2, lie_data=None):
    data = b"\0\0" * frames * channels
    size = len(data) if lie_data is None else lie_data
    return (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVE" + b"fmt " +
            struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16) +
            b"data" + struct.pack("<I", size) + data)


with open(os.path.join(inputs, "ref.wav"), "wb") as f:
    f.write(wav_bytes(4800))
os.symlink("/etc/passwd", os.path.join(inputs, "escape.wav"))

# ---- bad flags: exit 2 and one line naming the flag, before anything opens ----
import subprocess
readonly = os.path.join(work, "readonly")
os.makedirs(readonly)
with open(os.path.join(readonly, "file"), "w") as f:
    f.write("x")
for flags, needle in [(["--port", "70000"], "--port"), (["--queue-size", "0"], "--queue-size"),
                      (["--result-ttl-s", "nan"], "--result-ttl-s"),
                      (["--max-upload-mib", "-1"], "--max-upload-mib"),
                      (["--host", "0.0.0.0"], "--insecure"),
                      (["--input-dir", os.path.join(work, "missing")], "--input-dir"),
                      (["--output-dir", os.path.join(readonly, "file")], "--output-dir")]:
    done = subprocess.run([acefit, "serve", "--checkpoints", ck] + flags, capture_output=True,
                          timeout=30, env=dict(os.environ, ACESTEP_API_KEY=""))
    lines = [l for l in done.stderr.decode().splitlines() if ": warning: " not in l]
    check(done.returncode == 2 and len(lines) == 1 and needle in lines[0],
          "serve %s: exit %d, %r" % (" ".join(flags), done.returncode, lines))

# ---- warm-up: the server answers while the default models load ----
warming = Server(acefit, ck, out + "-warm", [], env={"ACEFIT_TEST_WARM_UP_DELAY_MS": "1500"})
warming.start(wait_ready=False)
r = warming.request("GET", "/health", auth=False)
check(r.status == 200 and (r.data() or {}).get("ready") is False,
      "/health while warming up: %s %r" % (r.status, r.body))
r = warming.submit(job_fields())
check(r.status == 503 and (r.error() or {}).get("code") == "not_ready" and r.header("Retry-After"),
      "/release_task while warming up: %s %r" % (r.status, r.body))
check("acefit serve: ready" in warming.wait_ready(), "no ready line after the warm-up")
r = warming.request("GET", "/health", auth=False)
check((r.data() or {}).get("ready") is True, "/health after the warm-up: %r" % r.body)
check(warming.stop() == 0, "the warming server did not stop cleanly")

server = Server(acefit, ck, out, ["--queue-size", "2", "--input-dir", inputs,
                                  "--max-upload-mib", "1", "--shutdown-grace-s", "2"]).start()

# ---- public routes, envelope ----
r = server.request("GET", "/health", auth=False)
d = r.data() or {}
check(r.status == 200 and d.get("status") == "ok" and d.get("service") == "ACE-Step API" and
      d.get("version") == "1.0" and d.get("ready") is True, "/health: %s %r" % (r.status, r.body))
doc = r.json() or {}
check(set(doc) == {"data", "code", "error", "timestamp", "extra"} and doc["code"] == 200,
      "envelope keys: %r" % doc)
r = server.request("GET", "/", auth=False)
check(r.status == 200 and b"<" in r.body, "GET / (UI): %s" % r.status)

# ---- authentication: one 401 body for every failure ----
bodies = []
for label, response in [
        ("no key", server.request("GET", "/v1/stats", auth=False)),
        ("wrong key", server.request("GET", "/v1/stats", auth=False,
                                     headers={"Authorization": "Bearer wrong"})),
        ("key in query", server.request("GET", "/v1/stats?ai_token=" + API_KEY, auth=False)),
        ("key in query with header", server.request("GET", "/v1/stats?api_key=x")),
        ("wrong ai_token", server.submit(dict(job_fields(), ai_token="wrong"), auth=False)),
        ("no ai_token", server.submit(job_fields(), auth=False)),
        ("audio without key", server.request("GET", "/v1/audio?path=x", auth=False))]:
    check(response.status == 401, "%s: %s (expected 401)" % (label, response.status))
    bodies.append(without_timestamp(response))
check(all(b == bodies[0] for b in bodies), "401 bodies differ: %r" % bodies)
check((bodies[0] or {}).get("error", {}).get("code") == "authentication_error", "401 code")

# ---- 404, 405, 403 Host, CORS ----
r = server.request("GET", "/no/such/route")
check(r.status == 404 and (r.error() or {}).get("code") == "not_found", "unknown route: %s" % r.status)
r = server.request("GET", "/release_task")
check(r.status == 405 and r.error() is not None and r.header("Allow") == "POST",
      "GET /release_task: %s %r" % (r.status, r.body))
r = server.request("DELETE", "/v1/stats")
check(r.status == 405, "DELETE /v1/stats: %s" % r.status)
r = server.request("GET", "/v1/stats", headers={"Host": "evil.example:8001"})
check(r.status == 403, "rebinding Host: %s" % r.status)
r = server.request("OPTIONS", "/release_task", headers={"Origin": "http://localhost:5173",
                                                        "Access-Control-Request-Method": "POST"})
check(r.status == 204 and r.header("Access-Control-Allow-Origin") == "http://localhost:5173",
      "local preflight: %s" % r.status)
r = server.request("OPTIONS", "/release_task", headers={"Origin": "http://evil.example"})
check(r.status == 403 and r.header("Access-Control-Allow-Origin") is None,
      "foreign preflight: %s" % r.status)
r = server.submit(job_fields(), headers={"Origin": "http://evil.example"})
check(r.status == 403, "foreign-origin POST: %s" % r.status)

# ---- 415, 413, malformed bodies ----
for ctype in ["text/plain", None, "application/json; charset=latin-1"]:
    r = server.request("POST", "/release_task", json.dumps(job_fields()), content_type=ctype)
    check(r.status == 415, "content type %r: %s" % (ctype, r.status))
r = server.request("POST", "/query_result", b"--x\r\n", content_type="multipart/form-data; boundary=x")
check(r.status == 415, "multipart on a JSON route: %s" % r.status)
r = server.request("POST", "/query_result", {"task_id_list": []},
                   content_type="application/json; charset=utf-8")
check(r.status == 200, "charset=utf-8 accepted: %s" % r.status)
big = b'{"prompt": "' + b"a" * (1100 * 1024) + b'"}'
r = server.request("POST", "/release_task", big)
check(r.status == 413, "1.1 MiB JSON with Content-Length: %s" % r.status)
# Content-Length over the limit, no body sent: answered before reading it.
raw = raw_exchange(server.port, b"POST /release_task HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 999999999\r\n\r\n", timeout=5)
check(status_of(raw) == 413, "Content-Length 999999999: %r" % raw[:60])
chunk = b"a" * 65536
chunked = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
raw = raw_exchange(server.port, b"POST /release_task HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Type: application/json\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n" + chunked, timeout=5)
check(status_of(raw) == 413, "1.25 MiB chunked: %r" % raw[:60])
raw = raw_exchange(server.port, b"POST /release_task HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                   b"Transfer-Encoding: chunked\r\n\r\n{}", timeout=5)
check(status_of(raw) == 400, "Content-Length with Transfer-Encoding: %r" % raw[:60])
raw = raw_exchange(server.port, b"POST /v1/cancel HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\n\r\n", timeout=5)
check(status_of(raw) == 411, "POST without a length: %r" % raw[:60])
raw = raw_exchange(server.port, b"GET /health?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
check(status_of(raw) == 414, "9000-byte URI: %r" % raw[:60])
headers = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 60) for i in range(10000))
raw = raw_exchange(server.port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n")
check(status_of(raw) in (400, 431, None), "10000 headers: %r" % raw[:60])
for label, body in [("truncated", b'{"prompt": "x"'), ("trailing comma", b'{"prompt": "x",}'),
                    ("comment", b'{"prompt": "x" /* c */}'), ("NaN", b'{"bpm": NaN}'),
                    ("single quotes", b"{'prompt': 'x'}"), ("empty", b""),
                    ("top-level list", b"[1]"), ("1e400", b'{"audio_duration": 1e400}')]:
    r = server.request("POST", "/release_task", body)
    check(r.status == 400 and r.error() is not None, "%s body: %s %r" % (label, r.status, r.body[:120]))
r = server.request("POST", "/release_task", b'{"prompt": "a", "prompt": "b"}')
check(r.status == 400, "duplicate key: %s" % r.status)
if r.status == 200:
    server.request("POST", "/v1/cancel", {"task_id": r.data()["task_id"]})
r = server.request("GET", "/v1/audio?path=a&path=b")
check(r.status == 400, "query parameter twice: %s" % r.status)

# ---- a sample of the field table: 400 naming the field ----
for fields, name in [({"audio_duration": 9.99}, "audio_duration"), ({"audio_duration": 600.01}, "audio_duration"),
                     ({"audio_duration": "30"}, "audio_duration"), ({"batch_size": 9}, "batch_size"),
                     ({"batch_size": 1.5}, "batch_size"), ({"seed": -2}, "seed"),
                     ({"seed": 4294967296}, "seed"), ({"inference_steps": 0}, "inference_steps"),
                     ({"shift": 5.01}, "shift"), ({"durration": 30}, "durration"),
                     ({"audio_format": "wav\n"}, "audio_format"), ({"audio_format": "../x"}, "audio_format"),
                     ({"model": "../acestep-v15-turbo"}, "model"), ({"guidance_scale": -1}, "guidance_scale")]:
    r = server.submit(dict(job_fields(), **fields))
    if r.status == 200:  # a finding; keep the queue free for what follows
        server.request("POST", "/v1/cancel", {"task_id": r.data()["task_id"]})
    err = r.error() or {}
    check(r.status == 400 and name in (err.get("field") or "") + err.get("message", ""),
          "%r: %s %r" % (fields, r.status, r.body[:200]))
r = server.request("POST", "/release_task", "prompt=soft+piano&audio_duration=10&audio_duration=20",
                   content_type="application/x-www-form-urlencoded")
check(r.status == 400, "form field twice: %s" % r.status)

# ---- path fields: confined to --input-dir, then refused as unsupported ----
for value, label in [("ref.wav", "inside"), ("../ck/x", "dot-dot"), ("/etc/passwd", "absolute"),
                     ("escape.wav", "symlink out"), ("..\\x.wav", "backslash"), ("", "empty ok")]:
    r = server.submit(dict(job_fields(), reference_audio_path=value))
    if value == "":
        check(r.status == 200, "empty reference_audio_path is the default: %s" % r.status)
        if r.status == 200:
            server.request("POST", "/v1/cancel", {"task_id": r.data()["task_id"]})
        continue
    err = r.error() or {}
    check(r.status == 400 and err.get("field") == "reference_audio_path",
          "reference_audio_path %s: %s %r" % (label, r.status, r.body[:160]))

# ---- uploads: validated, then refused; nothing left behind ----
def multipart(parts):
    boundary = "acefitboundary7"
    body = b""
    for name, filename, content in parts:
        body += b"--" + boundary.encode() + b"\r\n"
        disposition = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        body += b"Content-Disposition: " + disposition.encode() + b"\r\n\r\n" + content + b"\r\n"
    body += b"--" + boundary.encode() + b"--\r\n"
    return body, "multipart/form-data; boundary=" + boundary


for label, content, status in [("truncated", wav_bytes(4800)[:100], 400),
                               ("header only", wav_bytes(0), 400),
                               ("data size past the end", wav_bytes(10, lie_data=10 ** 9), 400),
                               ("0 Hz", wav_bytes(10, rate=0), 400),
                               ("valid", wav_bytes(4800), 400),
                               ("2 MiB", b"RIFF" + b"\0" * (2 << 20), 413)]:
    body, ctype = multipart([("prompt", None, b"piano"), ("reference_audio", "a.wav", content)])
    r = server.request("POST", "/release_task", body, content_type=ctype)
    err = r.error() or {}
    check(r.status == status and (status == 413 or err.get("field") == "reference_audio"),
          "upload %s: %s %r" % (label, r.status, r.body[:160]))
body, ctype = multipart([("prompt", None, b"piano"), ("audio_duration", None, b"10"),
                         ("inference_steps", None, b"2"), ("audio_format", None, b"wav")])
r = server.request("POST", "/release_task", body, content_type=ctype)
check(r.status == 200, "multipart text fields: %s %r" % (r.status, r.body[:160]))
multipart_task = (r.data() or {}).get("task_id")
check(temp_files(out) == [], "upload temp files left: %r" % temp_files(out))

# ---- a job: result, the file, events ----
r = server.submit(job_fields(seed=7, use_random_seed=False))
check(r.status == 200 and (r.data() or {}).get("status") == "queued" and
      isinstance((r.data() or {}).get("queue_position"), int), "submit: %s %r" % (r.status, r.body))
task = (r.data() or {}).get("task_id")
events_conn = server.connection(60)
events_conn.request("GET", "/v1/events?task_id=%s" % task,
                    headers={"Authorization": "Bearer " + API_KEY})
events_reply = events_conn.getresponse()
check(events_reply.status == 200 and "text/event-stream" in (events_reply.getheader("Content-Type") or ""),
      "events: %s" % events_reply.status)
events = []
name = None
for line in events_reply:
    line = line.decode().rstrip("\n")
    if line.startswith("event: "):
        name = line[7:]
    elif line.startswith("data: "):
        events.append((name, json.loads(line[6:])))
events_conn.close()
check(events and events[-1][0] == "succeeded", "events end with succeeded: %r" % [e[0] for e in events])
check(all(e[0] in ("queued", "progress", "succeeded") for e in events), "event names %r" % events)
items = server.wait_status([task], {1, 2}, timeout=60)
item = items.get(task, {})
check(item.get("status") == 1, "job status: %r" % item)
result = json.loads(item.get("result", "[]"))
check(len(result) == 1, "result entries: %r" % result)
entry = result[0] if result else {}
for key in ["file", "wave", "status", "create_time", "env", "prompt", "lyrics", "metas",
            "generation_info", "seed_value", "lm_model", "dit_model"]:
    check(key in entry, "result lacks %s" % key)
check(entry.get("lm_model", "absent") is None, "no LM ran, yet lm_model is %r" % entry.get("lm_model"))
check(set((entry.get("metas") or {}).keys()) >= {"bpm", "duration", "genres", "keyscale", "timesignature"},
      "metas keys: %r" % entry.get("metas"))
file_url = entry.get("file", "")
check(file_url.startswith("/v1/audio?path="), "file url: %r" % file_url)
r = server.request("GET", file_url)
check(r.status == 200, "download: %s" % r.status)
header = wav_header(r.body)
check(header == (2, 48000, 16, 480000 * 4), "downloaded WAV header: %r" % (header,))
downloaded_path = urllib.parse.unquote(file_url[len("/v1/audio?path="):])
check(os.path.dirname(downloaded_path) == os.path.realpath(out), "file in the output dir: %s" % downloaded_path)

# ---- /v1/audio: everything but a finished job's file is the same 404 ----
missing = server.request("GET", "/v1/audio?path=" + urllib.parse.quote(os.path.join(os.path.realpath(out), "nope-1.wav")))
check(missing.status == 404, "missing file: %s" % missing.status)
os.symlink("/etc/passwd", os.path.join(out, "link.wav"))
os.makedirs(os.path.realpath(out) + "_evil", exist_ok=True)
with open(os.path.realpath(out) + "_evil/x.wav", "wb") as f:
    f.write(wav_bytes(10))
for raw_query in ["../x.wav", "/etc/passwd", "%2e%2e%2fetc%2fpasswd", "%252e%252e%252f",
                  "..%5cx.wav", "x.wav%00.flac", "", "a" * 300,
                  urllib.parse.quote(os.path.join(os.path.realpath(out), "link.wav")),
                  urllib.parse.quote(os.path.realpath(out) + "_evil/x.wav"),
                  urllib.parse.quote(os.path.join(os.path.realpath(out), "jobs.sqlite3")),
                  urllib.parse.quote(downloaded_path + "/"), urllib.parse.quote(downloaded_path.upper())]:
    r = server.request("GET", "/v1/audio?path=" + raw_query)
    check(r.status == 404 and without_timestamp(r) == without_timestamp(missing),
          "/v1/audio?path=%s: %s %r" % (raw_query[:40], r.status, r.body[:100]))

# ---- info routes ----
r = server.request("GET", "/v1/models")
d = r.data() or {}
check(r.status == 200 and d.get("models") and d["models"][0].get("is_default") is True and
      d.get("default_model") == d["models"][0]["name"], "/v1/models: %r" % r.body[:200])
r = server.request("GET", "/v1/gpu")
d = r.data() or {}
check(r.status == 200 and "tier" in d and "max_duration_s" in d and isinstance(d.get("tiers"), list)
      and d["tiers"] and "max_batch_without_lm" in d["tiers"][0], "/v1/gpu: %r" % r.body[:200])
r = server.request("POST", "/v1/plan", job_fields(duration=20))
d = r.data() or {}
check(r.status == 200, "/v1/plan: %s %r" % (r.status, r.body[:200]))
for key in ["fits", "refusal", "budget_bytes", "peak_bytes", "resident_bytes", "settings", "warnings", "stages"]:
    check(key in d, "/v1/plan lacks %s" % key)
for key in ["tier", "duration_s", "batch", "asked_batch", "max_duration_s", "max_batch", "lm_model",
            "backend", "offload", "quantization", "compile", "init_lm"]:
    check(key in (d.get("settings") or {}), "/v1/plan settings lack %s" % key)
stages = d.get("stages") or []
check(stages and all(set(s.get("by_tag", {})) == {"weights", "activations", "workspace", "kv_cache", "io"}
                     and "name" in s and "device_bytes" in s for s in stages), "/v1/plan stages: %r" % stages[:1])
r = server.request("POST", "/v1/plan", {"audio_duration": 5})
check(r.status == 400, "/v1/plan with a bad field: %s" % r.status)

# ---- queue full (429), cancel queued and running, 409, 404, 400 ----
server.wait_status([multipart_task], {1, 2}, timeout=60)
long_job = server.submit(job_fields(duration=30, steps=8)).data()["task_id"]
server.wait_state(long_job, {"running"}, timeout=30)
# A client that leaves an event stream or a download midway (OV-06).
for path in ["/v1/events?task_id=" + long_job, file_url]:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n"
                  % (path, API_KEY)).encode())
    check(sock.recv(64).startswith(b"HTTP/1.1 200"), "no answer on %s" % path)
    sock.close()
check(server.request("GET", "/health", auth=False).status == 200, "/health after vanished clients")
queued = [server.submit(job_fields()).data()["task_id"] for _ in range(2)]
r = server.submit(job_fields())
check(r.status == 429 and (r.header("Retry-After") or "").isdigit() and int(r.header("Retry-After")) >= 1,
      "full queue: %s Retry-After %r" % (r.status, r.header("Retry-After")))
r = server.request("POST", "/v1/cancel", {"task_id": queued[0]})
check(r.status == 200 and (r.data() or {}).get("status") == "cancelled", "cancel queued: %s %r" % (r.status, r.body))
r = server.request("POST", "/v1/cancel", {"task_id": queued[0]})
check(r.status == 200, "cancel twice: %s" % r.status)
r = server.request("POST", "/v1/cancel", {"task_id": long_job})
check(r.status == 200, "cancel running: %s %r" % (r.status, r.body))
item = server.wait_state(long_job, {"cancelled", "failed", "succeeded"}, timeout=30) or {}
check(item.get("state") == "cancelled" and item.get("status") == 2, "running job after cancel: %r" % item)
check((server.query([queued[0]]) or {}).get(queued[0], {}).get("state") == "cancelled", "queued job cancelled")
r = server.request("POST", "/v1/cancel", {"task_id": task})
check(r.status == 409, "cancel finished: %s" % r.status)
r = server.request("POST", "/v1/cancel", {"task_id": "0" * 32})
check(r.status == 404, "cancel unknown: %s" % r.status)
r = server.request("POST", "/v1/cancel", {"task_id": "../x"})
check(r.status == 400, "cancel malformed: %s" % r.status)
r = server.request("GET", "/v1/events?task_id=" + "0" * 32)
check(r.status == 404, "events of an unknown task: %s" % r.status)
items = server.query(["0" * 32])
check(items and items["0" * 32]["result"] == "[]" and items["0" * 32]["status"] == 0, "unknown task: %r" % items)
server.wait_status([queued[1]], {1, 2}, timeout=60)

# ---- stats: no 500 so far ----
r = server.request("GET", "/v1/stats")
d = r.data() or {}
check(r.status == 200 and {"jobs", "queue_size", "queue_maxsize", "avg_job_seconds"} <= set(d),
      "/v1/stats: %r" % r.body[:200])
check(d.get("responses", {}).get("5xx") == 0 and d.get("handler_exceptions") == 0, "5xx responses: %r" % d)

# ---- graceful shutdown: readiness off, submissions 503, exit 0 ----
running = server.submit(job_fields(duration=30, steps=8)).data()["task_id"]
waiting = server.submit(job_fields()).data()["task_id"]
server.wait_state(running, {"running"}, timeout=30)
server.process.send_signal(signal.SIGTERM)
end = time.time() + 5
while time.time() < end and (server.request("GET", "/health", auth=False).data() or {}).get("ready"):
    time.sleep(0.02)
r = server.submit(job_fields())
check(r.status == 503 and r.header("Retry-After") and (r.error() or {}).get("code") == "shutting_down",
      "submit while draining: %s %r" % (r.status, r.body[:120]))
code = server.stop(timeout=30)
check(code == 0, "exit code after SIGTERM: %r" % code)
check(temp_files(out) == [], "temp files after shutdown: %r" % temp_files(out))

# ---- restart: the queued job runs, the interrupted one failed with a reason; an
# out-of-memory job fails alone; path fields refused without --input-dir ----
# A 20 MiB simulated GPU: a 10 s song fits (about 14 MiB with the VAE
# tiled), a 600 s one does not even after the guard.
tiny_gpu = ["--offload", "none", "--tier", "unlimited"]
server = Server(acefit, ck, out, ["--queue-size", "4"] + tiny_gpu,
                env={"ACEFIT_DEVICE": "sim", "ACEFIT_SIM_VRAM_GB": "0.02"}).start()
items = server.wait_status([running, waiting], {1, 2}, timeout=60)
check(items.get(running, {}).get("state") == "failed" and "shutdown" in items.get(running, {}).get("progress_text", ""),
      "the job running at SIGTERM: %r" % items.get(running))
check(items.get(waiting, {}).get("status") == 1, "the job queued at SIGTERM ran after the restart: %r" % items.get(waiting))
plan_long = server.request("POST", "/v1/plan", job_fields(duration=600)).data() or {}
plan_short = server.request("POST", "/v1/plan", job_fields(duration=10)).data() or {}
check(plan_long.get("fits") is False and plan_long.get("refusal"), "600 s plan on 20 MiB: %r" % plan_long)
check(plan_short.get("fits") is True, "10 s plan on 20 MiB: %r" % plan_short)
r = server.submit(job_fields(duration=600, batch_size=1))
oom = (r.data() or {}).get("task_id")
check(r.status == 200, "long job accepted: %s %r" % (r.status, r.body[:200]))
after = server.submit(job_fields()).data()["task_id"]
items = server.wait_status([oom, after], {1, 2}, timeout=60)
check(items.get(oom, {}).get("status") == 2 and "out_of_memory" in items.get(oom, {}).get("progress_text", ""),
      "out-of-memory job: %r" % items.get(oom))
check(items.get(after, {}).get("status") == 1, "the job after it: %r" % items.get(after))
r = server.submit(dict(job_fields(), src_audio_path="x.wav"))
check(r.status == 400 and (r.error() or {}).get("field") == "src_audio_path",
      "src_audio_path without --input-dir: %s %r" % (r.status, r.body[:160]))
r = server.request("GET", "/v1/stats")
check((r.data() or {}).get("responses", {}).get("5xx") == 0, "5xx after restart: %r" % r.body[:300])
check(server.stop() == 0, "second server's exit code")
finish("server api test")
