#include "http_server.h"

#include "io/text/text_input.h"

#include <arpa/inet.h>

#include <cstdio>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "http_util.h"
#include "routes.h"

namespace acefit::server {

namespace {

struct Route {
  const char* path;  // exact, or a prefix when it ends with '/'
  const char* methods;
  bool is_public;
};

constexpr Route kRoutes[] = {
    {"/release_task", "POST", false},
    {"/query_result", "POST", false},
    {"/v1/cancel", "POST", false},
    {"/v1/plan", "POST", false},
    {"/health", "GET", true},
    {"/v1/models", "GET", false},
    {"/v1/stats", "GET", false},
    {"/v1/audio", "GET", false},
    {"/v1/events", "GET", false},
    {"/v1/gpu", "GET", false},
    {"/", "GET", true},
    {"/ui", "GET", true},
    {"/ui/", "GET", true},
};

const Route* find_route(const std::string& path) {
  for (const Route& route : kRoutes) {
    const std::string p = route.path;
    if (path == p) return &route;
    if (p.size() > 1 && p.back() == '/' && path.size() > p.size() && path.rfind(p, 0) == 0)
      return &route;
  }
  return nullptr;
}

std::string host_name(const std::string& host_header) {
  if (!host_header.empty() && host_header[0] == '[') {
    const auto close = host_header.find(']');
    return close == std::string::npos ? host_header : host_header.substr(1, close - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

bool loopback_name(const std::string& name) {
  if (name == "localhost" || name == "::1") return true;
  in_addr addr{};
  return ::inet_pton(AF_INET, name.c_str(), &addr) == 1 && (ntohl(addr.s_addr) >> 24) == 127;
}

// http://localhost:*, http://127.0.0.1:*, http://[::1]:* (any port).
bool local_origin(const std::string& origin) {
  const std::string scheme = "http://";
  if (origin.rfind(scheme, 0) != 0) return false;
  const std::string rest = origin.substr(scheme.size());
  const std::string name = host_name(rest);
  const std::string after = rest.substr(rest[0] == '[' ? rest.find(']') + 1 : name.size());
  if (!after.empty()) {
    if (after[0] != ':' || after.size() == 1 || after.size() > 6) return false;
    for (std::size_t i = 1; i < after.size(); ++i)
      if (after[i] < '0' || after[i] > '9') return false;
  }
  return name == "localhost" || name == "127.0.0.1" || name == "::1";
}

// Query parameters that would carry a key (keys in URLs end up in logs).
constexpr const char* kKeyParameters[] = {"ai_token", "api_key", "apikey",
                                          "key",      "token",   "access_token"};

httplib::Server::HandlerResponse pre_route(ServerState& state, const httplib::Request& req,
                                           httplib::Response& res) {
  using Handled = httplib::Server::HandlerResponse;
  const Route* route = find_route(req.path);
  if (route == nullptr) {
    send_error(res, 404, "not_found", "", "no such route");
    return Handled::Handled;
  }
  // Host (DNS rebinding) when bound to loopback.
  if (state.loopback && req.has_header("Host") &&
      !loopback_name(host_name(req.get_header_value("Host")))) {
    send_error(res, 403, "forbidden_host", "Host",
               "this server answers only to localhost, 127.0.0.1 and [::1]");
    return Handled::Handled;
  }
  // CORS: only local origins (or the server's own) are answered.
  if (req.has_header("Origin")) {
    const std::string origin = req.get_header_value("Origin");
    const bool same = origin == "http://" + req.get_header_value("Host");
    if (local_origin(origin) || same) {
      res.set_header("Access-Control-Allow-Origin", origin);
      res.set_header("Vary", "Origin");
    } else if (req.method != "GET" && req.method != "HEAD") {
      send_error(res, 403, "forbidden_origin", "Origin", "cross-origin requests are not allowed");
      return Handled::Handled;
    }
  }
  if (req.method == "OPTIONS") {
    if (!res.has_header("Access-Control-Allow-Origin")) {
      send_error(res, 403, "forbidden_origin", "Origin", "cross-origin requests are not allowed");
      return Handled::Handled;
    }
    res.set_header("Access-Control-Allow-Methods", std::string(route->methods) + ", OPTIONS");
    res.set_header("Access-Control-Allow-Headers", "Authorization, Content-Type");
    res.set_header("Access-Control-Max-Age", "600");
    res.status = 204;
    return Handled::Handled;
  }
  const std::string methods = route->methods;
  const bool allowed = req.method == methods || (methods == "GET" && req.method == "HEAD");
  if (!allowed) {
    res.set_header("Allow", methods);
    send_error(res, 405, "method_not_allowed", "", req.path + " accepts " + methods + " only");
    return Handled::Handled;
  }
  if (req.has_header("Transfer-Encoding") && req.has_header("Content-Length")) {
    close_connection_after_response();
    send_error(res, 400, "invalid_request", "Content-Length",
               "Content-Length together with Transfer-Encoding");
    return Handled::Handled;
  }
  if (req.method == "POST" && !req.has_header("Content-Length") &&
      !req.has_header("Transfer-Encoding")) {
    close_connection_after_response();
    send_error(res, 411, "length_required", "Content-Length",
               "a POST needs Content-Length or chunked transfer encoding");
    return Handled::Handled;
  }
  if (req.get_header_value_count("Content-Length") > 1) {
    close_connection_after_response();
    send_error(res, 400, "invalid_request", "Content-Length", "Content-Length given twice");
    return Handled::Handled;
  }
  if (req.has_header("Transfer-Encoding") &&
      req.get_header_value("Transfer-Encoding") != "chunked") {
    close_connection_after_response();
    send_error(res, 400, "invalid_request", "Transfer-Encoding",
               "only chunked transfer encoding is accepted");
    return Handled::Handled;
  }
  if (!state.options.api_key.empty()) {
    for (const char* name : kKeyParameters) {
      if (req.has_param(name)) {
        send_unauthorized(state, res);
        return Handled::Handled;
      }
    }
  }
  // The same query parameter twice: the last must not silently win.
  for (auto it = req.params.begin(); it != req.params.end(); ++it) {
    if (req.params.count(it->first) > 1) {
      send_error(res, 400, "invalid_request", printable_text(it->first),
                 "query parameter '" + printable_text(it->first) + "' is given more than once");
      return Handled::Handled;
    }
  }
  // GET routes authenticate by header; POST routes also accept the body's ai_token.
  if (!route->is_public && req.method != "POST" && !header_authenticated(state, req)) {
    send_unauthorized(state, res);
    return Handled::Handled;
  }
  return Handled::Unhandled;
}

}  // namespace

bool is_loopback_host(const std::string& host) {
  // A bare IPv6 address ("::1") has colons of its own, no port.
  if (host.find(':') != host.rfind(':')) return loopback_name(host);
  return loopback_name(host_name(host));
}

HttpServer::HttpServer(ServerOptions options, Engine& engine, std::timed_mutex& engine_mutex,
                       JobQueue& queue, JobStore& store)
    : state_(std::make_unique<ServerState>(std::move(options), engine, engine_mutex, queue, store)),
      http_(std::make_unique<GuardedServer>(state_->options.transport)) {
  ServerState& state = *state_;
  state.loopback = is_loopback_host(state.options.host);
  state.transport = &http_->counters();
  http_->set_payload_max_length(state.options.max_upload_bytes + state.options.max_json_bytes);
  http_->set_pre_routing_handler([&state](const httplib::Request& req, httplib::Response& res) {
    return pre_route(state, req, res);
  });
  http_->set_exception_handler(
      [&state](const httplib::Request& req, httplib::Response& res, std::exception_ptr error) {
        state.handler_exceptions.fetch_add(1);
        std::string what = "unknown exception";
        try {
          if (error) std::rethrow_exception(error);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        std::fprintf(stderr, "acefit serve: bug: %s %s threw: %s\n", req.method.c_str(),
                     req.path.c_str(), what.c_str());
        close_connection_after_response();
        send_error(res, 500, "internal_error", "", "internal error (logged)");
      });
  // Responses httplib writes itself (malformed request line, 414, a body it
  // could not read) get the JSON envelope too.
  http_->set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        const int status = res.status;
        const char* code = status == 414   ? "uri_too_long"
                           : status == 413 ? "payload_too_large"
                           : status == 404 ? "not_found"
                                           : "invalid_request";
        send_error(res, status, code, "",
                   status == 414   ? "the request URI is too long"
                   : status == 413 ? "the body is larger than the limit"
                                   : "malformed request");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http_->set_logger([&state](const httplib::Request&, const httplib::Response& res) {
    if (res.status >= 500) {
      state.responses_5xx.fetch_add(1);
    } else if (res.status >= 400) {
      state.responses_4xx.fetch_add(1);
    } else {
      state.responses_2xx.fetch_add(1);
    }
  });
  register_job_routes(*http_, state);
  register_info_routes(*http_, state);
  register_file_routes(*http_, state);
}

HttpServer::~HttpServer() {
  stop();
}

Expected<int> HttpServer::bind() {
  const int port =
      state_->options.port == 0
          ? http_->bind_to_any_port(state_->options.host)
          : (http_->bind_to_port(state_->options.host, state_->options.port) ? state_->options.port
                                                                             : -1);
  if (port >= 0) http_->raise_listen_backlog(128);
  if (port < 0) {
    return Status(ErrorCode::io, "cannot listen on " + state_->options.host + ":" +
                                     std::to_string(state_->options.port) +
                                     " (in use, or not an address of this machine)");
  }
  return port;
}

bool HttpServer::listen() {
  return http_->listen_after_bind();
}

void HttpServer::begin_drain() {
  state_->ready = false;
  state_->draining = true;
}

void HttpServer::stop() {
  state_->stopping = true;
  if (http_ && http_->is_running()) http_->stop();
}

}  // namespace acefit::server
