// Who holds the rig in emergency stop. The rig is stopped while anything holds it: a command, the
// application, or a hardware e-stop line. Hardware holds while its line is asserted; a line with
// the "manual" release policy keeps holding after release, until a resume command (ISO 13850: a
// released e-stop does not restart the machine by itself). Pure logic: the caller serialises.
#pragma once

#include <set>
#include <string>
#include <vector>

namespace rig {

class EmergencyLatch {
 public:
  enum class Change { none, stopped, resumed };  // a transition of the whole latch

  Change hold(const std::string& holder);            // "command", "application"
  Change line_asserted(const std::string& line);
  // manual: the line keeps holding after its release, until resume().
  Change line_released(const std::string& line, bool manual);

  // A resume command: refused (with the lines in `blocking`) while a hardware e-stop is asserted;
  // otherwise clears every holder.
  Change resume(std::vector<std::string>* blocking = nullptr);

  bool latched() const { return !held_.empty() || !asserted_.empty(); }
  std::vector<std::string> holders() const;          // what keeps the rig stopped now
  std::vector<std::string> asserted_lines() const { return {asserted_.begin(), asserted_.end()}; }

 private:
  Change after(bool was_latched) const;
  std::set<std::string> held_;      // software holders and manually-released lines
  std::set<std::string> asserted_;  // hardware e-stop lines asserted now
};

}  // namespace rig
