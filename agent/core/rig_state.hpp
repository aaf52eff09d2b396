// What rigagent knows about the rig: the emergency latch and the application's last status.
// Written from the RpcService thread (commands, app link) and, later, the HAL; read anywhere.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

namespace rig {

struct EmergencyState {
  bool latched = false;
  std::string source;  // "command", "application", later a GPIO line
  std::string reason;
};

struct AppStatus {
  int64_t app_status = 0;     // ApiAppStatus
  int64_t training_mode = 0;  // ApiTrainingMode
  std::string animal_id;
  bool connected = false;
  std::string name;
};

class RigState {
 public:
  // Returns false when the latch already had that value (no event to publish).
  bool latch_emergency(const std::string& source, const std::string& reason);
  bool clear_emergency(const std::string& source, const std::string& reason);
  EmergencyState emergency() const;

  void update_app_status(const nlohmann::ordered_json& status);
  void set_app_connected(bool connected, const std::string& name);
  AppStatus app() const;

  // The GET_STATUS reply data: StatusResponse's three keys, then rigagent's additions.
  nlohmann::ordered_json status_json() const;

 private:
  mutable std::mutex mu_;
  EmergencyState emergency_;
  AppStatus app_;
};

}  // namespace rig
