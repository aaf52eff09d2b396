// The Serf client, blocking, for the `rigagent serf` command line and for tests: its own io
// thread, each call with a deadline. Streams and the monitor arrive in a bounded queue that the
// caller drains with next(); when the caller falls behind, the oldest records are dropped and
// counted, never the connection.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>

#include "core/io_thread.hpp"
#include "upstream/serf/client.hpp"

namespace rig::serf {

struct Link;

template <typename T>
class Subscription {
 public:
  // The next record, waiting up to `timeout`; nullopt on timeout or once the subscription ended
  // and its queue is empty (see ended()).
  std::optional<T> next(std::chrono::milliseconds timeout);
  bool ended() const;
  std::optional<Error> end_error() const;  // why it ended, when not by stop()
  uint64_t dropped() const;                // records dropped because the queue was full
  uint64_t resumed() const;                // times re-opened after a reconnect
  void stop();  // sends `stop` and waits for it (from other threads); idempotent; the destructor calls it

  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

 private:
  friend class SyncClient;
  struct Shared {
    mutable std::mutex mu;
    std::condition_variable cv;
    std::deque<T> queue;
    size_t capacity = 4096;
    bool ended = false;
    std::optional<Error> error;
    uint64_t dropped = 0, resumed = 0;
    void push(T value);
    void end(std::optional<Error> e);
  };
  Subscription() = default;
  std::shared_ptr<Shared> shared_ = std::make_shared<Shared>();
  std::function<void()> stop_;
  bool stopped_ = false;
};

using StreamSubscription = Subscription<StreamRecord>;
using MonitorSubscription = Subscription<std::string>;

class SyncClient {
 public:
  using ms = std::chrono::milliseconds;
  // Connects, handshakes and authenticates, within options.connect_timeout.
  static Expected<std::unique_ptr<SyncClient>> connect(Options options);
  ~SyncClient();

  Expected<void> event(const std::string& name, const Bytes& payload, bool coalesce = true, Timeout t = {});
  Expected<void> force_leave(const std::string& node, bool prune = false, Timeout t = {});
  Expected<int64_t> join(const std::vector<std::string>& addresses, bool replay = false, Timeout t = {});
  Expected<std::vector<Member>> members(Timeout t = {});
  Expected<std::vector<Member>> members_filtered(const MemberFilter& filter, Timeout t = {});
  Expected<void> tags(const Tags& set, const std::vector<std::string>& remove = {}, Timeout t = {});
  // Waits for the agent's acknowledgement (an invalid filter is an error here).
  Expected<std::unique_ptr<StreamSubscription>> stream(const std::string& filter, size_t capacity = 4096, Timeout t = {});
  Expected<std::unique_ptr<MonitorSubscription>> monitor(const std::string& level, size_t capacity = 4096, Timeout t = {});
  Expected<void> leave(Timeout t = {});
  // Blocks until the query's "done"; `record` runs on the client's io thread for each ack and
  // response as it arrives.
  Expected<QuerySummary> query(const QueryParams& params, std::function<void(const QueryRecord&)> record = {});
  Expected<void> respond(uint64_t id, const Bytes& payload, Timeout t = {});
  Expected<KeyResponse> install_key(const std::string& key, Timeout t = {});
  Expected<KeyResponse> use_key(const std::string& key, Timeout t = {});
  Expected<KeyResponse> remove_key(const std::string& key, Timeout t = {});
  Expected<KeyResponse> list_keys(Timeout t = {});
  Expected<Stats> stats(Timeout t = {});
  Expected<std::optional<Coordinate>> get_coordinate(const std::string& node, Timeout t = {});

  Counters counters();
  State state();
  void close();
  // For calls the blocking API does not cover; use it only on io().
  AsyncClient& async() { return *client_; }
  IoThread& io() { return *io_; }

 private:
  SyncClient() = default;
  template <typename T, typename Start>
  Expected<T> wait(Start start, ms limit);

  std::unique_ptr<IoThread> io_;
  std::shared_ptr<AsyncClient> client_;
  std::shared_ptr<Link> link_;  // lets a Subscription outlive its client safely
};

}  // namespace rig::serf
