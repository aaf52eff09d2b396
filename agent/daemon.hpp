// The agent itself: configuration, rig state and the RpcService wired together, with the
// commands rigagent answers on its own (NONE, GET_STATUS, EMERGENCY_STOP/RESUME) and the ones
// it hands to the acquisition application.
#pragma once

#include <memory>
#include <mutex>

#include "core/config.hpp"
#include "core/expected.hpp"
#include "core/rig_state.hpp"
#include "rpc/service.hpp"

namespace rig {

class Agent {
 public:
  explicit Agent(Config config);
  Expected<void> start();
  void stop();

  // Any thread: latch or clear the emergency state, publish 101/102 and tell the application.
  // False when the state already was that way (nothing is published then).
  bool emergency_stop(const std::string& source, const std::string& reason);
  bool emergency_resume(const std::string& source, const std::string& reason);

  rpc::RpcService& service() { return *service_; }
  RigState& state() { return state_; }
  const Config& config() const { return config_; }

 private:
  void install_handlers();
  void announce(int64_t kind, const std::string& source, const std::string& reason);

  Config config_;
  RigState state_;
  // Held across a latch change and its announcement, so a stop and a resume from two threads
  // are published in the order the latch changed (the last event is the true state).
  std::mutex emergency_mu_;
  std::unique_ptr<rpc::RpcService> service_;
};

rpc::ServiceOptions service_options(const Config& config);
const char* version_string();

}  // namespace rig
