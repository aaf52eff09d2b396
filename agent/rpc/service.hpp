// The RpcService: PUB events and REQ/REP commands of rpcservice.md, plus the local
// application link (docs/app-link.md). One thread owns every ZeroMQ socket; other threads talk
// to it only through the Outbox.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/expected.hpp"
#include "rpc/codec.hpp"
#include "rpc/protocol.hpp"

namespace rig::rpc {

struct ServiceOptions {
  std::string identifier = "autotrainer-device";
  std::string version = "0.0.0";
  std::chrono::milliseconds heartbeat_interval{5000};
  std::vector<std::string> pub_endpoints{"tcp://127.0.0.1:5556"};
  std::vector<std::string> command_endpoints{"tcp://127.0.0.1:5557"};
  std::string app_endpoint;                       // empty: no application link
  std::chrono::milliseconds app_timeout{2000};    // a forwarded command's deadline
  DecodeLimits limits;
  size_t hard_max_message_bytes = 4 * 1024 * 1024;  // above this libzmq drops the peer
  size_t queue_capacity = 10000;                  // normal-lane publishes held at most
  int send_hwm = 1000;                            // PUB send high-water mark per subscriber
  // How long publishing waits for a subscriber that is send_hwm messages behind before leaving
  // it behind (logged, counted) so the others are not held up by a stalled one.
  std::chrono::milliseconds stall_timeout{1000};
  int linger_ms = 100;
};

struct Counters {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> malformed{0};
  std::atomic<uint64_t> replies{0};
  std::atomic<uint64_t> published{0};
  std::atomic<uint64_t> heartbeats{0};
  std::atomic<uint64_t> app_forwarded{0};
  std::atomic<uint64_t> app_timeouts{0};
  std::atomic<uint64_t> app_messages{0};
  std::atomic<uint64_t> app_errors{0};
  std::atomic<uint64_t> handler_exceptions{0};
  std::atomic<uint64_t> publish_waits{0};  // times publishing waited for a subscriber that was behind
  std::atomic<uint64_t> urgent_waits{0};   // EMERGENCY/COMMAND_RESULT messages held for one
  std::atomic<uint64_t> stalls{0};         // times a stalled subscriber was left behind
};

class ServiceCore;

// Answers one request, once; later calls are ignored. Callable from any thread: on the owner
// thread the reply goes out at once, elsewhere it is queued on the urgent lane.
class Responder {
 public:
  Responder() = default;
  Responder(std::shared_ptr<ServiceCore> core, uint64_t token, Request request);
  void operator()(const Response& response) const;
  void reply(const Reply& reply) const;
  const Request& request() const { return *request_; }
  explicit operator bool() const { return core_ != nullptr; }

 private:
  std::shared_ptr<ServiceCore> core_;
  uint64_t token_ = 0;
  std::shared_ptr<Request> request_;
  std::shared_ptr<std::atomic<bool>> done_;
};

// A handler runs on the socket-owning thread and must return quickly. It answers through the
// Responder, now or later (a slow handler keeps the Responder and answers from anywhere).
// A handler that throws is answered with EXCEPTION (500).
using Handler = std::function<void(const Request&, const Responder&)>;

// Callbacks from the application link, on the owner thread.
struct AppHooks {
  std::function<void(const json& status)> on_status;               // a "status" message
  std::function<void(int64_t kind, const json& context)> on_event;  // an event the app published
  std::function<void(bool connected, const std::string& name)> on_connection;
  // When set, an application's 101/102 event is handed here (body encoded) instead of being
  // published: the agent publishes it itself, in order with its own latch changes.
  std::function<void(int64_t kind, const json& context, std::string body)> on_emergency_event;
  // A forwarded command answered PENDING_WITH_NOTIFICATION, and later its COMMAND_RESULT.
  std::function<void(int64_t command, int64_t nonce)> on_command_pending;
  std::function<void(int64_t command, int64_t nonce, const Response& result)> on_command_result;
};

class RpcService {
 public:
  explicit RpcService(ServiceOptions options);
  ~RpcService();
  RpcService(const RpcService&) = delete;
  RpcService& operator=(const RpcService&) = delete;

  // Before start(). Commands without a handler get UNAVAILABLE (9999).
  void set_handler(int64_t command, Handler handler);
  // Forwards a command to the connected application (UNAVAILABLE when none, FAILED on timeout).
  Handler forward_to_app() const;
  void set_app_hooks(AppHooks hooks);

  // Binds everything, then starts the owner thread. A failed bind is an error naming the endpoint.
  Expected<void> start();
  // Stops heartbeats, closes the sockets (ports free on return) and joins the thread. Idempotent.
  void stop();
  bool running() const;

  // From any thread.
  void publish(Topic topic, std::string body);  // a raw body (send_string / send)
  void publish_json(Topic topic, const json& object);  // keys camelised (send_dict)
  // An event body stamped now, on EVENT; kinds 101/102 go out on EMERGENCY first, then on EVENT.
  // With topic EMERGENCY, only there (rigagent's alarm events).
  void publish_event(int64_t kind, const json& context, Topic topic = Topic::event);
  void publish_command_result(int64_t command, int64_t nonce, const Response& response);
  // An encoded EVENT body (101/102 go out on EMERGENCY first), queued like publish_event().
  void publish_event_body(std::string body, int64_t kind);
  // A notice for the application (e.g. an e-stop); dropped silently when none is connected.
  void notify_app(json message);

  // Any thread: runs `request` through its handler on the owner thread, exactly as a request
  // from a ZeroMQ remote (same counters, forwarding and emergency logic), but the reply goes to
  // `done` instead of a socket. `done` runs once, on the owner thread (keep it short: post the
  // reply elsewhere), or at once on the caller's thread when the service is not running. A
  // PENDING_WITH_NOTIFICATION reply is passed on as is: its COMMAND_RESULT is published.
  void execute(Request request, std::function<void(const Reply&)> done);

  // Endpoints as bound (a `*` port resolved), valid after start().
  std::vector<std::string> bound_pub_endpoints() const;
  std::vector<std::string> bound_command_endpoints() const;
  bool app_connected() const;
  const Counters& counters() const;
  uint64_t dropped() const;

 private:
  std::shared_ptr<ServiceCore> core_;
};

}  // namespace rig::rpc
