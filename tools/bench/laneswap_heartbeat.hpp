// rigagent-bench section "laneswap": CPU time and heap allocations per LaneSwap heartbeat, and the
// heartbeats per second one keep-alive connection sustains against a fresh connection each time.
#pragma once

#include <cstddef>

namespace rigbench {

struct LaneswapOptions {
  size_t heartbeats = 20000;  // measured heartbeats per keep-alive and plain fresh run (after a warm-up);
                              // a quarter with the 100-event response, a twentieth per TLS fresh run
  double budget_s = 6;        // a run stops after this long (reported); TLS fresh runs get at most 4 s
  bool tls = true;            // also over TLS, when the openssl CLI can make a certificate (--no-tls)
};

// Prints the section; returns false when the stand-in server or the client could not be set up.
bool run_laneswap_heartbeat(const LaneswapOptions& options);

}  // namespace rigbench
