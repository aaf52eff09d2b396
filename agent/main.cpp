// rigagent: the autotrainer rig agent. One static binary, subcommands below.
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string_view>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "daemon.hpp"

// Timestamps, timeouts and certificate validity must stay right past 2038-01-19 on a 32-bit
// board: toolchains/arm-linux-gnueabihf.cmake sets _TIME_BITS=64.
static_assert(sizeof(std::time_t) >= 8, "rigagent needs a 64-bit time_t (build with -D_TIME_BITS=64 -D_FILE_OFFSET_BITS=64)");

namespace {

const char* kHelp = R"(rigagent %s: the autotrainer rig agent

usage: rigagent COMMAND [OPTIONS]     (rigagent COMMAND --help for each)

commands:
  run            run the agent (RpcService over ZeroMQ, application link)
  console        remote console: send commands, `console watch` to print events
  sim-app        a stand-in acquisition application for the application link
  hal            look at the board's GPIO lines; press the simulated e-stop
  boards         list the built-in boards, show or check a board file
  laneswap       check the LaneSwap monitor: status, services, a heartbeat by hand
  serf           talk to the board's Serf agent: members, events, queries, monitor
  print-config   validate and print the effective configuration as JSON
  version        print the version (also --version)

Quick start on a laptop (simulated board, loopback only):
  rigagent run &
  rigagent console GET_STATUS
  rigagent console watch
  rigagent hal pulse estop 200     (press the simulated e-stop: 101, then 102)

Exit codes: 0 ok, 1 failed, 2 bad command line, 3 invalid configuration,
4 could not start (port in use), 5 no reply in time.
)";

}  // namespace

int main(int argc, char** argv) {
  using namespace rig::cli;
  if (argc < 2) {
    std::fprintf(stderr, kHelp, rig::version_string());
    return exit_code::usage;
  }
  const std::string_view c = argv[1];
  if (c == "--help" || c == "-h" || c == "help") {
    std::printf(kHelp, rig::version_string());
    return exit_code::ok;
  }
  if (c == "--version" || c == "version") {
    std::printf("rigagent %s\n", rig::version_string());
    return exit_code::ok;
  }
  if (c == "run") return run_main(argc, argv, 2);
  if (c == "console") return console_main(argc, argv, 2);
  if (c == "sim-app") return sim_app_main(argc, argv, 2);
  if (c == "hal") return hal_main(argc, argv, 2);
  if (c == "boards") return boards_main(argc, argv, 2);
  if (c == "laneswap") return laneswap_main(argc, argv, 2);
  if (c == "serf") return serf_main(argc, argv, 2);
  if (c == "print-config") return print_config_main(argc, argv, 2);
  std::fprintf(stderr, "rigagent: unknown command '%s' (see rigagent --help)\n", argv[1]);
  return exit_code::usage;
}
