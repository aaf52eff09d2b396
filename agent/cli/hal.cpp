// `rigagent hal`: look at the board's lines and drive the simulated ones, through the running
// agent's control socket (hal.control_socket).
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/read_until.hpp>
#include <asio/write.hpp>

#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "hw/control_protocol.hpp"

namespace rig::cli {
namespace {

using json = nlohmann::ordered_json;

const char* kHalHelp = R"(usage: rigagent hal get [LINE]          the board's lines: level, state, edges
       rigagent hal set LINE 0|1        set a simulated input's physical level
       rigagent hal pulse LINE MS       hold a simulated input active for MS ms, then release it

Talks to the running agent (`rigagent run`) over its HAL control socket. On the simulated
board (`--board sim`, the default) this is how a person or a test presses the e-stop:
  rigagent hal pulse estop 200       press and release the e-stop
  rigagent hal set estop 1           press it and keep it pressed (set estop 0 releases it)
  rigagent hal set door 0            open the door (an active-low alarm input)
Levels are physical, as on a wire: an active-low input is active at 0. `get` works on every
board, including real GPIO; `set` and `pulse` only drive simulated inputs.

Options:
  --socket PATH    the agent's control socket (default: hal.control_socket of the
                   configuration, /tmp/rigagent-hal.sock)
  --config FILE    take the socket path from this configuration
  --timeout SEC    give up after SEC seconds (default 5, plus the pulse)
  --json           print the agent's JSON reply

Exit codes: 0 done, 1 the agent refused (unknown line, not simulated) or is not running,
2 bad command line, 3 invalid configuration, 5 no reply in time.
)";

struct Outcome {
  int code = exit_code::ok;
  std::string error;
  std::string reply;
};

Outcome exchange(const std::string& path, const std::string& request, double timeout_s) {
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  std::string buffer;
  Outcome out;
  socket.async_connect(asio::local::stream_protocol::endpoint(path), [&](const std::error_code& ec) {
    if (ec) {
      out = {exit_code::failure,
             "cannot reach the agent's HAL control socket " + path + ": " + ec.message() +
                 " (is `rigagent run` running? its log names the socket; --socket picks another)"};
      return;
    }
    asio::async_write(socket, asio::buffer(request), [&](const std::error_code& wec, size_t) {
      // Even when the send failed, the agent may have said why (too many connections).
      asio::async_read_until(socket, asio::dynamic_buffer(buffer, 1 << 20), '\n', [&, wec](const std::error_code& rec, size_t n) {
        if (!rec) out.reply = buffer.substr(0, n - 1);
        else if (wec) out = {exit_code::failure, "sending to " + path + ": " + wec.message()};
        else out = {exit_code::failure, "the agent closed the control connection without answering (" + rec.message() +
                                            "; is it stopping?)"};
      });
    });
  });
  io.run_for(std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000)));
  if (!io.stopped()) return {exit_code::timeout, "no answer from " + path + " within " + std::to_string(timeout_s) + " s", ""};
  return out;
}

std::string row(const json& l) {
  char buf[512];
  const bool input = l.value("direction", "") == "input";
  std::string role = l.value("role", "");
  if (l.contains("severity")) role += " (" + l["severity"].get<std::string>() + ")";
  const std::string level = l.contains("level") ? std::to_string(l["level"].get<int>()) : "-";
  const std::string state = input ? (l.value("active", false) ? "ACTIVE" : "inactive") : (l.value("active", false) ? "on" : "off");
  std::snprintf(buf, sizeof buf, "%-14s %-3s %-18s %-5s %-9s %s", l.value("name", "").c_str(), input ? "in" : "out",
                role.c_str(), level.c_str(), state.c_str(), l.value("where", "").c_str());
  return buf;
}

void print_lines(const json& r) {
  std::printf("board %s (%s backend)\n", r.value("board", "?").c_str(), r.value("backend", "?").c_str());
  std::printf("%-14s %-3s %-18s %-5s %-9s %s\n", "LINE", "DIR", "ROLE", "LEVEL", "STATE", "WHERE");
  for (const auto& l : r["inputs"]) std::printf("%s\n", row(l).c_str());
  for (const auto& l : r["outputs"]) std::printf("%s\n", row(l).c_str());
}

}  // namespace

int hal_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kHalHelp, stdout);
    return exit_code::ok;
  }
  auto socket = args.value("--socket");
  auto config = args.value("--config");
  auto timeout = args.value("--timeout");
  const bool as_json = args.flag("--json");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) {
    std::fprintf(stderr, "rigagent hal: %s\n(see rigagent hal --help)\n", f.error().message.c_str());
    return exit_code::usage;
  }
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "rigagent hal: %s\n(see rigagent hal --help)\n", why.c_str());
    return exit_code::usage;
  };
  double timeout_s = 5;
  if (timeout) {
    auto t = parse_double(*timeout);
    if (!t || *t <= 0 || *t > 3600) return usage("--timeout: expected seconds, more than 0");
    timeout_s = *t;
  }
  if (pos.empty()) return usage("say what to do: get, set or pulse");

  hw::ControlRequest req;
  const std::string& op = pos[0];
  if (op == "get") {
    if (pos.size() > 2) return usage("get takes at most one line name");
    if (pos.size() == 2) req.line = pos[1];
  } else if (op == "set") {
    if (pos.size() != 3 || (pos[2] != "0" && pos[2] != "1")) return usage("usage: rigagent hal set LINE 0|1");
    req.op = hw::ControlRequest::Op::set;
    req.line = pos[1];
    req.level = pos[2] == "1" ? 1 : 0;
  } else if (op == "pulse") {
    auto ms = pos.size() == 3 ? parse_int(pos[2]) : std::nullopt;
    if (!ms || *ms < 1 || *ms > hw::kMaxPulseMs)
      return usage("usage: rigagent hal pulse LINE MS (MS from 1 to " + std::to_string(hw::kMaxPulseMs) + ")");
    req.op = hw::ControlRequest::Op::pulse;
    req.line = pos[1];
    req.ms = *ms;
    timeout_s += static_cast<double>(*ms) / 1000.0;
  } else {
    return usage("unknown action '" + op + "' (get, set or pulse)");
  }

  std::string path = socket ? *socket : HalConfig{}.control_socket;
  if (!socket && config) {
    auto cfg = load_config_file(*config);
    if (!cfg) {
      std::fprintf(stderr, "rigagent: %s\n", cfg.error().message.c_str());
      return exit_code::config;
    }
    path = cfg->hal.control_socket;
    if (path.empty()) {
      std::fprintf(stderr, "rigagent hal: %s sets no hal.control_socket: the agent serves none\n", config->c_str());
      return exit_code::config;
    }
  }

  auto out = exchange(path, hw::encode_control_request(req), timeout_s);
  if (out.code != exit_code::ok) {
    std::fprintf(stderr, "rigagent hal: %s\n", out.error.c_str());
    return out.code;
  }
  json reply = json::parse(out.reply, nullptr, false);
  if (!reply.is_object()) {
    std::fprintf(stderr, "rigagent hal: the agent's answer is not JSON: %s\n", out.reply.c_str());
    return exit_code::failure;
  }
  if (!reply.value("ok", false)) {
    if (as_json) std::printf("%s\n", out.reply.c_str());
    std::fprintf(stderr, "rigagent hal: %s\n", reply.value("error", std::string("refused")).c_str());
    return exit_code::failure;
  }
  if (as_json) {
    std::printf("%s\n", out.reply.c_str());
    return exit_code::ok;
  }
  if (req.op == hw::ControlRequest::Op::pulse)
    std::printf("pulsed %s for %lld ms\n", req.line.c_str(), static_cast<long long>(req.ms));
  print_lines(reply);
  return exit_code::ok;
}

}  // namespace rig::cli
