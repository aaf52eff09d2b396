// The agent itself: configuration, rig state and the RpcService wired together, with the
// commands rigagent answers on its own (NONE, GET_STATUS, EMERGENCY_STOP/RESUME) and the ones
// it hands to the acquisition application.
#pragma once

#include <memory>

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
  void emergency_stop(const std::string& source, const std::string& reason);
  void emergency_resume(const std::string& source, const std::string& reason);

  rpc::RpcService& service() { return *service_; }
  RigState& state() { return state_; }
  const Config& config() const { return config_; }

 private:
  void install_handlers();
  void announce(int64_t kind, const std::string& source, const std::string& reason);

  Config config_;
  RigState state_;
  std::unique_ptr<rpc::RpcService> service_;
};

rpc::ServiceOptions service_options(const Config& config);
const char* version_string();

}  // namespace rig
