// The agent itself: configuration, rig state, the HAL and the RpcService wired together, with the
// commands rigagent answers on its own (NONE, GET_STATUS, EMERGENCY_STOP/RESUME) and the ones it
// hands to the acquisition application.
#pragma once

#include <memory>
#include <mutex>

#include "core/config.hpp"
#include "core/expected.hpp"
#include "core/io_thread.hpp"
#include "core/rig_state.hpp"
#include "hal/board.hpp"
#include "hw/hardware.hpp"
#include "rpc/service.hpp"
#include "upstream/laneswap/reporter.hpp"
#include "upstream/serf/bridge.hpp"

namespace rig {

class Agent {
 public:
  explicit Agent(Config config);
  ~Agent();
  // Loads the board, requests its lines, binds every socket, then starts the threads. The error
  // names what failed (a board file, a GPIO chip, a port in use).
  Expected<void> start();
  void stop();

  // Any thread: latch the emergency state for `source` ("command", "application"), publish 101
  // and tell the application. False when the rig already was stopped (nothing is published).
  bool emergency_stop(const std::string& source, const std::string& reason);
  // Clears every software holder; refused while a hardware e-stop is asserted (an error naming
  // the lines, which also land in *blocking). True when the rig was stopped and now is not.
  Expected<bool> emergency_resume(const std::string& source, const std::string& reason,
                                  std::vector<std::string>* blocking = nullptr);

  rpc::RpcService& service() { return *service_; }
  RigState& state() { return state_; }
  const Config& config() const { return config_; }
  // After start(): the board and its hardware (the io thread owns them).
  hw::Hardware* hardware() { return hardware_.get(); }
  IoThread& io() { return io_; }

 private:
  void install_handlers();
  void on_estop_line(const hal::InputSpec& in, const hal::Edge& edge, bool at_startup);
  void on_alarm_line(const hal::InputSpec& in, const hal::Edge& edge, bool at_startup);
  void on_line_fault(const hal::InputSpec& in, const std::string& message);
  void on_app_emergency(int64_t kind, const rpc::json& context, std::string body);
  laneswap::Snapshot laneswap_snapshot() const;
  void upstream_state_changed();
  Expected<void> create_serf_bridge();
  void announce(EmergencyLatch::Change change, const std::string& source, const std::string& reason,
                const rpc::json& details);
  rpc::json edge_details(const hal::InputSpec& in, const hal::Edge& edge) const;

  Config config_;
  RigState state_;
  // Held across a latch change and its announcement, so changes from two threads (a command and
  // a button) are published in the order the latch changed: the last event is the true state.
  std::mutex emergency_mu_;
  std::unique_ptr<rpc::RpcService> service_;
  IoThread io_;  // declared before hardware_: it outlives it
  std::unique_ptr<hw::Hardware> hardware_;
  std::shared_ptr<laneswap::Reporter> laneswap_;  // on the io thread
  // On the io thread. Set in start() before any other thread runs, never reset before the
  // destructor: the RpcService thread reads it (GET_STATUS, latch changes).
  std::shared_ptr<serf::Bridge> serf_;
  std::chrono::steady_clock::time_point started_at_ = std::chrono::steady_clock::now();
  bool started_ = false;
};

rpc::ServiceOptions service_options(const Config& config);
const char* version_string();

}  // namespace rig
