// The server's transport over cpp-httplib (docs/SERVER.md, "Limits"): an
// httplib::Server whose connections run through a stream that bounds what a
// client can make the server hold or wait for, and a bounded worker pool.
//
// - Request head (request line and headers): at most head_max_bytes in all
//   (httplib 0.11 bounds each header line but not their number) and
//   head_timeout_s from its first byte (slowloris: one byte a second keeps
//   a per-read timeout happy forever).
// - Body: read_timeout_s per read and body_timeout_s in all.
// - Writes: write_timeout_s per write, MSG_NOSIGNAL (a vanished client is an
//   error, never SIGPIPE).
// - Connections: `threads` workers and at most max_pending accepted
//   connections waiting for one; beyond that a connection gets an immediate
//   503 and is closed, so the open connections stay bounded.
// - A handler can ask for the connection to be closed after its response
//   (an unread or partly read body): close_connection_after_response().
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include <httplib.h>

namespace acefit::server {

struct TransportLimits {
  std::size_t threads = 8;
  std::size_t max_pending = 32;
  std::size_t head_max_bytes = 64 * 1024;
  int head_timeout_s = 10;
  int read_timeout_s = 5;
  int body_timeout_s = 60;
  int write_timeout_s = 5;
  int keep_alive_timeout_s = 5;
  std::size_t keep_alive_max_count = 100;
};

// Counters of the transport (GET /v1/stats).
struct TransportCounters {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> refused_busy{0};  // over threads + max_pending
  std::atomic<std::uint64_t> head_limit{0};    // head too large or too slow
};

class GuardedServer : public httplib::Server {
 public:
  explicit GuardedServer(const TransportLimits& limits);
  const TransportCounters& counters() const { return counters_; }
  // httplib 0.11 listens with a backlog of 5: a burst of connections then
  // waits for SYN retransmits (1 s) or is reset. Call after binding.
  void raise_listen_backlog(int backlog);

 private:
  bool process_and_close_socket(socket_t sock) override;

  TransportLimits limits_;
  TransportCounters counters_;
};

// Inside a handler: close this connection once the response is written.
void close_connection_after_response();

}  // namespace acefit::server
