// rigagent-bench section "estop": simulated e-stop edge -> EMERGENCY frame at a SUB on loopback.
#pragma once

#include <cstddef>

namespace rigbench {

struct EstopOptions {
  size_t presses = 10000;    // measured presses per scenario (after a short warm-up)
  double flood_rate = 0;     // flood publish_event() calls per second; 0: as fast as one thread can
  double budget_s = 20;      // a scenario stops pressing after this long (reported)
  bool flood_idle = false;   // the flood thread runs SCHED_IDLE (takes only CPU nobody else wants)
  int send_hwm = -1;         // the agent's rpc.send_hwm; -1: the configuration default
};

// Prints the section; returns false when the agent could not be started.
bool run_estop_latency(const EstopOptions& options);

}  // namespace rigbench
