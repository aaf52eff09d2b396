#include "core/emergency_latch.hpp"

namespace rig {

EmergencyLatch::Change EmergencyLatch::after(bool was_latched) const {
  if (latched() == was_latched) return Change::none;
  return latched() ? Change::stopped : Change::resumed;
}

EmergencyLatch::Change EmergencyLatch::hold(const std::string& holder) {
  const bool was = latched();
  held_.insert(holder);
  return after(was);
}

EmergencyLatch::Change EmergencyLatch::line_asserted(const std::string& line) {
  const bool was = latched();
  asserted_.insert(line);
  return after(was);
}

EmergencyLatch::Change EmergencyLatch::line_released(const std::string& line, bool manual) {
  const bool was = latched();
  if (asserted_.erase(line) && manual) held_.insert("line:" + line);
  return after(was);
}

EmergencyLatch::Change EmergencyLatch::resume(std::vector<std::string>* blocking) {
  if (!asserted_.empty()) {
    if (blocking) blocking->assign(asserted_.begin(), asserted_.end());
    return Change::none;
  }
  const bool was = latched();
  held_.clear();
  return after(was);
}

std::vector<std::string> EmergencyLatch::holders() const {
  std::set<std::string> h(held_);
  for (const auto& l : asserted_) h.insert("line:" + l);
  return {h.begin(), h.end()};
}

}  // namespace rig
