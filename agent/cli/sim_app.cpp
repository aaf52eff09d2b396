// `rigagent sim-app`: a stand-in for the acquisition application (like auto-trainer-api's
// client_application.py), speaking the application link (docs/app-link.md). It answers the
// commands rigagent forwards, runs a pretend acquisition that finishes through COMMAND_RESULT,
// and publishes events typed on stdin.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "cli/poll.hpp"
#include "core/clock.hpp"
#include "core/endpoint.hpp"
#include "core/out.hpp"
#include "rpc/codec.hpp"
#include "rpc/protocol.hpp"

namespace rig::cli {
namespace {

using rpc::json;
namespace cmd = rpc::command;
namespace res = rpc::result;

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop = true; }

const char* kSimAppHelp = R"(usage: rigagent sim-app [--endpoint EP] [--name NAME] [--acquisition-ms MS] [--no-reply]

A stand-in for the acquisition application. It connects to rigagent's application link and
  - answers START_ACQUISITION / STOP_ACQUISITION with PENDING_WITH_NOTIFICATION (201), then
    after MS milliseconds publishes acquisitionStarted(301) / acquisitionEnded(305) and the
    COMMAND_RESULT (SUCCESS, or FAILED if already in that state or an e-stop is latched);
  - answers GET_CONFIGURATION with a ConfigurationResponse;
  - answers USER_DEFINED with SUCCESS and {"customCommand": N, "echo": DATA};
  - stops a running acquisition when rigagent reports an emergency stop.
Lines on stdin publish through rigagent:
  event KIND [CONTEXT-JSON]    e.g. event 1501 {"pellet_id": 3}
  status IDLE|ACQUIRING|...    report the application status
  estop [REASON] / resume      the application raises or clears an emergency itself
  quit

  --endpoint EP        application link endpoint (default ipc:///tmp/rigagent-app.sock)
  --name NAME          name reported to rigagent (default sim-app)
  --acquisition-ms MS  how long starting/stopping takes (default 200)
  --no-reply           never answer commands (to see rigagent's timeout reply)
)";

class SimApp {
 public:
  SimApp(zmq::context_t& ctx, const std::string& endpoint, std::string name, int64_t delay_ms, bool no_reply)
      : sock_(ctx, zmq::socket_type::dealer), name_(std::move(name)), delay_ms_(delay_ms), no_reply_(no_reply) {
    sock_.set(zmq::sockopt::linger, 200);
    sock_.connect(endpoint);
    send(json{{"type", "hello"}, {"name", name_}, {"version", "sim-app"}});
    send_status();
  }

  int loop() {
    bool stdin_open = true;
    while (!g_stop) {
      zmq::pollitem_t items[2] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}, {nullptr, STDIN_FILENO, ZMQ_POLLIN, 0}};
      long timeout = 100;
      if (due_ms_ >= 0) timeout = std::max<long>(0, std::min<long>(timeout, due_ms_ - monotonic_ms()));
      poll_items(items, stdin_open ? 2 : 1, std::chrono::milliseconds(timeout));
      if (items[0].revents & ZMQ_POLLIN) receive();
      if (stdin_open && (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))) stdin_open = read_stdin();
      if (due_ms_ >= 0 && monotonic_ms() >= due_ms_) finish_transition();
    }
    send(json{{"type", "bye"}});
    return exit_code::ok;
  }

 private:
  void send(const json& m) {
    std::string s = m.dump();
    sock_.send(zmq::buffer(s), zmq::send_flags::dontwait);
  }

  void send_status() {
    send(json{{"type", "status"}, {"appStatus", acquiring_ ? 100 : 0}, {"trainingMode", 100}, {"animalId", "SIM-0001"}});
  }

  void event(int64_t kind, const json& context) { send(json{{"type", "event"}, {"kind", kind}, {"context", context}}); }

  void reply(const json& command, int64_t result, const json& data = nullptr, int64_t error_code = 0,
             std::optional<std::string> message = std::nullopt) {
    json r = {{"type", "reply"}, {"id", command["id"]}, {"result", result}, {"data", data}, {"errorCode", error_code}};
    r["errorMessage"] = message ? json(*message) : json(nullptr);
    send(r);
  }

  void receive() {
    std::vector<zmq::message_t> frames;
    while (zmq::recv_multipart(sock_, std::back_inserter(frames), zmq::recv_flags::dontwait)) {
      for (auto& f : frames) {
        try {
          handle(json::parse(f.to_string_view(), nullptr, false));
        } catch (const json::exception& e) {
          stdio::err(std::string("sim-app: ignored a message it could not use: ") + e.what() + "\n");
        }
      }
      frames.clear();
    }
  }

  void handle(const json& m) {
    if (!m.is_object()) return;
    const std::string type = m.value("type", "");
    if (type == "welcome") {
      stdio::err("sim-app: connected to " + m.value("identifier", "?") + " (" + m.value("version", "?") + ")\n");
    } else if (type == "error") {
      stdio::err("sim-app: rigagent says: " + m.value("message", "?") + "\n");
    } else if (type == "emergency") {
      const int64_t kind = m.value("kind", int64_t(0));
      estop_ = kind == rpc::event_kind::emergency_stop;
      stdio::err(std::string("sim-app: emergency ") + (estop_ ? "STOP" : "resume") + " " +
                 rpc::dump_lenient(m.value("context", json())) + "\n");
      if (estop_ && (acquiring_ || due_ms_ >= 0)) {
        // An e-stop ends the acquisition at once; a pending start fails.
        if (due_ms_ >= 0) finish(res::failed, 3, "emergency stop during the transition");
        if (acquiring_) {
          acquiring_ = false;
          event(305, json{{"reason", "emergency stop"}});
          send_status();
        }
      }
    } else if (type == "command") {
      command(m);
    }
  }

  void command(const json& m) {
    if (no_reply_) return;
    const int64_t c = m.value("command", int64_t(-1));
    if (c == cmd::start_acquisition || c == cmd::stop_acquisition) {
      const bool start = c == cmd::start_acquisition;
      if (due_ms_ >= 0) return reply(m, res::failed, nullptr, 4, "another acquisition transition is in progress");
      if (start && estop_) return reply(m, res::failed, nullptr, 3, "emergency stop is latched");
      if (start == acquiring_) return reply(m, res::failed, nullptr, start ? 1 : 2, start ? "already acquiring" : "not acquiring");
      reply(m, res::pending_with_notification);
      pending_command_ = c;
      pending_nonce_ = m.value("nonce", int64_t(0));
      due_ms_ = monotonic_ms() + delay_ms_;
    } else if (c == cmd::get_configuration) {
      reply(m, res::success,
            json{{"deviceId", "000000"},
                 {"configurationLocation", "/home/ubuntu/Autotrainer"},
                 {"dataLocation", "/home/ubuntu/Documents/Raw_Data-Local"},
                 {"animalLocation", "/home/ubuntu/Autotrainer/animals"},
                 {"logLocation", "/home/ubuntu/Documents/Raw_Data-Local/logs"},
                 {"inferenceModel", "/home/ubuntu/Autotrainer/inference_model"}});
    } else if (c == cmd::user_defined) {
      reply(m, res::success, json{{"customCommand", m.value("customCommand", int64_t(-1))}, {"echo", m.value("data", json())}});
    } else {
      reply(m, res::unrecognized, nullptr, 0, "sim-app does not handle command " + std::to_string(c));
    }
  }

  void finish(int64_t result, int64_t error_code, const std::string& message) {
    json r = {{"type", "commandResult"}, {"command", pending_command_}, {"nonce", pending_nonce_}, {"result", result},
              {"data", nullptr}, {"errorCode", error_code}};
    r["errorMessage"] = error_code ? json(message) : json(nullptr);
    send(r);
    due_ms_ = -1;
  }

  void finish_transition() {
    acquiring_ = pending_command_ == cmd::start_acquisition;
    event(acquiring_ ? 301 : 305, nullptr);
    send_status();
    finish(res::success, 0, "");
  }

  bool read_stdin() {
    char buf[4096];
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n <= 0) return false;
    line_.append(buf, static_cast<size_t>(n));
    for (size_t nl; (nl = line_.find('\n')) != std::string::npos;) {
      std::string l = line_.substr(0, nl);
      line_.erase(0, nl + 1);
      command_line(l);
    }
    return true;
  }

  void command_line(const std::string& l) {
    auto sp = l.find(' ');
    std::string word = l.substr(0, sp), rest = sp == std::string::npos ? "" : l.substr(sp + 1);
    if (word.empty()) return;
    if (word == "quit") {
      g_stop = true;
    } else if (word == "event") {
      auto sp2 = rest.find(' ');
      auto kind = parse_int(rest.substr(0, sp2));
      json ctx = sp2 == std::string::npos ? json() : json::parse(rest.substr(sp2 + 1), nullptr, false);
      if (!kind || ctx.is_discarded()) {
        stdio::err("sim-app: usage: event KIND [CONTEXT-JSON]\n");
        return;
      }
      event(*kind, ctx);
    } else if (word == "status") {
      acquiring_ = rest == "ACQUIRING";
      send_status();
    } else if (word == "estop" || word == "resume") {
      event(word == "estop" ? 101 : 102, json{{"reason", rest.empty() ? "sim-app" : rest}});
    } else {
      stdio::err("sim-app: unknown input '" + word + "' (event, status, estop, resume, quit)\n");
    }
  }

  zmq::socket_t sock_;
  std::string name_;
  int64_t delay_ms_;
  bool no_reply_;
  bool acquiring_ = false;
  bool estop_ = false;
  int64_t due_ms_ = -1;
  int64_t pending_command_ = 0;
  int64_t pending_nonce_ = 0;
  std::string line_;
};

}  // namespace

int sim_app_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kSimAppHelp, stdout);
    return exit_code::ok;
  }
  std::string endpoint = args.value("--endpoint").value_or("ipc:///tmp/rigagent-app.sock");
  std::string name = args.value("--name").value_or("sim-app");
  auto delay = args.value("--acquisition-ms");
  bool no_reply = args.flag("--no-reply");
  if (auto f = args.finish(); !f || !args.positionals().empty()) {
    std::fprintf(stderr, "rigagent sim-app: %s\n", f ? "unexpected argument" : f.error().message.c_str());
    return exit_code::usage;
  }
  if (auto v = validate_connect_endpoint(endpoint); !v) {
    std::fprintf(stderr, "rigagent sim-app: --endpoint: %s\n", v.error().message.c_str());
    return exit_code::usage;
  }
  int64_t delay_ms = 200;
  if (delay) {
    auto d = parse_int(*delay);
    if (!d || *d < 0) {
      std::fprintf(stderr, "rigagent sim-app: --acquisition-ms must be a non-negative integer\n");
      return exit_code::usage;
    }
    delay_ms = *d;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  try {
    zmq::context_t ctx(1);
    SimApp app(ctx, endpoint, name, delay_ms, no_reply);
    return app.loop();
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "rigagent sim-app: %s\n", e.what());
    return exit_code::failure;
  }
}

}  // namespace rig::cli
