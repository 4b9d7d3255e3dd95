"""Shared helpers of the acefit serve tests (Python 3 standard library only).

Starts the real `acefit serve` binary on 127.0.0.1, port 0, reads the port
from its "listening on" line, and talks HTTP with a timeout on every call.
Every test script has a hard wall-clock limit (start_deadline)."""

import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time

API_KEY = "test-key-0123456789"
FAILURES = []


def start_deadline(seconds):
    """Kills the whole test (and its servers) after `seconds`."""

    def expire():
        sys.stderr.write("FAIL: the test ran past its %d s limit\n" % seconds)
        for server in list(Server.running):
            server.kill9()
        os._exit(3)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()


def check(condition, message):
    if not condition:
        FAILURES.append(message)
        sys.stderr.write("FAIL: %s\n" % message)
    return condition


def finish(name):
    if FAILURES:
        sys.stderr.write("%s: %d failure(s)\n" % (name, len(FAILURES)))
        sys.exit(1)
    print("%s: ok" % name)


def make_checkpoints(acefit, folder):
    if os.path.isdir(os.path.join(folder, "acestep-v15-turbo")):
        return
    subprocess.run([acefit, "make-demo-checkpoints", folder, "--no-lm"], check=True,
                   stdout=subprocess.DEVNULL, timeout=60)


def temp_files(folder):
    return [n for n in os.listdir(folder) if n.startswith(".acefit-tmp-")]


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        try:
            return json.loads(self.body.decode("utf-8"))
        except ValueError:
            return None

    def error(self):
        doc = self.json()
        return doc.get("error") if isinstance(doc, dict) else None

    def data(self):
        doc = self.json()
        return doc.get("data") if isinstance(doc, dict) else None

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def without_timestamp(response):
    doc = response.json()
    if isinstance(doc, dict):
        doc.pop("timestamp", None)
    return doc


class Server:
    running = []

    def __init__(self, acefit, checkpoints, output_dir, args=(), env=None, api_key=API_KEY):
        self.acefit = acefit
        self.checkpoints = checkpoints
        self.output_dir = output_dir
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.api_key = api_key
        self.process = None
        self.port = None
        self.log_path = output_dir.rstrip("/") + ".log"

    def start(self, timeout=60, wait_ready=True):
        """Starts the server; returns once it listens and, with wait_ready,
        once its warm-up ended (the "acefit serve: ready" line)."""
        command = [self.acefit, "serve", "--host", "127.0.0.1", "--port", "0", "--checkpoints",
                   self.checkpoints, "--output-dir", self.output_dir] + self.args
        if self.api_key:
            command += ["--api-key", self.api_key]
        self.log = open(self.log_path, "ab")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log,
                                        env=self.env)
        Server.running.append(self)
        self._end = time.time() + timeout
        self._stdout = b""
        text = self._next_line()
        prefix = "acefit serve: listening on http://127.0.0.1:"
        if not text.startswith(prefix):
            raise RuntimeError("acefit serve did not start: %r (log %s)" % (text, self.log_path))
        self.port = int(text[len(prefix):].split()[0])
        if wait_ready:
            self.wait_ready()
        return self

    def _next_line(self):
        while time.time() < self._end and b"\n" not in self._stdout:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.5)
            if ready:
                chunk = os.read(self.process.stdout.fileno(), 4096)
                if not chunk:
                    break
                self._stdout += chunk
            elif self.process.poll() is not None:
                break
        line, _, self._stdout = self._stdout.partition(b"\n")
        return line.decode("utf-8", "replace")

    def wait_ready(self):
        text = self._next_line()
        if not text.startswith("acefit serve: ready"):
            raise RuntimeError("acefit serve did not get ready: %r (log %s)" % (text, self.log_path))
        return text

    def connection(self, timeout=15):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, auth=True, timeout=15,
                content_type="application/json"):
        all_headers = {}
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        if body is not None and content_type:
            all_headers["Content-Type"] = content_type
        if auth and self.api_key:
            all_headers["Authorization"] = "Bearer " + self.api_key
        all_headers.update(headers or {})
        conn = self.connection(timeout)
        try:
            try:
                conn.request(method, path, body=body, headers=all_headers)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server answered (413) before reading the whole body
            reply = conn.getresponse()
            return Response(reply.status, reply.getheaders(), reply.read())
        finally:
            conn.close()

    def submit(self, fields, **kwargs):
        return self.request("POST", "/release_task", fields, **kwargs)

    def query(self, task_ids):
        response = self.request("POST", "/query_result", {"task_id_list": task_ids})
        if response.status != 200:
            return None
        return {item["task_id"]: item for item in response.data()}

    def wait_status(self, task_ids, wanted, timeout=60):
        """Polls /query_result until every task's upstream status is in `wanted`."""
        end = time.time() + timeout
        items = {}
        while time.time() < end:
            items = self.query(task_ids) or {}
            if items and all(items.get(t, {}).get("status") in wanted for t in task_ids):
                return items
            time.sleep(0.2)
        return items

    def wait_state(self, task_id, states, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            item = (self.query([task_id]) or {}).get(task_id, {})
            if item.get("state") in states:
                return item
            time.sleep(0.1)
        return None

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.process is None:
            return None
        self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = "timeout"
        self._forget()
        return code

    def kill9(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._forget()

    def _forget(self):
        if self in Server.running:
            Server.running.remove(self)
        if getattr(self, "log", None):
            self.log.close()
            self.log = None


def raw_exchange(port, data, timeout=10, read=True):
    """Sends raw bytes and returns what comes back until the server closes."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except (socket.timeout, OSError):
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        sock.close()


def status_of(raw):
    try:
        return int(raw.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


def wav_header(data):
    """(channels, sample_rate, bits, data_bytes) from a canonical WAV header."""
    import struct
    if len(data) < 44 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        return None
    pos = 12
    fmt = None
    while pos + 8 <= len(data):
        chunk_id = data[pos:pos + 4]
        size = struct.unpack("<I", data[pos + 4:pos + 8])[0]
        if chunk_id == b"fmt ":
            _, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8:pos + 24])
            fmt = (channels, rate, bits)
        if chunk_id == b"data":
            return fmt + (size,) if fmt else None
        pos += 8 + size + (size & 1)
    return None


def job_fields(duration=10, steps=2, **extra):
    fields = {"prompt": "soft piano", "lyrics": "", "audio_duration": duration,
              "inference_steps": steps, "batch_size": 1, "audio_format": "wav"}
    fields.update(extra)
    return fields
