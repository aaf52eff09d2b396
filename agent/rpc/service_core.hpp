// RpcService internals: the state the owner thread keeps. Private to agent/rpc.
#pragma once

#include <zmq.hpp>

#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "rpc/app_link.hpp"
#include "rpc/outbox.hpp"
#include "rpc/service.hpp"

namespace rig::rpc {

class ServiceCore : public std::enable_shared_from_this<ServiceCore> {
 public:
  explicit ServiceCore(ServiceOptions o) : opts(std::move(o)), outbox(opts.queue_capacity) {}

  Expected<void> start();
  void stop();

  // Any thread.
  // The topic picks the lane: EMERGENCY and COMMAND_RESULT urgent, the rest normal; an EVENT
  // body of kind 101/102 goes out on EMERGENCY first.
  void enqueue_event_body(uint32_t topic, std::string body, int64_t kind);
  bool on_owner_thread() const { return std::this_thread::get_id() == owner.load(); }

  // In-process requests (RpcService::execute): handed over beside the Outbox, woken by its
  // eventfd, dispatched like a remote's and answered to the callback. False when the service is
  // not running (the request is left untouched).
  using LocalDone = std::function<void(const Reply&)>;
  bool submit_local(Request& request, LocalDone& done);

  // Owner thread.
  void send_reply(uint64_t token, const Reply& reply);
  // Nothing is dropped for a subscriber that is behind: a message that does not fit its queue
  // waits (EMERGENCY and COMMAND_RESULT first, each lane in order) until it has room, for up to
  // opts.stall_timeout; then that subscriber is left behind until it catches up.
  void publish_now(uint32_t topic, const std::string& body);
  void publish_event_now(const std::string& body, int64_t kind);
  void forward_to_app(const Request& request, const Responder& responder);

  std::atomic<bool> app_connected{false};

  ServiceOptions opts;
  Outbox outbox;
  Counters counters;
  std::map<int64_t, Handler> handlers;
  AppHooks hooks;

  std::atomic<bool> running{false};
  std::atomic<bool> stop_requested{false};
  std::atomic<std::thread::id> owner{};  // read by Responders on any thread
  std::vector<std::string> bound_pub, bound_cmd;
  std::mutex bound_mu;  // guards bound_* (written by start, read anywhere)

 private:
  void run();
  void drain_urgent();
  void drain_normal_batch();
  bool try_send(const PublishItem& p);      // false: a subscriber's queue is full, nothing sent
  bool send_or_wait(const PublishItem& p);  // false: wait and try again
  bool flush_held();                        // true when no urgent message is held
  void drain_subscriptions();
  void handle_commands();
  void drain_local();
  void close_local();
  void dispatch(Request request, uint64_t token);
  void fire_heartbeat();
  void close_sockets();
  long poll_timeout_ms() const;

  std::optional<zmq::context_t> ctx_;
  std::optional<zmq::socket_t> pub_, cmd_;
  std::optional<AppLink> app_;
  std::thread thread_;
  struct Held {
    std::vector<std::string> envelope;  // routing id and delimiter of the REQ peer
    int64_t nonce = 0, command = 0;     // echoed even in a reply rigagent makes up (shutdown)
    LocalDone local;                    // set for an in-process request: the reply goes here
  };
  struct LocalRequest {
    Request request;
    LocalDone done;
  };
  std::mutex local_mu_;
  std::deque<LocalRequest> local_;  // guarded by local_mu_
  bool local_open_ = false;         // guarded by local_mu_: the owner thread will drain local_
  std::unordered_map<uint64_t, Held> held_;
  uint64_t next_token_ = 1;
  int64_t next_heartbeat_ms_ = 0;
  std::deque<OutboxItem> urgent_batch_;
  std::deque<PublishItem> normal_batch_;
  // Urgent publishes waiting for a subscriber that is behind, oldest first (ordinary ones wait
  // at the front of normal_batch_).
  std::deque<PublishItem> held_urgent_;
  int64_t blocked_since_ms_ = -1;  // when the message at the head first found a queue full
  bool stopping_ = false;
};

}  // namespace rig::rpc
