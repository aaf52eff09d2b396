#include "core/rig_state.hpp"

#include "core/json_keys.hpp"

namespace rig {

bool RigState::latch_emergency(const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (emergency_.latched) return false;
  emergency_ = {true, source, reason};
  return true;
}

bool RigState::clear_emergency(const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!emergency_.latched) return false;
  emergency_ = {false, source, reason};
  return true;
}

EmergencyState RigState::emergency() const {
  std::lock_guard<std::mutex> lock(mu_);
  return emergency_;
}

void RigState::update_app_status(const nlohmann::ordered_json& s) {
  std::lock_guard<std::mutex> lock(mu_);
  // camelCase first, then snake_case, as for command arguments.
  if (auto* v = find_arg(s, "appStatus"); v && v->is_number_integer()) app_.app_status = v->get<int64_t>();
  if (auto* v = find_arg(s, "trainingMode"); v && v->is_number_integer()) app_.training_mode = v->get<int64_t>();
  if (auto* v = find_arg(s, "animalId"); v && v->is_string()) app_.animal_id = v->get<std::string>();
}

void RigState::set_app_connected(bool connected, const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  app_.connected = connected;
  app_.name = name;
}

AppStatus RigState::app() const {
  std::lock_guard<std::mutex> lock(mu_);
  return app_;
}

nlohmann::ordered_json RigState::status_json() const {
  std::lock_guard<std::mutex> lock(mu_);
  nlohmann::ordered_json j;
  j["appStatus"] = app_.app_status;
  j["trainingMode"] = app_.training_mode;
  j["animalId"] = app_.animal_id;
  j["emergencyStopped"] = emergency_.latched;
  j["emergencySource"] = emergency_.latched ? nlohmann::ordered_json(emergency_.source) : nlohmann::ordered_json();
  j["applicationConnected"] = app_.connected;
  return j;
}

}  // namespace rig
