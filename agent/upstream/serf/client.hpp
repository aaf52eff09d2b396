// A Serf agent RPC client (serf-rpc.md) on an asio::io_context: one TCP connection carrying many
// requests, streams, a monitor and queries at once, told apart by Seq (session.hpp does the
// bookkeeping; this class owns the socket, the deadlines and the reconnects).
//
// Unlike the Go and Python clients it: sends every command by its exact name; never waits for a
// body the agent does not send (the structural {Seq, Error} rule); drops records that arrive
// after `stop` without losing its place; gives every call a deadline; validates regexes and
// filters before sending (a bad one would make the agent drop the connection); and, with
// Options::reconnect, comes back after the agent restarts and re-opens the streams and the
// monitor that were open. Queries in flight then end with Errc::closed.
//
// Threading: every method must be called on the io_context's thread (post to it); every handler
// runs there.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <asio/io_context.hpp>

#include "core/expected.hpp"
#include "upstream/serf/types.hpp"

namespace rig::serf {

struct Options {
  std::string address = "127.0.0.1:7373";  // host:port or [v6]:port
  std::string auth_key;                    // sent with `auth` when non-empty
  std::chrono::milliseconds connect_timeout{5000};  // TCP connect + handshake + auth
  std::chrono::milliseconds request_timeout{10000};  // default deadline of a call
  // Calls that may block the agent for long (join, leave, the key commands) get this instead.
  std::chrono::milliseconds slow_timeout{60000};
  bool reconnect = false;
  std::chrono::milliseconds reconnect_min{100};
  std::chrono::milliseconds reconnect_max{10000};
  size_t max_object_bytes = 8 * 1024 * 1024;  // largest str/bin/array the decoder accepts
  bool log_outages = true;  // a warning per outage (and per new reason), a line on recovery
};

// SERF_RPC_ADDR and SERF_RPC_AUTH, as the serf CLI reads them, over `base`.
Options options_from_environment(Options base);

template <typename T>
using Handler = std::function<void(Expected<T>)>;
using Timeout = std::optional<std::chrono::milliseconds>;
using SubscriptionId = uint64_t;

// A stream or the monitor. `ready` runs once, when the agent acknowledged it (or refused it).
// `end` runs once, last: nullopt after stop(), an Error when the connection is gone for good (no
// reconnect, or close()). After a reconnect the subscription is re-opened and `resumed` runs:
// records sent while the connection was down are lost (counted in Counters::gaps).
struct StreamCallbacks {
  std::function<void(Expected<void>)> ready;
  std::function<void(const StreamRecord&)> record;
  std::function<void(std::optional<Error>)> end;
  std::function<void()> resumed;
};
struct MonitorCallbacks {
  std::function<void(Expected<void>)> ready;
  std::function<void(const std::string& line)> line;
  std::function<void(std::optional<Error>)> end;
  std::function<void()> resumed;
};

struct Counters {
  uint64_t requests = 0, replies = 0, records = 0;
  uint64_t late_records = 0;       // for a stream already stopped, a timed-out call or an unknown Seq
  uint64_t duplicate_headers = 0;  // the agent's second "Authentication required" (§3.2)
  uint64_t timeouts = 0;
  uint64_t connects = 0, reconnects = 0, disconnects = 0;
  uint64_t gaps = 0;               // subscriptions re-opened after a reconnect (records may be missing)
  uint64_t protocol_errors = 0;
  uint64_t phantom_records = 0;    // empty query acks/responses the agent emits at a deadline
};

enum class State { connecting, connected, disconnected, closed };
const char* to_string(State s);

class AsyncClient : public std::enable_shared_from_this<AsyncClient> {
 public:
  // Checks the options (the address parses); no I/O.
  static Expected<std::shared_ptr<AsyncClient>> create(asio::io_context& io, Options options);
  ~AsyncClient();

  // Connects, handshakes and authenticates. With reconnect, a failure is retried with backoff
  // and `done` reports only the first attempt. Calls made before the connection is up wait for
  // it (within their deadline).
  void connect(Handler<void> done);
  // Fails everything in flight with Errc::cancelled and ends subscriptions; no reconnect after.
  void close();
  State state() const { return state_; }
  // Every state change (the agent integration re-applies its tags on `connected`).
  void on_state(std::function<void(State, const Error*)> handler) { state_handler_ = std::move(handler); }

  // --- the 20 commands (handshake and auth are done by connect) ---
  void event(std::string name, Bytes payload, bool coalesce, Handler<void> done, Timeout timeout = {});
  void force_leave(std::string node, bool prune, Handler<void> done, Timeout timeout = {});
  void join(std::vector<std::string> addresses, bool replay, Handler<int64_t> done, Timeout timeout = {});
  void members(Handler<std::vector<Member>> done, Timeout timeout = {});
  void members_filtered(MemberFilter filter, Handler<std::vector<Member>> done, Timeout timeout = {});
  void tags(Tags set, std::vector<std::string> remove, Handler<void> done, Timeout timeout = {});
  // `filter` as in §6.1 ("member-join,user:deploy", "*" or ""); checked before sending.
  SubscriptionId stream(std::string filter, StreamCallbacks callbacks);
  // `level`: trace, debug, info, warn, err (any case). One per connection.
  SubscriptionId monitor(std::string level, MonitorCallbacks callbacks);
  // Sends `stop` for a stream or the monitor; its `end` runs with nullopt. Records already on the
  // way are dropped quietly. Unknown ids are ignored.
  void stop(SubscriptionId id, Handler<void> done = {});
  // The agent leaves the cluster and exits; the EOF that follows is the expected outcome.
  void leave(Handler<void> done, Timeout timeout = {});
  // `record` for each ack and response; `done` at the agent's "done" (the query's deadline).
  void query(QueryParams params, std::function<void(const QueryRecord&)> record, Handler<QuerySummary> done);
  void respond(uint64_t id, Bytes payload, Handler<void> done, Timeout timeout = {});
  void install_key(std::string key, Handler<KeyResponse> done, Timeout timeout = {});
  void use_key(std::string key, Handler<KeyResponse> done, Timeout timeout = {});
  void remove_key(std::string key, Handler<KeyResponse> done, Timeout timeout = {});
  void list_keys(Handler<KeyResponse> done, Timeout timeout = {});
  void stats(Handler<Stats> done, Timeout timeout = {});
  // nullopt for a node the agent has no coordinate for.
  void get_coordinate(std::string node, Handler<std::optional<Coordinate>> done, Timeout timeout = {});

  Counters counters() const;
  const Options& options() const { return opts_; }

 private:
  struct Impl;
  AsyncClient(asio::io_context& io, Options options);
  Options opts_;
  State state_ = State::disconnected;
  std::function<void(State, const Error*)> state_handler_;
  Counters counters_;
  std::unique_ptr<Impl> impl_;
  friend struct Impl;
};

}  // namespace rig::serf
