// `rigagent run`: the daemon.
#include <signal.h>

#include <cstdio>

#include "cli/commands.hpp"
#include "cli/effective_config.hpp"
#include "core/log.hpp"
#include "core/sd_notify.hpp"
#include "daemon.hpp"

namespace rig::cli {

namespace {

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

// The one line `systemctl status rigagent` shows.
std::string status_text(Agent& agent, const std::string& endpoints) {
  EmergencyState e = agent.state().emergency();
  std::string text = "board " + agent.hardware()->board().name + "; " + endpoints + "; ";
  if (e.latched) {
    text += "EMERGENCY STOP latched (" + join(e.holders) + ")";
    if (!e.reason.empty()) text += ": " + e.reason;
  } else {
    text += "no emergency";
  }
  std::vector<std::string> alarms;
  for (const auto& a : agent.state().active_alarms()) alarms.push_back(a.name + " (" + a.severity + ")");
  if (!alarms.empty()) text += "; alarms: " + join(alarms);
  return text;
}

// The watchdog's probe: a NONE request through the RpcService's owner thread (exactly as a remote's,
// so a wedged poll loop never answers), whose reply then goes through the io thread (the HAL's
// fds, timers and debouncing). Only when both have run does the Watchdog ping systemd.
void probe_agent(Agent& agent, const sd::Watchdog::Reply& reply) {
  rpc::Request none;
  none.command = rpc::command::none;
  agent.service().execute(std::move(none), [&agent, reply](const rpc::Reply& r) {
    if (r.result != rpc::result::success) return;  // not serving: no ping
    reply.hop();
    agent.io().post([reply] { reply.done(); });
  });
}

sd::Watchdog::Options watchdog_options(const sd::Notifier& notifier) {
  sd::Watchdog::Options o;
  o.ping_interval = notifier.watchdog_period() / 2;
  o.hop_names = {"the RpcService thread", "the io thread (HAL)"};
  return o;
}

}  // namespace

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
Under systemd (Type=notify: $NOTIFY_SOCKET set) it reports READY=1 once every socket is
bound and the board's lines are open, a STATUS line (board, endpoints, emergency state),
STOPPING=1 on the way out, and, with WatchdogSec= ($WATCHDOG_USEC), WATCHDOG=1 every half
period for as long as the RpcService thread and the io thread (the HAL) both answer.
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
  // Before any thread exists: it reads and unsets NOTIFY_SOCKET / WATCHDOG_*.
  const sd::Notifier notifier = sd::Notifier::from_environment();

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
    // Nothing runs but this thread, so the watchdog's probe answers at once.
    sd::Watchdog watchdog(notifier, [](const sd::Watchdog::Reply& r) { r.done(); },
                          nullptr, watchdog_options(notifier));
    (void)notifier.notify("READY=1\nSTATUS=RpcService disabled (rpc.enable is false)");
    watchdog.start();
    int sig = 0;
    sigwait(&stop_signals, &sig);
    (void)notifier.notify("STOPPING=1");
    return exit_code::ok;
  }

  Agent agent(*cfg);
  if (auto started = agent.start(); !started) {
    log::error("run", started.error().message);
    (void)notifier.notify(sd::status_assignment("could not start: " + started.error().message));
    return exit_code::startup;
  }
  std::string pubs, cmds;
  for (const auto& e : agent.service().bound_pub_endpoints()) pubs += (pubs.empty() ? "" : ", ") + e;
  for (const auto& e : agent.service().bound_command_endpoints()) cmds += (cmds.empty() ? "" : ", ") + e;
  log::info("run", std::string("rigagent ") + version_string() + " ready on board '" + agent.hardware()->board().name +
                       "' (" + agent.hardware()->gpio()->backend_name() + " GPIO): events on " + pubs + ", commands on " +
                       cmds + (cfg->app_link.enable ? ", application link on " + cfg->app_link.endpoint : "") +
                       (cfg->hal.control_socket.empty() ? "" : ", hal control on " + cfg->hal.control_socket));

  // Everything is bound and open: tell systemd (Type=notify), then keep it informed.
  const std::string endpoints = "events " + pubs + "; commands " + cmds;
  auto options = watchdog_options(notifier);
  options.sent_status = status_text(agent, endpoints);
  if (auto r = notifier.notify("READY=1\n" + sd::status_assignment(options.sent_status)); !r)
    log::warn("systemd", r.error().message);
  sd::Watchdog watchdog(notifier, [&agent](const sd::Watchdog::Reply& r) { probe_agent(agent, r); },
                        [&agent, &endpoints] { return status_text(agent, endpoints); }, options);
  watchdog.start();
  if (notifier.enabled())
    log::info("systemd", "notified READY=1 on " + notifier.address() +
                             (notifier.watchdog_period().count() > 0
                                  ? "; watchdog pings every " +
                                        std::to_string(notifier.watchdog_period().count() / 2000) + " ms"
                                  : std::string()));

  int sig = 0;
  sigwait(&stop_signals, &sig);
  log::info("run", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM") + ", stopping");
  (void)notifier.notify("STOPPING=1\nSTATUS=stopping");
  watchdog.stop();
  agent.stop();
  log::info("run", "stopped");
  return exit_code::ok;
}

}  // namespace rig::cli
