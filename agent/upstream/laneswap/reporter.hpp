// rigagent's LaneSwap reporting: registers once under a stable service id, then heartbeats on
// its own schedule (and at once when the rig's state changes) with a status derived from the
// rig, reports long commands as progress tasks, and rides out a server that is down, slow or
// talking nonsense with capped, jittered backoff. Runs on the agent's io thread: it never blocks
// the RpcService.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>

#include <asio/steady_timer.hpp>

#include "core/config.hpp"
#include "upstream/laneswap/client.hpp"

namespace rig::laneswap {

struct Snapshot {
  Status status = Status::healthy;
  std::optional<std::string> message;
  json metadata = json::object();
};

// The service id rigagent keeps across restarts: the configured one, else derived from
// /etc/machine-id, else from the host name.
std::string stable_service_id(const LaneswapConfig& config);
ClientOptions client_options(const LaneswapConfig& config, const std::string& identifier);

// The status the server is asked to show when it refused `s` (§3): the closest it may accept.
std::optional<Status> fallback_status(Status s, const std::set<Status>& refused);

class Reporter : public std::enable_shared_from_this<Reporter> {
 public:
  using SnapshotFn = std::function<Snapshot()>;  // called on the io thread

  static Expected<std::shared_ptr<Reporter>> create(asio::io_context& io, const LaneswapConfig& config,
                                                    const std::string& identifier, SnapshotFn snapshot);
  void start();  // on the io thread or before it runs

  // Any thread.
  void state_changed();
  void command_pending(int64_t command, int64_t nonce, const std::string& name);
  void command_finished(int64_t command, int64_t nonce, bool ok, const std::string& message);
  // On the io thread: a last SHUTDOWN heartbeat (bounded by `grace`), then `done`.
  void stop(std::chrono::milliseconds grace, std::function<void()> done);

  struct Stats {
    uint64_t registrations = 0, heartbeats = 0, failures = 0;
    bool registered = false;
    std::string last_error;
  };
  Stats stats() const { return stats_; }

 private:
  Reporter(asio::io_context& io, const LaneswapConfig& config, std::shared_ptr<AsyncClient> client, SnapshotFn snapshot);
  void do_register();
  void beat();
  void schedule(std::chrono::milliseconds delay);
  std::chrono::milliseconds backoff();
  void failed(const std::string& what, const Error& e);
  void recovered();

  asio::io_context& io_;
  LaneswapConfig config_;
  std::shared_ptr<AsyncClient> client_;
  SnapshotFn snapshot_;
  asio::steady_timer timer_;
  std::mt19937 rng_{std::random_device{}()};
  int failures_in_a_row_ = 0;
  bool in_flight_ = false, again_ = false, stopping_ = false, registered_ = false, down_logged_ = false;
  std::set<Status> refused_;  // statuses this server answered 422 to
  std::map<std::pair<int64_t, int64_t>, std::string> tasks_;  // (command, nonce) -> task id
  bool progress_logged_ = false;
  Stats stats_;
};

}  // namespace rig::laneswap
