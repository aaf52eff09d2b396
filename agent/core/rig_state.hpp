// What rigagent knows about the rig: the emergency latch, the alarms, the board, and the
// application's last status. Written from the RpcService thread (commands, app link) and the io
// thread (the HAL); read anywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/emergency_latch.hpp"

namespace rig {

struct EmergencyState {
  bool latched = false;
  std::string source;  // of the last change: "command", "application", "gpio"
  std::string reason;
  std::vector<std::string> holders;         // "command", "application", "line:estop"
  std::vector<std::string> asserted_lines;  // hardware e-stop lines asserted now
};

struct AlarmState {
  std::string name;
  std::string severity;
  std::string description;
  double since = 0;  // wall-clock seconds of the edge
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
  // Latch changes go through here so the last source and reason are kept with them.
  EmergencyLatch::Change update_emergency(const std::function<EmergencyLatch::Change(EmergencyLatch&)>& change,
                                          const std::string& source, const std::string& reason);
  EmergencyState emergency() const;

  // Returns false when the alarm already was in that state.
  bool set_alarm(const AlarmState& alarm, bool active);
  std::vector<AlarmState> active_alarms() const;

  void set_board(std::string name) { std::lock_guard<std::mutex> lock(mu_); board_ = std::move(name); }
  void update_app_status(const nlohmann::ordered_json& status);
  void set_app_connected(bool connected, const std::string& name);
  AppStatus app() const;

  // The GET_STATUS reply data: StatusResponse's three keys, then rigagent's additions.
  nlohmann::ordered_json status_json() const;

 private:
  mutable std::mutex mu_;
  EmergencyLatch latch_;
  std::string last_source_, last_reason_;
  std::map<std::string, AlarmState> alarms_;  // active ones
  std::string board_;
  AppStatus app_;
};

}  // namespace rig
