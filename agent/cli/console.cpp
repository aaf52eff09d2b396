// `rigagent console`: the remote console. Sends any command and decodes the reply, watches the
// event stream, and never hangs on a REQ socket (a reply that does not come in time closes and
// recreates the socket, as the C# device service does).
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <zmq.hpp>
#include <zmq_addon.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <optional>
#include <string>

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

std::atomic<bool> g_interrupted{false};
void on_signal(int) { g_interrupted = true; }

const char* kConsoleHelp = R"(usage: rigagent console [OPTIONS] COMMAND [DATA]      send one command, print the reply
       rigagent console [OPTIONS]                     interactive: one command per line
       rigagent console watch [OPTIONS]               print the event stream live

COMMAND is a name (GET_STATUS, get-status) or a number (400; unknown numbers are sent as
they are and answered as USER_DEFINED 99999). DATA is JSON, e.g. '{"reason":"test"}'.

Options:
  --host HOST          the device: commands on tcp://HOST:5557, events on tcp://HOST:5556
  --endpoint EP        the exact endpoint (commands, or events for `watch`)
  --events-endpoint EP the events endpoint --wait listens on (default: from --host, else
                       tcp://127.0.0.1:5556)
  --timeout SEC        give up on a reply after SEC seconds (default 10)
  --nonce N            nonce of the (first) request (default 1, then counting up)
  --custom N           customCommand, for USER_DEFINED
  --wait               after a PENDING_WITH_NOTIFICATION reply, wait for its COMMAND_RESULT
  --json               print raw JSON lines instead of decoded text
watch options:
  --topic T            only this topic (name or number; repeatable), default all
  --count N            stop after N messages
  --duration SEC       stop after SEC seconds

Exit codes: 0 success (SUCCESS, PENDING or PENDING_WITH_NOTIFICATION), 1 the device
answered with another result, 2 bad command line, 5 no reply in time.
)";

std::string local_time() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  tm t{};
  localtime_r(&ts.tv_sec, &t);
  char b[32];
  std::snprintf(b, sizeof b, "%02d:%02d:%02d.%03ld", t.tm_hour, t.tm_min, t.tm_sec, ts.tv_nsec / 1000000);
  return b;
}

std::string named(const char* name, int64_t v) {
  return (name ? std::string(name) : std::string("?")) + " (" + std::to_string(v) + ")";
}

struct Target {
  std::string commands = "tcp://127.0.0.1:5557";
  std::string events = "tcp://127.0.0.1:5556";
};

// An integer member, or `fallback` when absent or of another type: what a device sends is
// untrusted, and the console must print it, not throw on it.
int64_t int_or(const json& j, const char* key, int64_t fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return fallback;
  return it->get<int64_t>();
}

std::optional<int64_t> parse_command(const std::string& word) {
  if (auto n = parse_int(word)) return n;
  return rpc::command_from_name(word);
}

// One REQ socket with a deadline per request; recreated after a timeout.
class Requester {
 public:
  Requester(zmq::context_t& ctx, std::string endpoint, std::chrono::milliseconds timeout)
      : ctx_(ctx), endpoint_(std::move(endpoint)), timeout_(timeout) {}

  Expected<std::string> request(const std::string& body) {
    if (!sock_) {
      sock_.emplace(ctx_, zmq::socket_type::req);
      sock_->set(zmq::sockopt::linger, 0);
      sock_->connect(endpoint_);
    }
    sock_->send(zmq::buffer(body), zmq::send_flags::none);
    zmq::pollitem_t item{sock_->handle(), 0, ZMQ_POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (std::chrono::steady_clock::now() < deadline && !g_interrupted) {
      poll_items(&item, 1, std::chrono::milliseconds(100));
      if (item.revents & ZMQ_POLLIN) {
        std::vector<zmq::message_t> frames;
        (void)zmq::recv_multipart(*sock_, std::back_inserter(frames));
        if (frames.size() != 1) return make_error("reply had " + std::to_string(frames.size()) + " frames, expected 1");
        return frames[0].to_string();
      }
    }
    sock_.reset();  // a REQ socket that got no reply cannot send again
    return make_error(g_interrupted ? "interrupted" : "no reply from " + endpoint_ + " within " +
                                                          std::to_string(timeout_.count() / 1000.0).substr(0, 4) + " s",
                      exit_code::timeout);
  }

 private:
  zmq::context_t& ctx_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  std::optional<zmq::socket_t> sock_;
};

void print_reply(const std::string& text, bool raw) {
  if (raw) {
    stdio::out_line(text);
    return;
  }
  json r = json::parse(text, nullptr, false);
  if (!r.is_object()) {
    stdio::out_line("reply (not a JSON object): " + text);
    return;
  }
  auto num = [&](const char* k) { return int_or(r, k, -1); };
  std::string s = "reply to " + named(rpc::command_name(num("command")), num("command")) + ", nonce " +
                  std::to_string(num("nonce")) + "\n  result:  " + named(rpc::result_name(num("result")), num("result"));
  if (num("errorKind") != 0 || num("errorCode") != 0)
    s += "\n  error:   " + named(rpc::error_kind_name(num("errorKind")), num("errorKind")) + ", code " +
         std::to_string(num("errorCode"));
  if (r.contains("errorMessage") && !r["errorMessage"].is_null())
    s += "\n  message: " + (r["errorMessage"].is_string() ? r["errorMessage"].get<std::string>()
                                                         : rpc::dump_lenient(r["errorMessage"]));
  if (r.contains("data") && !r["data"].is_null()) s += "\n  data:    " + rpc::dump_lenient(r["data"]);
  stdio::out_line(s);
}

std::string describe_event(uint32_t topic, const std::string& body) {
  std::string line = local_time() + "  ";
  const char* tn = rpc::topic_name(topic);
  std::string tname = tn ? std::string(tn) : "topic " + std::to_string(topic);
  tname.resize(std::max<size_t>(tname.size(), 15), ' ');
  line += tname + " ";
  json j = json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (const int64_t kind = int_or(j, "kind", -1); kind >= 0) {
      const char* kn = rpc::event_kind_name(kind);
      line += std::string(kn ? kn : "kind") + "(" + std::to_string(kind) + ") ";
    } else if (const int64_t c = int_or(j, "command", -1), res = int_or(j, "result", -1); c >= 0 && res >= 0) {
      const char* cn = rpc::command_name(c);
      const char* rn = rpc::result_name(res);
      line += std::string(cn ? cn : "command") + " -> " + (rn ? rn : "?") + " ";
    }
    return line + rpc::dump_lenient(j);
  }
  return line + body;
}

int watch(zmq::context_t& ctx, const std::string& endpoint, const std::vector<uint32_t>& topics, int64_t count,
          double duration, bool raw) {
  zmq::socket_t sub(ctx, zmq::socket_type::sub);
  sub.set(zmq::sockopt::linger, 0);
  if (topics.empty())
    sub.set(zmq::sockopt::subscribe, "");
  else
    for (uint32_t t : topics) sub.set(zmq::sockopt::subscribe, rpc::topic_frame(t));
  sub.connect(endpoint);
  stdio::err("watching " + endpoint + " (Ctrl-C to stop)\n");
  const auto end = duration > 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(int64_t(duration * 1000))
                                : std::chrono::steady_clock::time_point::max();
  int64_t seen = 0;
  zmq::pollitem_t item{sub.handle(), 0, ZMQ_POLLIN, 0};
  while (!g_interrupted && std::chrono::steady_clock::now() < end && (count <= 0 || seen < count)) {
    poll_items(&item, 1, std::chrono::milliseconds(100));
    if (!(item.revents & ZMQ_POLLIN)) continue;
    std::vector<zmq::message_t> frames;
    (void)zmq::recv_multipart(sub, std::back_inserter(frames));
    ++seen;
    auto topic = frames.size() == 2 ? rpc::parse_topic_frame(frames[0].to_string_view()) : std::nullopt;
    if (!topic) {
      stdio::out_line(local_time() + "  malformed message: " + std::to_string(frames.size()) + " frame(s), expected 2");
      continue;
    }
    if (raw)
      stdio::out_line(json{{"topic", *topic}, {"body", frames[1].to_string()}}.dump(-1, ' ', false,
                                                                                    json::error_handler_t::replace));
    else
      stdio::out_line(describe_event(*topic, frames[1].to_string()));
  }
  return exit_code::ok;
}

struct SendOptions {
  int64_t nonce = 1;
  std::optional<int64_t> custom;
  bool wait = false;
  bool raw = false;
};

// Sends one command; returns the exit code for it.
int send_one(zmq::context_t& ctx, Requester& req, const Target& target, int64_t command, const json& data,
             const SendOptions& o, std::chrono::milliseconds timeout) {
  json body = {{"command", command}, {"nonce", o.nonce}};
  if (o.custom) body["customCommand"] = *o.custom;
  if (!data.is_null()) body["data"] = data;

  std::optional<zmq::socket_t> results;
  if (o.wait) {
    results.emplace(ctx, zmq::socket_type::sub);
    results->set(zmq::sockopt::linger, 0);
    results->set(zmq::sockopt::subscribe, rpc::topic_frame(static_cast<uint32_t>(rpc::Topic::command_result)));
    results->connect(target.events);
    usleep(200 * 1000);  // PUB drops what it sends before the subscription arrives
  }
  auto reply = req.request(body.dump());
  if (!reply) {
    stdio::err("rigagent console: " + reply.error().message + "\n");
    return reply.error().code == exit_code::timeout ? exit_code::timeout : exit_code::failure;
  }
  print_reply(*reply, o.raw);
  json r = json::parse(*reply, nullptr, false);
  const int64_t result = int_or(r, "result", -1);
  if (result == rpc::result::pending_with_notification && results) {
    const int64_t echoed = int_or(r, "command", command);
    zmq::pollitem_t item{results->handle(), 0, ZMQ_POLLIN, 0};
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!g_interrupted && std::chrono::steady_clock::now() < deadline) {
      poll_items(&item, 1, std::chrono::milliseconds(100));
      if (!(item.revents & ZMQ_POLLIN)) continue;
      std::vector<zmq::message_t> frames;
      (void)zmq::recv_multipart(*results, std::back_inserter(frames));
      if (frames.size() != 2) continue;
      json cr = json::parse(frames[1].to_string(), nullptr, false);
      if (int_or(cr, "nonce", -1) != o.nonce || int_or(cr, "command", -1) != echoed) continue;
      stdio::out_line(o.raw ? frames[1].to_string() : describe_event(6001, frames[1].to_string()));
      return int_or(cr, "result", 0) == rpc::result::success ? exit_code::ok : exit_code::failure;
    }
    stdio::err("rigagent console: no COMMAND_RESULT for nonce " + std::to_string(o.nonce) + " within the timeout\n");
    return exit_code::timeout;
  }
  return (result == rpc::result::success || result == rpc::result::pending ||
          result == rpc::result::pending_with_notification)
             ? exit_code::ok
             : exit_code::failure;
}

void list_commands() {
  std::string s = "commands:";
  for (auto* c = rpc::commands_begin(); c != rpc::commands_end(); ++c)
    s += std::string(" ") + c->name + "(" + std::to_string(c->value) + ")";
  stdio::out(s + "\n");
}

int interactive(zmq::context_t& ctx, const Target& target, SendOptions o, std::chrono::milliseconds timeout) {
  Requester req(ctx, target.commands, timeout);
  const bool tty = isatty(STDIN_FILENO);
  if (tty) {
    stdio::out("rigagent console: " + target.commands + "  (help, quit)\n");
    list_commands();
  }
  std::string line, previous;
  int last = exit_code::ok;
  while (!g_interrupted) {
    if (tty) stdio::out(previous.empty() ? "> " : "[enter: " + previous + "] > ");
    std::fflush(stdout);  // the prompt, and what the last command printed (std::cin was tied to std::cout)
    if (!stdio::read_line(stdin, line)) break;
    auto start = line.find_first_not_of(" \t");
    if (start == std::string::npos) {
      if (previous.empty()) continue;
      line = previous;  // as remote_console.py: an empty line repeats the last command
      start = 0;
    }
    line = line.substr(start);
    auto sp = line.find_first_of(" \t");
    std::string word = line.substr(0, sp), rest = sp == std::string::npos ? "" : line.substr(sp + 1);
    if (word == "quit" || word == "exit") break;
    if (word == "help" || word == "?") {
      stdio::out("COMMAND [DATA-JSON]   e.g. GET_STATUS, 300, EMERGENCY_STOP {\"reason\":\"test\"}\n"
                 "an empty line repeats the last command; quit or Ctrl-D ends\n");
      list_commands();
      continue;
    }
    auto command = parse_command(word);
    if (!command) {
      stdio::out("unknown command '" + word + "' (type help)\n");
      continue;
    }
    json data;
    if (rest.find_first_not_of(" \t") != std::string::npos) {
      data = json::parse(rest, nullptr, false);
      if (data.is_discarded()) {
        stdio::out("DATA is not valid JSON: " + rest + "\n");
        continue;
      }
    }
    previous = line;
    last = send_one(ctx, req, target, *command, data, o, timeout);
    ++o.nonce;
  }
  return last;
}

}  // namespace

static int console_main_inner(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kConsoleHelp, stdout);
    return exit_code::ok;
  }
  Target target;
  auto host = args.value("--host");
  auto endpoint = args.value("--endpoint");
  auto events_endpoint = args.value("--events-endpoint");
  auto timeout_s = args.value("--timeout");
  auto nonce = args.value("--nonce");
  auto custom = args.value("--custom");
  auto topics = args.values("--topic");
  auto count = args.value("--count");
  auto duration = args.value("--duration");
  SendOptions o;
  o.wait = args.flag("--wait");
  o.raw = args.flag("--json");
  auto pos = args.positionals();

  auto usage = [](const std::string& m) {
    std::fprintf(stderr, "rigagent console: %s\n(see rigagent console --help)\n", m.c_str());
    return exit_code::usage;
  };
  if (auto f = args.finish(); !f) return usage(f.error().message);
  if (host) target = {"tcp://" + *host + ":5557", "tcp://" + *host + ":5556"};
  double timeout = 10;
  if (timeout_s) {
    auto t = parse_double(*timeout_s);
    if (!t || *t <= 0 || *t > 3600) return usage("--timeout must be a number of seconds, 0 < SEC <= 3600");
    timeout = *t;
  }
  if (nonce) {
    auto n = parse_int(*nonce);
    if (!n) return usage("--nonce must be an integer");
    o.nonce = *n;
  }
  if (custom) {
    auto c = parse_int(*custom);
    if (!c) return usage("--custom must be an integer");
    o.custom = *c;
  }
  const bool watching = !pos.empty() && pos[0] == "watch";
  if (endpoint) (watching ? target.events : target.commands) = *endpoint;
  if (events_endpoint) target.events = *events_endpoint;
  for (const auto& ep : {target.commands, target.events})
    if (auto v = validate_connect_endpoint(ep); !v) return usage(v.error().message);

  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  zmq::context_t ctx(1);
  const auto timeout_ms = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));

  if (watching) {
    if (pos.size() > 1) return usage("watch takes no arguments, got '" + pos[1] + "'");
    if (o.wait || nonce || custom || timeout_s || events_endpoint)
      return usage("--wait, --nonce, --custom, --timeout and --events-endpoint go with sending commands, not `watch`");
    std::vector<uint32_t> wanted;
    for (const auto& t : topics) {
      auto n = parse_int(t);
      auto named_topic = rpc::topic_from_name(t);
      if (n && *n >= 0 && *n <= 0xffffffffll)
        wanted.push_back(static_cast<uint32_t>(*n));
      else if (named_topic)
        wanted.push_back(*named_topic);
      else
        return usage("unknown topic '" + t + "' (HEARTBEAT, EMERGENCY, EVENT, PROPERTY_CHANGE, COMMAND_RESULT or a number)");
    }
    int64_t max = 0;
    if (count && !(parse_int(*count) && *parse_int(*count) > 0)) return usage("--count must be a positive integer");
    if (count) max = *parse_int(*count);
    double dur = 0;
    if (duration && !(parse_double(*duration) && *parse_double(*duration) > 0)) return usage("--duration must be positive");
    if (duration) dur = *parse_double(*duration);
    return watch(ctx, target.events, wanted, max, dur, o.raw);
  }
  if (!topics.empty() || count || duration) return usage("--topic, --count and --duration go with `watch`");

  if (pos.empty()) return interactive(ctx, target, o, timeout_ms);
  if (pos.size() > 2) return usage("too many arguments; DATA must be one JSON argument (quote it)");
  auto command = parse_command(pos[0]);
  if (!command) return usage("unknown command '" + pos[0] + "'; use a name like GET_STATUS or a number");
  json data;
  if (pos.size() == 2) {
    data = json::parse(pos[1], nullptr, false);
    if (data.is_discarded()) return usage("DATA is not valid JSON: " + pos[1]);
  }
  Requester req(ctx, target.commands, timeout_ms);
  return send_one(ctx, req, target, *command, data, o, timeout_ms);
}

int console_main(int argc, char** argv, int first) {
  try {
    return console_main_inner(argc, argv, first);
  } catch (const zmq::error_t& e) {
    std::fprintf(stderr, "rigagent console: %s\n", e.what());
    return exit_code::failure;
  }
}

}  // namespace rig::cli
