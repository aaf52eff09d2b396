// The systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
// newline-separated KEY=VALUE assignments ("READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1")
// sent on an AF_UNIX SOCK_DGRAM socket to the address in $NOTIFY_SOCKET, and a watchdog that pings
// only while the threads that matter answer a probe (a wedged thread => no ping => systemd kills
// and restarts the service).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/expected.hpp"

namespace rig::sd {

// Where the service manager listens, and whether it wants watchdog pings.
class Notifier {
 public:
  Notifier() = default;  // disabled: notify() does nothing
  ~Notifier();
  Notifier(Notifier&& other) noexcept;
  Notifier& operator=(Notifier&& other) noexcept;
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // $NOTIFY_SOCKET: an absolute path, or "@name" for a Linux abstract socket. $WATCHDOG_USEC and
  // $WATCHDOG_PID as sd_watchdog_enabled(3) reads them: the watchdog is on when WATCHDOG_USEC is a
  // positive number of microseconds and WATCHDOG_PID is unset or this process's pid. With
  // `unset_environment` the three variables are removed (as sd_notify(1, ...) does) so children do
  // not inherit them; call it before any thread starts. Problems (an unusable address, a malformed
  // WATCHDOG_USEC) are logged and leave that part off.
  static Notifier from_environment(bool unset_environment = true);
  // An explicit address ("/path" or "@abstract") and watchdog period (0: none).
  static Expected<Notifier> open(std::string_view address, std::chrono::microseconds watchdog = {});

  bool enabled() const { return fd_ >= 0; }
  const std::string& address() const { return address_; }
  // WATCHDOG_USEC: systemd expects a ping within this; 0 when no watchdog was asked for.
  std::chrono::microseconds watchdog_period() const { return watchdog_; }

  // One datagram, e.g. "READY=1\nSTATUS=serving". Never blocks; success when disabled.
  Expected<void> notify(std::string_view state) const;

 private:
  int fd_ = -1;
  std::string address_;
  std::string sockaddr_;  // the packed sockaddr_un
  std::chrono::microseconds watchdog_{0};
};

// "STATUS=<text>" with the text made one line (the protocol is newline-separated).
std::string status_assignment(std::string_view text);

// Keeps the service manager informed while the agent runs: "WATCHDOG=1" every half watchdog
// period, but only after a probe through the agent's threads has come back, and "STATUS=..."
// whenever the status text changes (polled every status_poll).
class Watchdog {
 public:
  // Handed to the probe: the probe calls hop() as each thread it passes through answers (for the
  // log: which one did not), then done() at the end, from any thread. Copies may outlive the
  // Watchdog; calls on a stale Reply (an earlier probe, a stopped Watchdog) do nothing.
  class Reply {
   public:
    void hop() const;
    void done() const;

   private:
    friend class Watchdog;
    struct Shared;
    std::shared_ptr<Shared> shared_;
    uint64_t seq_ = 0;
  };
  using Probe = std::function<void(const Reply&)>;
  using StatusText = std::function<std::string()>;

  struct Options {
    std::chrono::microseconds ping_interval{0};  // WATCHDOG_USEC/2; 0: no pings, status only
    std::chrono::milliseconds status_poll{1000};
    std::string sent_status;  // the STATUS text already sent (e.g. with READY=1): not repeated
    // Names the threads the probe passes through, in order, for the log: hop_names[n] is the one
    // that has not answered when n hops have ("the RpcService thread", "the io thread (HAL)").
    std::vector<std::string> hop_names;
  };

  Watchdog(const Notifier& notifier, Probe probe, StatusText status, Options options);
  ~Watchdog();  // stop()
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  void start();
  void stop();  // idempotent; no ping after it returns

  uint64_t pings() const;    // WATCHDOG=1 sent
  uint64_t stalls() const;   // times a probe was overdue (pings withheld)

 private:
  void run();

  const Notifier& notifier_;
  Probe probe_;
  StatusText status_;
  Options options_;
  std::shared_ptr<Reply::Shared> shared_;
  std::thread thread_;
};

}  // namespace rig::sd
