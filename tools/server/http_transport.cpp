#include "http_transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace acefit::server {

namespace {

using Clock = std::chrono::steady_clock;

// Set while the accept thread runs a connection it could not queue.
thread_local bool t_refuse_connection = false;

class ConnectionStream;
thread_local ConnectionStream* t_current_stream = nullptr;

// Waits for `events` on fd for at most timeout_ms; > 0 ready, 0 timeout, < 0 error.
int wait_fd(int fd, short events, std::int64_t timeout_ms) {
  pollfd p{fd, events, 0};
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(0, timeout_ms)));
    if (r < 0 && errno == EINTR) continue;
    if (r > 0 && (p.revents & (POLLERR | POLLNVAL)) != 0 && (p.revents & events) == 0) return -1;
    return r;
  }
}

void address_of(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  const int r = peer ? ::getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len)
                     : ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  if (r != 0) return;
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &a->sin_addr, text, sizeof text);
    port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof text);
    port = ntohs(a->sin6_port);
  }
  ip = text;
}

// One request on a connection: the head is bounded in bytes and time, the
// body in time; reads are buffered (httplib reads the head a byte at a time).
class ConnectionStream : public httplib::Stream {
 public:
  ConnectionStream(int fd, const TransportLimits& limits, TransportCounters& counters)
      : fd_(fd), limits_(limits), counters_(counters) {}

  // The head is read; from now on the body's limits apply.
  void begin_body() {
    in_head_ = false;
    deadline_ = Clock::now() + std::chrono::seconds(limits_.body_timeout_s);
  }
  bool close_requested() const { return close_requested_; }
  void request_close() { close_requested_ = true; }

  bool is_readable() const override {
    return pos_ < len_ || wait_fd(fd_, POLLIN, read_wait_ms()) > 0;
  }
  bool is_writable() const override {
    if (wait_fd(fd_, POLLOUT, limits_.write_timeout_s * 1000LL) <= 0) return false;
    // Alive unless readable with an orderly close pending.
    if (wait_fd(fd_, POLLIN, 0) <= 0) return true;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (started_ == false) {
      started_ = true;
      deadline_ = Clock::now() + std::chrono::seconds(limits_.head_timeout_s);
    }
    if (in_head_ && head_bytes_ >= limits_.head_max_bytes) {
      counters_.head_limit.fetch_add(1);
      close_requested_ = true;
      return -1;
    }
    if (pos_ == len_) {
      const std::int64_t wait_ms = read_wait_ms();
      if (wait_ms <= 0 || wait_fd(fd_, POLLIN, wait_ms) <= 0) {
        if (in_head_) counters_.head_limit.fetch_add(1);
        close_requested_ = true;
        return -1;
      }
      ssize_t n;
      do {
        n = ::recv(fd_, buffer_, sizeof buffer_, 0);
      } while (n < 0 && errno == EINTR);
      if (n <= 0) {
        close_requested_ = true;
        return n < 0 ? -1 : 0;
      }
      pos_ = 0;
      len_ = static_cast<std::size_t>(n);
    }
    std::size_t take = std::min(size, len_ - pos_);
    if (in_head_) {
      take = std::min(take, limits_.head_max_bytes - head_bytes_);
      head_bytes_ += take;
    }
    std::memcpy(ptr, buffer_ + pos_, take);
    pos_ += take;
    return static_cast<ssize_t>(take);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (wait_fd(fd_, POLLOUT, limits_.write_timeout_s * 1000LL) <= 0) return -1;
    ssize_t n;
    do {
      n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    address_of(fd_, false, ip, port);
  }
  socket_t socket() const override { return fd_; }

  // Bytes already read past the current request (a pipelined next one).
  bool has_buffered() const { return pos_ < len_; }

 private:
  std::int64_t read_wait_ms() const {
    std::int64_t wait_ms = limits_.read_timeout_s * 1000LL;
    if (started_) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
      wait_ms = std::min<std::int64_t>(wait_ms, left.count());
    }
    return wait_ms;
  }

  int fd_;
  const TransportLimits& limits_;
  TransportCounters& counters_;
  bool started_ = false;
  bool in_head_ = true;
  bool close_requested_ = false;
  std::size_t head_bytes_ = 0;
  Clock::time_point deadline_{};
  char buffer_[4096];
  std::size_t pos_ = 0, len_ = 0;
};

// `threads` workers, at most `max_pending` connections waiting; a connection
// beyond that runs at once on the accept thread with t_refuse_connection set
// (an immediate 503, no reading).
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(std::size_t threads, std::size_t max_pending) : max_pending_(max_pending) {
    for (std::size_t i = 0; i < std::max<std::size_t>(1, threads); ++i)
      workers_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (!stopping_ && pending_.size() < max_pending_) {
        pending_.push_back(std::move(fn));
        ready_.notify_one();
        return;
      }
    }
    t_refuse_connection = true;
    fn();
    t_refuse_connection = false;
  }

  void shutdown() override {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      if (stopping_ && workers_.empty()) return;
      stopping_ = true;
      ready_.notify_all();
    }
    for (auto& worker : workers_) {
      if (worker.joinable()) worker.join();
    }
    workers_.clear();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;  // stopping, nothing left
        fn = std::move(pending_.front());
        pending_.pop_front();
      }
      fn();
    }
  }

  std::size_t max_pending_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> pending_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
};

void refuse(int fd) {
  static const std::string kBusy = [] {
    const std::string body =
        "{\"data\":null,\"code\":503,\"error\":{\"code\":\"server_busy\",\"field\":null,"
        "\"message\":\"too many open connections\"},\"timestamp\":0,\"extra\":null}";
    return "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
           "Retry-After: 1\r\nConnection: close\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
  }();
  (void)::send(fd, kBusy.data(), kBusy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

// Closing a socket with unread input sends a reset, which can destroy the
// answer the client has not read yet (a 413 for a body still arriving). So
// stop writing, drain what the client still sends for a moment, then close.
void lingering_close(int fd) {
  ::shutdown(fd, SHUT_WR);
  const auto end = Clock::now() + std::chrono::milliseconds(500);
  std::size_t drained = 0;
  char buffer[16384];
  while (drained < (4u << 20)) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now()).count();
    if (left <= 0 || wait_fd(fd, POLLIN, left) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, MSG_DONTWAIT);
    if (n <= 0) break;
    drained += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

}  // namespace

GuardedServer::GuardedServer(const TransportLimits& limits) : limits_(limits) {
  new_task_queue = [this] { return new BoundedPool(limits_.threads, limits_.max_pending); };
  set_read_timeout(limits_.read_timeout_s, 0);
  set_write_timeout(limits_.write_timeout_s, 0);
  set_keep_alive_timeout(limits_.keep_alive_timeout_s);
  set_keep_alive_max_count(limits_.keep_alive_max_count);
}

bool GuardedServer::process_and_close_socket(socket_t sock) {
  counters_.connections.fetch_add(1);
  if (t_refuse_connection) {
    counters_.refused_busy.fetch_add(1);
    refuse(sock);
    ::shutdown(sock, SHUT_RDWR);
    ::close(sock);
    return false;
  }
  bool ok = true;
  std::size_t count = limits_.keep_alive_max_count;
  while (svr_sock_ != INVALID_SOCKET && count > 0) {
    if (wait_fd(sock, POLLIN, limits_.keep_alive_timeout_s * 1000LL) <= 0) break;
    ConnectionStream stream(sock, limits_, counters_);
    t_current_stream = &stream;
    bool connection_closed = false;
    ok = process_request(stream, count == 1, connection_closed,
                         [&stream](httplib::Request&) { stream.begin_body(); });
    t_current_stream = nullptr;
    if (!ok || connection_closed || stream.close_requested()) break;
    // Bytes the stream buffered belong to a pipelined request this loop
    // cannot hand to the next stream: close instead of losing them.
    if (stream.has_buffered()) break;
    --count;
  }
  lingering_close(sock);
  return ok;
}

void GuardedServer::raise_listen_backlog(int backlog) {
  const socket_t sock = svr_sock_;
  if (sock != INVALID_SOCKET) (void)::listen(sock, backlog);
}

void close_connection_after_response() {
  if (t_current_stream != nullptr) t_current_stream->request_close();
}

}  // namespace acefit::server
