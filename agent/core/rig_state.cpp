#include "core/rig_state.hpp"

#include "core/json_keys.hpp"

namespace rig {

using json = nlohmann::ordered_json;

EmergencyLatch::Change RigState::update_emergency(const std::function<EmergencyLatch::Change(EmergencyLatch&)>& change,
                                                  const std::string& source, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  auto c = change(latch_);
  if (c != EmergencyLatch::Change::none) last_source_ = source, last_reason_ = reason;
  return c;
}

EmergencyState RigState::emergency() const {
  std::lock_guard<std::mutex> lock(mu_);
  return EmergencyState{latch_.latched(), last_source_, last_reason_, latch_.holders(), latch_.asserted_lines()};
}

bool RigState::set_alarm(const AlarmState& alarm, bool active) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!active) return alarms_.erase(alarm.name) > 0;
  return alarms_.emplace(alarm.name, alarm).second;
}

std::vector<AlarmState> RigState::active_alarms() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AlarmState> v;
  for (const auto& [name, a] : alarms_) v.push_back(a);
  return v;
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
  json j;
  j["appStatus"] = app_.app_status;
  j["trainingMode"] = app_.training_mode;
  j["animalId"] = app_.animal_id;
  const bool latched = latch_.latched();
  j["emergencyStopped"] = latched;
  j["emergencySource"] = latched ? json(last_source_) : json();
  j["emergencyReason"] = latched ? json(last_reason_) : json();
  j["emergencyHeldBy"] = latch_.holders();
  j["estopAsserted"] = latch_.asserted_lines();
  json alarms = json::array();
  for (const auto& [name, a] : alarms_)
    alarms.push_back({{"name", a.name}, {"severity", a.severity}, {"description", a.description}, {"since", a.since}});
  j["alarms"] = std::move(alarms);
  j["board"] = board_;
  j["applicationConnected"] = app_.connected;
  return j;
}

}  // namespace rig
