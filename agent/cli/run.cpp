// `rigagent run`: the daemon.
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/effective_config.hpp"
#include "core/log.hpp"
#include "daemon.hpp"

namespace rig::cli {

static const char* kRunHelp = R"(usage: rigagent run [--config FILE] [--board NAME] [--log-level LEVEL]

Runs the agent: the autotrainer RpcService (PUB events, REP commands), the local
application link, and the board's e-stop and alarm lines. Without --config it uses the
built-in default configuration: the simulated board, events on tcp://127.0.0.1:5556,
commands on tcp://127.0.0.1:5557, the application link on ipc:///tmp/rigagent-app.sock,
the `rigagent hal` control socket on /tmp/rigagent-hal.sock.

  --config FILE      JSON configuration (see docs/configuration.md; `rigagent print-config`
                     prints the effective one)
  --board NAME|FILE  board: sim (default), rpi4, rpi5, jetson-orin-nano, qemu-virt, or
                     a board file (`rigagent boards`; overrides the config's "board")
  --log-level LEVEL  debug, info, warn, error or off (overrides "log_level")

Logs go to stderr. SIGINT or SIGTERM stops the agent cleanly and frees its ports.
Exit codes: 0 stopped cleanly, 2 bad command line, 3 invalid configuration or board file,
4 could not start (a port in use, a GPIO chip or line that cannot be opened).
)";

int run_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kRunHelp, stdout);
    return exit_code::ok;
  }
  auto cfg = effective_config(args);
  if (auto f = args.finish(); !f) {
    std::fprintf(stderr, "rigagent run: %s\n(see rigagent run --help)\n", f.error().message.c_str());
    return exit_code::usage;
  }
  if (!args.positionals().empty()) {
    std::fprintf(stderr, "rigagent run: unexpected argument '%s'\n", args.positionals().front().c_str());
    return exit_code::usage;
  }
  if (!cfg) {
    std::fprintf(stderr, "rigagent: %s\n", cfg.error().message.c_str());
    return cfg.error().code == exit_code::usage ? exit_code::usage : exit_code::config;
  }
  log::set_level(*log::parse_level(cfg->log_level));

  // Block the stop signals before any thread exists, so every thread inherits the mask and
  // only the sigwait below ever sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  if (!cfg->rpc.enable) {
    log::warn("run", "rpc.enable is false: the RpcService is off, and with it the board's e-stop and alarm lines; "
                     "waiting for a stop signal");
    int sig = 0;
    sigwait(&stop_signals, &sig);
    return exit_code::ok;
  }

  Agent agent(*cfg);
  if (auto started = agent.start(); !started) {
    log::error("run", started.error().message);
    return exit_code::startup;
  }
  std::string pubs, cmds;
  for (const auto& e : agent.service().bound_pub_endpoints()) pubs += (pubs.empty() ? "" : ", ") + e;
  for (const auto& e : agent.service().bound_command_endpoints()) cmds += (cmds.empty() ? "" : ", ") + e;
  log::info("run", std::string("rigagent ") + version_string() + " ready on board '" + agent.hardware()->board().name +
                       "' (" + agent.hardware()->gpio()->backend_name() + " GPIO): events on " + pubs + ", commands on " +
                       cmds + (cfg->app_link.enable ? ", application link on " + cfg->app_link.endpoint : "") +
                       (cfg->hal.control_socket.empty() ? "" : ", hal control on " + cfg->hal.control_socket));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("run", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  agent.stop();
  log::info("run", "stopped");
  return exit_code::ok;
}

}  // namespace rig::cli
