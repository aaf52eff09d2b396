// The LaneSwap client, mirroring the client API document (shared/seeds/000_...): an asynchronous
// client on an asio::io_context (completion handlers, called on that thread) and a synchronous
// wrapper with per-call timeouts. Unlike the reference client it sends the configured headers on
// every request, re-registers when the server forgot it, never puts idle/shutdown on the wire,
// and gives every failure its own error (protocol.hpp, Errc).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/io_thread.hpp"
#include "upstream/laneswap/protocol.hpp"

namespace rig::laneswap {

struct ClientOptions {
  std::string api_url;          // "http://monitor.lab:8000" or https://...; "/api" is appended
  std::string service_name;     // either this or service_id must be set
  std::string service_id;       // client-chosen, stable: re-registration keeps it (§2.1)
  net::Headers headers;         // sent on every request, e.g. {"Authorization", "Bearer ..."}
  bool strict_status = false;   // IDLE/SHUTDOWN: an error instead of the §3 mapping
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds register_timeout{30000};
  std::chrono::milliseconds progress_recheck{10 * 60 * 1000};  // after ProgressNotSupported
  net::TlsOptions tls;
};

template <typename T>
using Handler = std::function<void(Expected<T>)>;
using Timeout = std::optional<std::chrono::milliseconds>;  // per call; default from the options

class AsyncClient : public std::enable_shared_from_this<AsyncClient> {
 public:
  // Checks the options (the URL, a name or an id) and loads the CA bundle for https.
  static Expected<std::shared_ptr<AsyncClient>> create(asio::io_context& io, ClientOptions options);

  // Registers (always: the server may have restarted and forgotten us) and remembers the id.
  void connect(json metadata, Handler<std::string> done, Timeout timeout = {});
  void register_service(std::string service_name, json metadata, Handler<std::string> done, Timeout timeout = {});
  // On 404 "Service not found" it re-registers with the same id and sends the heartbeat once more.
  void send_heartbeat(Status status, std::optional<std::string> message, json metadata, Handler<ServiceInfo> done,
                      Timeout timeout = {});
  void get_service(std::string service_id, Handler<ServiceInfo> done, Timeout timeout = {});
  void get_all_services(Handler<ServiceList> done, Timeout timeout = {});
  void health(Handler<json> done, Timeout timeout = {});
  void start_progress(std::string task_name, int64_t total_steps, std::optional<std::string> description, json metadata,
                      Handler<std::string> done, Timeout timeout = {});
  void update_progress(std::string task_id, int64_t current_step, std::string status, std::optional<std::string> message,
                       json metadata, Handler<json> done, Timeout timeout = {});
  void complete_progress(std::string task_id, std::string status, std::optional<std::string> message, json metadata,
                         Handler<json> done, Timeout timeout = {});
  void close();  // fails what is queued; on the io thread

  const std::string& service_id() const { return service_id_; }
  const std::string& where() const { return where_; }
  net::HttpClient::Stats http_stats() const { return http_->stats(); }

 private:
  AsyncClient(ClientOptions options, net::Url url, std::shared_ptr<net::HttpClient> http);
  void call(Call c, const char* method, const std::string& path, const json* body, Timeout timeout, Handler<json> done);
  void heartbeat_once(const WireStatus& wire, const std::optional<std::string>& message, const json& metadata,
                      Timeout timeout, bool may_reregister, Handler<ServiceInfo> done);
  Expected<void> progress_allowed() const;
  void note_progress_result(const Error& e);

  ClientOptions opts_;
  net::Url url_;
  std::string base_;   // "/api" or "/prefix/api"
  std::string where_;  // the origin, for messages
  std::shared_ptr<net::HttpClient> http_;
  std::string service_id_;
  json registration_metadata_ = json::object();  // sent again on re-registration
  std::optional<std::chrono::steady_clock::time_point> progress_unsupported_until_;
};

// The same calls, blocking, each with its own timeout; its own io thread.
class SyncClient {
 public:
  static Expected<std::unique_ptr<SyncClient>> create(ClientOptions options);
  ~SyncClient();

  using ms = std::chrono::milliseconds;
  Expected<std::string> connect(json metadata = json::object(), ms timeout = ms(30000));
  Expected<std::string> register_service(std::string service_name, json metadata = json::object(), ms timeout = ms(30000));
  Expected<ServiceInfo> send_heartbeat(Status status = Status::healthy, std::optional<std::string> message = {},
                                       json metadata = json::object(), ms timeout = ms(30000));
  Expected<ServiceInfo> get_service(std::string service_id, ms timeout = ms(30000));
  Expected<ServiceList> get_all_services(ms timeout = ms(30000));
  Expected<json> health(ms timeout = ms(10000));
  Expected<std::string> start_progress(std::string task_name, int64_t total_steps, std::optional<std::string> description = {},
                                       json metadata = json::object(), ms timeout = ms(30000));
  Expected<json> update_progress(std::string task_id, int64_t current_step, std::string status = "running",
                                 std::optional<std::string> message = {}, json metadata = json::object(), ms timeout = ms(30000));
  Expected<json> complete_progress(std::string task_id, std::string status = "completed", std::optional<std::string> message = {},
                                   json metadata = json::object(), ms timeout = ms(30000));
  void close();
  AsyncClient& async() { return *client_; }

 private:
  SyncClient() = default;
  template <typename T, typename Start>
  Expected<T> wait(Start start, ms timeout);

  std::unique_ptr<IoThread> io_;
  std::shared_ptr<AsyncClient> client_;
};

}  // namespace rig::laneswap
