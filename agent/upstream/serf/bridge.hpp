// rigagent as a member of a Serf cluster (docs/serf.md): it keeps node tags that say what this
// rig is and whether it is stopped, forwards its e-stops and alarms as user events, answers an
// allow-list of queries by running RpcService commands, and maps chosen user events to local
// actions (a fleet-wide stop). Runs on the agent's io thread, on an AsyncClient connection to
// the local Serf agent that reconnects by itself (plus one for tag updates, which hold their
// connection until gossiped); nothing here ever blocks the RpcService or the e-stop path (the
// Agent only posts to it).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include "core/config.hpp"
#include "core/expected.hpp"
#include "rpc/codec.hpp"
#include "upstream/serf/client.hpp"

namespace rig::serf {

// Who this rig is, in its tags and payloads.
struct Identity {
  std::string rig;  // rpc.identifier
  std::string board;
  std::string version;
};

// What the bridge asks of the agent; each is called on the io thread.
struct BridgeHooks {
  // RpcService::execute: `done` runs on another thread.
  std::function<void(rpc::Request, std::function<void(const rpc::Reply&)>)> execute;
  // on_event actions. Resume fails while a hardware e-stop is asserted.
  std::function<void(const std::string& reason)> emergency_stop;
  std::function<Expected<bool>(const std::string& reason)> emergency_resume;
  std::function<bool()> stopped;  // the latch now, for the first emergency tag
};

// A change of the emergency latch, as announced.
struct EmergencyNotice {
  bool stopped = false;
  std::string source, reason;
  std::optional<std::string> line;                // the GPIO line, when an edge caused it
  std::optional<uint64_t> edge_monotonic_ns;      // the edge's CLOCK_MONOTONIC stamp
  double t = 0;                                   // wall-clock seconds
};

struct AlarmNotice {
  std::string alarm, severity;
  bool active = false;
  std::vector<std::string> active_alarms;
  double t = 0;
};

struct BridgeStats {
  bool connected = false;
  std::string address, node;
  uint64_t events_sent = 0, events_queued = 0, events_dropped = 0, events_failed = 0;
  uint64_t queries_answered = 0, actions = 0;
};

// The agent's limits less the envelope Serf wraps around a user event or a query response
// (measured on 0.9.4: a user event's name + payload may be 30 bytes short of 512 with a small
// Lamport time, a response 41 + the node name's length short of 1024; both leave room for the
// counters to grow).
constexpr size_t kEventBudget = 512 - 40;
size_t response_budget(const std::string& node_name);  // an unknown name counts as 128 bytes

// Payloads, compact JSON, shrunk to fit `budget` bytes (fields dropped and text truncated
// rather than fail: see docs/serf.md).
std::string emergency_payload(const Identity& id, const EmergencyNotice& n, size_t budget);
std::string alarm_payload(const Identity& id, const AlarmNotice& n, size_t budget);
// The 7-key reply as a ZeroMQ remote gets it; when it does not fit, `data` becomes
// {"truncated": true} and then the message is cut.
std::string reply_payload(const rpc::Reply& reply, size_t budget);
// The RpcService command a query name (without the prefix) runs, if it is one.
std::optional<int64_t> query_command(const std::string& name);

class Bridge : public std::enable_shared_from_this<Bridge> {
 public:
  static Expected<std::shared_ptr<Bridge>> create(asio::io_context& io, const SerfConfig& config, Identity identity,
                                                  BridgeHooks hooks);
  void start();  // on the io thread or before it runs

  // Any thread: a post, nothing more.
  void emergency_changed(EmergencyNotice n);
  void alarm_changed(AlarmNotice n);
  // On the io thread: what is queued is sent and the emergency tag set to "unknown", bounded by
  // `grace`; then the connection is closed and `done` runs.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

  BridgeStats stats() const;  // any thread
  // The `serf` block of GET_STATUS.
  nlohmann::ordered_json status_json() const;

 private:
  struct Outgoing {
    std::string name, payload;
    bool coalesce = false, emergency = false;
  };

  Bridge(asio::io_context& io, const SerfConfig& config, Identity identity, BridgeHooks hooks,
         std::shared_ptr<AsyncClient> client);
  void on_state(State s, const Error* e);
  void on_connected();
  Tags node_tags() const;
  void open_tags_connection();
  void flush_tags();
  void enqueue(Outgoing o);
  void pump();
  void on_record(const StreamRecord& r);
  void on_query(const QueryEvent& q);
  void on_user_event(const UserEvent& e);
  void answer(uint64_t id, const std::string& name, const rpc::Reply& reply);
  std::string stream_filter() const;
  template <typename F>
  void update_stats(F f);

  asio::io_context& io_;
  SerfConfig config_;
  Identity id_;
  BridgeHooks hooks_;
  std::shared_ptr<AsyncClient> client_;
  std::shared_ptr<AsyncClient> tags_client_;  // tags only: see open_tags_connection()
  uint64_t tags_gen_ = 0;                     // which tags_client_ a callback belongs to
  asio::steady_timer retry_timer_, tags_timer_, stop_timer_;
  bool stopped_latch_ = false;
  bool connected_ = false, ever_connected_ = false, stopping_ = false, sending_ = false;
  bool tags_connected_ = false, tags_dirty_ = true, tags_in_flight_ = false;
  bool drop_logged_ = false;  // a full queue was reported in this outage
  std::string tags_error_;  // the last tags failure logged
  std::string node_;  // the local agent's node name, once known
  std::deque<Outgoing> queue_;
  static constexpr size_t kQueueCapacity = 256;
  std::deque<std::pair<std::string, uint64_t>> seen_order_;  // (user event, LTime), oldest first
  std::set<std::pair<std::string, uint64_t>> seen_;
  std::set<std::string> late_logged_;  // query names whose late answer was logged
  mutable std::mutex stats_mu_;
  BridgeStats stats_;
};

}  // namespace rig::serf
