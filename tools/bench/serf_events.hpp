// rigagent-bench section "serf": user events per second through one RPC connection (rigagent's
// serf::AsyncClient, pipelined and one at a time) against the `serf event` command-line tool (a
// process and a connection per event), both to the same real Serf agent started by the bench; and
// the RSS of `rigagent run` with Serf enabled next to the same configuration without it.
#pragma once

#include <cstddef>
#include <string>

namespace rigbench {

struct SerfOptions {
  size_t events = 20000;   // pipelined run; the one-at-a-time run sends a tenth
  size_t cli_events = 200;  // `serf event` invocations
  size_t window = 64;       // events in flight in the pipelined run
  std::string serf = "/usr/bin/serf";
  std::string rigagent;     // for the RSS figure (skipped when empty)
};

bool run_serf_events(const SerfOptions& options);

}  // namespace rigbench
