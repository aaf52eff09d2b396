// `rigagent serf`: a person on the board talking to the local Serf agent over its RPC port, the
// way the `serf` command line does (same operations, similar flags and output), with rigagent's
// exit codes, --json everywhere it prints data, and errors that say what to do.
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string_view>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "upstream/serf/payload.hpp"
#include "upstream/serf/regex_check.hpp"
#include "upstream/serf/sync_client.hpp"

namespace rig::cli {
namespace {

using json = nlohmann::ordered_json;
using serf::Errc;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using Clock = std::chrono::steady_clock;

const char* kSerfHelp = R"(usage: rigagent serf COMMAND [OPTIONS]      (rigagent serf COMMAND --help for each)

Talks to the Serf agent on this board over its RPC port, like the `serf` command line.

commands:
  members       the cluster's members: name, address, status, tags
  event         send a user event to the cluster
  query         ask the cluster; print the acks and responses as they arrive
  stream        print the cluster's events as they happen
  monitor       print the agent's log and the cluster's events as they happen
  tags          set or delete this agent's tags
  join          join a cluster through one or more of its agents
  leave         make the agent leave the cluster and shut down
  force-leave   mark a failed node as left
  info          the agent's statistics
  rtt           the estimated round trip time between two nodes
  keys          the cluster's encryption keys: list, install, use, remove

Options of every command:
  --rpc-addr ADDR    the agent's RPC address, host:port (default: $SERF_RPC_ADDR, else
                     127.0.0.1:7373)
  --rpc-auth TOKEN   the agent's rpc_auth token (default: $SERF_RPC_AUTH)
  --timeout DUR      give up on a call after DUR: 500ms, 2s, 1m (default 10s; join, leave and
                     keys 60s; for query it is the query's own timeout)
  --help             the command's own options

Exit codes: 0 ok, 1 the agent refused or the operation failed, 2 bad command line (also an
argument the agent cannot take: a bad regex, a payload over its size limit), 3 the agent
refused the RPC token (missing or wrong), 5 the agent cannot be reached or did not answer in time.
)";

struct Command {
  const char* name;
  const char* usage;  // one line, shown with every usage error
  const char* help;   // what follows it in --help
};

const Command kCommands[] = {
    {"members", "rigagent serf members [--name RE] [--status RE] [--tag K=RE ...] [--detailed] [--json]",
     R"(
The cluster's members as this agent sees them, one a line: name, gossip address, status, tags.
Filters are regular expressions (Go/RE2 syntax) that must match the whole value; with several,
a member must match them all.

  --name RE        only members whose name matches
  --status RE      only members whose status matches (alive, leaving, left, failed)
  --tag K=RE       only members with tag K matching RE (repeatable)
  --detailed       also the memberlist protocol and Serf delegate versions
  --json           a JSON array: name, addr, port, status, tags, protocol {min, max, cur},
                   delegate {min, max, cur}
)"},
    {"event", "rigagent serf event [--no-coalesce] [--payload-file FILE] NAME [PAYLOAD|-]",
     R"(
Sends a user event to the whole cluster. The payload is PAYLOAD, the content of FILE, or
standard input with `-`; name and payload together may be 512 bytes at most.

  --no-coalesce        deliver every event, even when several of the same name arrive together
  --payload-file FILE  the payload is this file's content
)"},
    {"query", "rigagent serf query [--timeout DUR] [--node NAME ...] [--tag K=RE ...] [--no-ack] [--relay-factor N] [--json] [--payload-file FILE] NAME [PAYLOAD|-]",
     R"(
Asks the cluster (or the nodes the filters select) and prints each acknowledgement and response
as it arrives, then the totals. The query ends at its timeout, even when everyone answered.

  --timeout DUR        how long the query runs (default: the agent's, 3.2 s on a small cluster)
  --node NAME          ask only this node (repeatable)
  --tag K=RE           ask only nodes whose tag K matches RE (repeatable)
  --no-ack             do not ask the nodes to acknowledge
  --relay-factor N     each response is also relayed through N other nodes (0 to 255)
  --payload-file FILE  the payload is this file's content (`-` as PAYLOAD: standard input)
  --json               one JSON object a line: {"type": "ack"|"response", "from", "payload"},
                       then {"type": "done", "acks", "responses"}
)"},
    {"stream", "rigagent serf stream [--filter TYPES] [--json] [--count N] [--duration DUR]",
     R"(
Prints the cluster's events as this agent receives them, until Ctrl-C, N records or DUR.

  --filter TYPES   which events, comma-separated: member-join, member-leave, member-failed,
                   member-update, member-reap, user, user:NAME, query, query:NAME, * (default *)
  --json           one JSON object a line: {"event": "user", "name", "payload", "ltime",
                   "coalesce"}, {"event": "member-join", "members": [...]}, {"event": "query",
                   "name", "payload", "id", "ltime"}
  --count N        stop after N records
  --duration DUR   stop after DUR (500ms, 10s, 1m)
)"},
    {"monitor", "rigagent serf monitor [--log-level LEVEL] [--filter TYPES] [--json] [--count N] [--duration DUR]",
     R"(
Prints the agent's log (starting with up to 512 recent lines) and the cluster's events, until
Ctrl-C, N records (lines and events) or DUR.

  --log-level LEVEL  trace, debug, info (default), warn or err
  --filter TYPES     which events (see rigagent serf stream --help; default *)
  --json             one JSON object a line: {"log": LINE} and the events as `stream --json`
  --count N          stop after N records
  --duration DUR     stop after DUR
)"},
    {"tags", "rigagent serf tags [--set K=V ...] [--delete K ...]",
     R"(
Sets and deletes this agent's tags; the cluster sees a member-update.

  --set K=V      set tag K to V (repeatable)
  --delete K     delete tag K (repeatable; deleting a tag that is not set is fine)
)"},
    {"join", "rigagent serf join [--replay] ADDR...",
     R"(
Makes the agent join the cluster of the agents at ADDR (host or host:port, gossip port 7946 by
default). It succeeds when at least one answered.

  --replay       also replay the user events the cluster remembers
)"},
    {"leave", "rigagent serf leave",
     R"(
Makes the agent leave the cluster gracefully and shut down.
)"},
    {"force-leave", "rigagent serf force-leave [--prune] NODE",
     R"(
Marks the failed node NODE as left, so the cluster stops trying to reach it.

  --prune        also remove it from the member list at once
)"},
    {"info", "rigagent serf info [--json]",
     R"(
The agent's statistics: its name, the runtime, the cluster's health and its tags.

  --json         the statistics as a JSON object of objects
)"},
    {"rtt", "rigagent serf rtt NODE [NODE2]",
     R"(
The round trip time between NODE and NODE2 (default: this agent) estimated from the cluster's
network coordinates.
)"},
    {"keys", "rigagent serf keys --list [--json] | --install KEY | --use KEY | --remove KEY",
     R"(
The cluster's gossip encryption keys (base64, as `serf keygen` makes them). Only an encrypted
cluster (serf agent -encrypt) has a keyring. Each operation asks every node.

  --list         the installed keys and how many nodes hold each
  --install KEY  install KEY on every node (it is not used yet)
  --use KEY      make KEY (installed) the key that encrypts
  --remove KEY   remove KEY (not the one in use)
  --json         with --list: {"keys": {KEY: NODES}, "nodes": N}
)"},
};

const Command* find_command(std::string_view name) {
  for (const auto& c : kCommands)
    if (name == c.name) return &c;
  return nullptr;
}

// --- the command line ----------------------------------------------------------------------

// Go's duration syntax (what the serf CLI takes): a sequence of number+unit, "1m30s", "500ms";
// a bare number is seconds, like the other rigagent commands' --timeout.
std::optional<nanoseconds> parse_duration(const std::string& text) {
  if (auto seconds = parse_double(text)) {
    if (*seconds < 0 || *seconds > 86400) return std::nullopt;
    return nanoseconds(static_cast<int64_t>(*seconds * 1e9));
  }
  double total = 0;
  size_t i = 0;
  if (text.empty()) return std::nullopt;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && (std::isdigit(static_cast<unsigned char>(text[j])) || text[j] == '.')) ++j;
    auto number = parse_double(text.substr(i, j - i));
    if (!number) return std::nullopt;
    size_t k = j;
    while (k < text.size() && std::isalpha(static_cast<unsigned char>(text[k]))) ++k;
    const std::string unit = text.substr(j, k - j);
    double scale = 0;
    if (unit == "ns") scale = 1;
    else if (unit == "us") scale = 1e3;
    else if (unit == "ms") scale = 1e6;
    else if (unit == "s") scale = 1e9;
    else if (unit == "m") scale = 60e9;
    else if (unit == "h") scale = 3600e9;
    else return std::nullopt;
    total += *number * scale;
    i = k;
  }
  if (total > 86400e9) return std::nullopt;
  return nanoseconds(static_cast<int64_t>(total));
}

// The common options, and the usage errors of the command line collected in one place.
class Line {
 public:
  Line(const Command& cmd, Args& args) : cmd_(cmd), args_(args) {}

  int usage(const std::string& why) const {
    std::fprintf(stderr, "rigagent serf %s: %s\nusage: %s\n(see rigagent serf %s --help)\n", cmd_.name, why.c_str(),
                 cmd_.usage, cmd_.name);
    return exit_code::usage;
  }

  std::optional<nanoseconds> duration(const std::string& option) {
    auto text = args_.value(option);
    if (!text) return std::nullopt;
    auto d = parse_duration(*text);
    if (!d || d->count() <= 0) bad(option + ": expected a duration such as 500ms, 2s or 1m, got '" + *text + "'");
    return d;
  }

  std::optional<int64_t> integer(const std::string& option, int64_t min, int64_t max) {
    auto text = args_.value(option);
    if (!text) return std::nullopt;
    auto v = parse_int(*text);
    if (!v || *v < min || *v > max)
      bad(option + ": expected a number from " + std::to_string(min) + " to " + std::to_string(max) + ", got '" + *text + "'");
    return v;
  }

  // K=V pairs of a repeatable option; `regex` checks each V as a filter pattern.
  serf::Tags pairs(const std::string& option, bool regex) {
    serf::Tags out;
    for (const auto& p : args_.values(option)) {
      const auto eq = p.find('=');
      if (eq == std::string::npos || eq == 0) {
        bad(option + ": expected K=" + (regex ? "REGEX" : "VALUE") + ", got '" + p + "'");
        continue;
      }
      const std::string key = p.substr(0, eq), value = p.substr(eq + 1);
      if (out.count(key)) bad(option + ": tag '" + key + "' given twice");
      if (regex) check(option + " " + key, value);
      out[key] = value;
    }
    return out;
  }

  void check(const std::string& what, const std::string& pattern) {
    if (auto r = serf::check_regex(pattern); !r) bad(what + ": '" + pattern + "' is not a valid regular expression: " + r.error().message);
  }

  void bad(std::string why) {
    if (!error_) error_ = std::move(why);
  }
  const std::optional<std::string>& error() const { return error_; }

 private:
  const Command& cmd_;
  Args& args_;
  std::optional<std::string> error_;
};

// --- talking to the agent -------------------------------------------------------------------

// The agent's multi-line errors (join's "1 error occurred:\n\t* ...") on one line.
std::string one_line(const std::string& text) {
  std::string out;
  bool space = false;
  for (char ch : text) {
    if (ch == '\n' || ch == '\t' || ch == '\r' || ch == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += ch;
  }
  return out;
}

struct Agent {
  const Command* cmd = nullptr;
  serf::Options options;
  serf::Timeout timeout;  // --timeout as a per-call deadline, when given
  std::unique_ptr<serf::SyncClient> client;

  const std::string& address() const { return options.address; }

  // One line naming the agent, what went wrong and what to do about it; the exit code that goes
  // with it.
  int fail(const Error& e, const std::string& doing) const {
    const auto code = static_cast<Errc>(e.code);
    std::string hint;
    int exit = exit_code::failure;
    switch (code) {
      case Errc::connect:
        hint = "is the Serf agent running? --rpc-addr or SERF_RPC_ADDR names another address";
        exit = exit_code::timeout;
        break;
      case Errc::closed:
      case Errc::not_connected:
      case Errc::cancelled:
        hint = "did the agent stop?";
        exit = exit_code::timeout;
        break;
      case Errc::timeout:
        hint = "--timeout allows longer";
        exit = exit_code::timeout;
        break;
      case Errc::auth:
        // The client's own wording names the agent's configuration keys; say what to do here.
        std::fprintf(stderr, "rigagent serf %s: the Serf agent at %s %s (set --rpc-auth or SERF_RPC_AUTH to its rpc_auth)\n",
                     cmd->name, address().c_str(),
                     options.auth_key.empty() ? "wants an RPC token" : "refused the RPC token: the token is wrong");
        return exit_code::config;
      case Errc::invalid_argument:
      case Errc::too_large:
        exit = exit_code::usage;
        break;
      case Errc::protocol:
        hint = "is that address a Serf agent's RPC port?";
        break;
      default:
        break;
    }
    // Most of the client's messages name the agent already.
    const std::string message = one_line(e.message);
    const std::string what = message.find(address()) != std::string::npos
                                 ? message
                                 : doing + " the Serf agent at " + address() + ": " + message;
    std::fprintf(stderr, "rigagent serf %s: %s%s\n", cmd->name, what.c_str(), hint.empty() ? "" : (" (" + hint + ")").c_str());
    return exit;
  }

  int connect() {
    auto c = serf::SyncClient::connect(options);
    if (!c) return fail(c.error(), "cannot talk to");
    client = std::move(*c);
    return exit_code::ok;
  }
};

// host:port or [v6]:port. Checked here so that a typo is a usage error before any connection.
std::optional<std::string> address_problem(const std::string& address) {
  const std::string why = "the Serf agent's RPC address '" + address + "' is not host:port or [v6]:port (--rpc-addr or SERF_RPC_ADDR)";
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return why;
  const std::string host = address.substr(0, colon);
  if (host.front() == '[' ? host.size() < 3 || host.back() != ']' : host.find(':') != std::string::npos) return why;
  const auto port = parse_int(address.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return why;
  return std::nullopt;
}

// Reads --rpc-addr, --rpc-auth and (unless the command has its own) --timeout.
void read_agent_options(Args& args, Line& line, Agent& agent, bool timeout_is_per_call) {
  agent.options = serf::options_from_environment(serf::Options{});
  if (auto a = args.value("--rpc-addr")) agent.options.address = *a;
  if (auto t = args.value("--rpc-auth")) agent.options.auth_key = *t;
  if (auto problem = address_problem(agent.options.address)) line.bad(*problem);
  if (timeout_is_per_call) {
    if (auto t = line.duration("--timeout")) {
      const auto ms = std::max<milliseconds>(milliseconds(1), std::chrono::duration_cast<milliseconds>(*t));
      agent.timeout = ms;
      agent.options.connect_timeout = ms;
    }
  }
}

Expected<serf::Bytes> read_file(FILE* f, const std::string& name) {
  serf::Bytes out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  if (std::ferror(f)) return make_error("cannot read " + name + ": " + std::strerror(errno));
  return out;
}

// The payload from PAYLOAD, `-` (standard input) or --payload-file.
Expected<serf::Bytes> read_payload(const std::optional<std::string>& positional, const std::optional<std::string>& file) {
  if (positional && file) return make_error("give the payload either as PAYLOAD or with --payload-file, not both");
  if (file) {
    FILE* f = std::fopen(file->c_str(), "rb");
    if (!f) return make_error("--payload-file: cannot open " + *file + ": " + std::strerror(errno));
    auto r = read_file(f, *file);
    std::fclose(f);
    return r;
  }
  if (positional && *positional == "-") return read_file(stdin, "standard input");
  return positional ? *positional : serf::Bytes();
}

// --- printing -------------------------------------------------------------------------------

std::string address_of(const serf::Member& m) {
  const bool v6 = m.addr.find(':') != std::string::npos;
  return (v6 ? "[" + m.addr + "]" : m.addr) + ":" + std::to_string(m.port);
}

std::string tags_text(const serf::Tags& tags) {
  std::string out;
  for (const auto& [k, v] : tags) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out;
}

json member_json(const serf::Member& m) {
  return json{{"name", m.name},
              {"addr", m.addr},
              {"port", m.port},
              {"status", m.status},
              {"tags", m.tags},
              {"protocol", {{"min", m.protocol_min}, {"max", m.protocol_max}, {"cur", m.protocol_cur}}},
              {"delegate", {{"min", m.delegate_min}, {"max", m.delegate_max}, {"cur", m.delegate_cur}}}};
}

json record_json(const serf::StreamRecord& record) {
  if (const auto* u = std::get_if<serf::UserEvent>(&record))
    return json{{"event", "user"}, {"name", u->name}, {"payload", serf::payload::printable(u->payload)}, {"ltime", u->ltime},
                {"coalesce", u->coalesce}};
  if (const auto* q = std::get_if<serf::QueryEvent>(&record))
    return json{{"event", "query"}, {"name", q->name}, {"payload", serf::payload::printable(q->payload)}, {"id", q->id},
                {"ltime", q->ltime}};
  const auto& me = std::get<serf::MemberEvent>(record);
  json members = json::array();
  for (const auto& m : me.members) members.push_back(member_json(m));
  return json{{"event", me.type}, {"members", members}};
}

std::string record_text(const serf::StreamRecord& record) {
  if (const auto* u = std::get_if<serf::UserEvent>(&record))
    return "user event '" + u->name + "' (ltime " + std::to_string(u->ltime) + (u->coalesce ? ", coalesced" : "") +
           "): " + serf::payload::printable(u->payload);
  if (const auto* q = std::get_if<serf::QueryEvent>(&record))
    return "query '" + q->name + "' id " + std::to_string(q->id) + " (ltime " + std::to_string(q->ltime) +
           "): " + serf::payload::printable(q->payload);
  const auto& me = std::get<serf::MemberEvent>(record);
  std::string out = me.type + ":";
  for (size_t i = 0; i < me.members.size(); ++i) {
    const auto& m = me.members[i];
    out += (i ? ", " : " ") + m.name + " " + address_of(m) + " " + m.status;
    if (!m.tags.empty()) out += " " + tags_text(m.tags);
  }
  return out;
}

// Names and log lines come from the network: never let a stray byte abort the output.
std::string dump(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

void print_line(const std::string& text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

// Columns as wide as their widest cell, two spaces apart; the last one unpadded.
void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, 0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    print_line(line);
  }
}

// --- following streams ----------------------------------------------------------------------

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

void catch_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

struct Follow {
  bool as_json = false;
  std::optional<int64_t> count;
  std::optional<nanoseconds> duration;
};

// Prints the stream's records (and the monitor's lines) until a signal, the count or the
// duration; an exit code.
int follow(Agent& agent, serf::StreamSubscription& stream, serf::MonitorSubscription* monitor, const Follow& f) {
  const auto deadline = f.duration ? Clock::now() + *f.duration : Clock::time_point::max();
  int64_t seen = 0;
  auto done = [&] { return g_stop.load() || (f.count && seen >= *f.count) || Clock::now() >= deadline; };
  auto wait_for = [&](milliseconds most) {
    if (deadline == Clock::time_point::max()) return most;
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) + milliseconds(1);
    return std::clamp(left, milliseconds(0), most);
  };
  while (!done()) {
    // With both open, the stream is looked at without waiting between waits on the monitor, so
    // an event waits at most 10 ms behind a quiet log.
    if (auto r = stream.next(monitor ? milliseconds(0) : wait_for(milliseconds(50)))) {
      print_line(f.as_json ? dump(record_json(*r)) : record_text(*r));
      ++seen;
      continue;
    }
    if (monitor) {
      if (auto l = monitor->next(wait_for(milliseconds(10)))) {
        print_line(f.as_json ? dump(json{{"log", *l}}) : *l);
        ++seen;
        continue;
      }
    }
    std::optional<Error> gone;
    if (stream.ended()) gone = stream.end_error();
    else if (monitor && monitor->ended()) gone = monitor->end_error();
    if (stream.ended() || (monitor && monitor->ended())) {
      if (!gone) gone = make_error("the subscription ended", static_cast<int>(Errc::closed));
      return agent.fail(*gone, "lost");
    }
  }
  const uint64_t dropped = stream.dropped() + (monitor ? monitor->dropped() : 0);
  stream.stop();
  if (monitor) monitor->stop();
  if (dropped)
    std::fprintf(stderr, "rigagent serf %s: %llu records were dropped because the output was too slow\n", agent.cmd->name,
                 static_cast<unsigned long long>(dropped));
  return exit_code::ok;
}

// --- the commands ---------------------------------------------------------------------------

int cmd_members(Args& args, Line& line, Agent& agent) {
  serf::MemberFilter filter;
  if (auto n = args.value("--name")) line.check("--name", filter.name = *n);
  if (auto s = args.value("--status")) line.check("--status", filter.status = *s);
  filter.tags = line.pairs("--tag", true);
  const bool detailed = args.flag("--detailed");
  const bool as_json = args.flag("--json");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  if (int rc = agent.connect()) return rc;

  const bool filtered = !filter.name.empty() || !filter.status.empty() || !filter.tags.empty();
  auto members = filtered ? agent.client->members_filtered(filter, agent.timeout) : agent.client->members(agent.timeout);
  if (!members) return agent.fail(members.error(), "cannot list the members of");
  if (as_json) {
    json out = json::array();
    for (const auto& m : *members) out.push_back(member_json(m));
    print_line(dump(out, 2));
    return exit_code::ok;
  }
  std::vector<std::vector<std::string>> rows{{"NAME", "ADDRESS", "STATUS", "TAGS"}};
  if (detailed) rows[0].insert(rows[0].end(), {"PROTOCOL", "DELEGATE"});
  for (const auto& m : *members) {
    rows.push_back({m.name, address_of(m), m.status, tags_text(m.tags)});
    if (detailed) {
      auto version = [](int cur, int min, int max) {
        return std::to_string(cur) + " [" + std::to_string(min) + "-" + std::to_string(max) + "]";
      };
      if (rows.back()[3].empty()) rows.back()[3] = "-";
      rows.back().push_back(version(m.protocol_cur, m.protocol_min, m.protocol_max));
      rows.back().push_back(version(m.delegate_cur, m.delegate_min, m.delegate_max));
    }
  }
  print_table(rows);
  return exit_code::ok;
}

int cmd_event(Args& args, Line& line, Agent& agent) {
  const bool coalesce = !args.flag("--no-coalesce");
  auto file = args.value("--payload-file");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (pos.empty() || pos.size() > 2) return line.usage(pos.empty() ? "say which event: NAME" : "too many arguments");
  if (pos[0].empty()) return line.usage("the event's NAME is empty");
  auto payload = read_payload(pos.size() == 2 ? std::optional(pos[1]) : std::nullopt, file);
  if (!payload) return line.usage(payload.error().message);
  if (int rc = agent.connect()) return rc;
  if (auto r = agent.client->event(pos[0], *payload, coalesce, agent.timeout); !r)
    return agent.fail(r.error(), "event '" + pos[0] + "' refused by");
  std::printf("event '%s' sent (%zu byte payload, %s)\n", pos[0].c_str(), payload->size(),
              coalesce ? "coalescing" : "not coalescing");
  return exit_code::ok;
}

int cmd_query(Args& args, Line& line, Agent& agent) {
  serf::QueryParams q;
  if (auto t = line.duration("--timeout")) q.timeout = *t;
  q.filter_nodes = args.values("--node");
  q.filter_tags = line.pairs("--tag", true);
  q.request_ack = !args.flag("--no-ack");
  if (auto r = line.integer("--relay-factor", 0, 255)) q.relay_factor = static_cast<uint8_t>(*r);
  const bool as_json = args.flag("--json");
  auto file = args.value("--payload-file");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (pos.empty() || pos.size() > 2) return line.usage(pos.empty() ? "say which query: NAME" : "too many arguments");
  if (pos[0].empty()) return line.usage("the query's NAME is empty");
  auto payload = read_payload(pos.size() == 2 ? std::optional(pos[1]) : std::nullopt, file);
  if (!payload) return line.usage(payload.error().message);
  q.name = pos[0];
  q.payload = *payload;
  if (int rc = agent.connect()) return rc;

  // As `serf query`, once the agent took the query: at its first record, or at "done".
  std::atomic<bool> dispatched{false};
  auto say_dispatched = [&] {
    if (!as_json && !dispatched.exchange(true)) print_line("Query '" + q.name + "' dispatched");
  };
  // Runs on the client's io thread while this one waits for "done".
  auto on_record = [as_json, &say_dispatched](const serf::QueryRecord& r) {
    say_dispatched();
    const bool ack = r.type == serf::QueryRecord::Type::ack;
    if (as_json) {
      print_line(dump(json{{"type", ack ? "ack" : "response"}, {"from", r.from}, {"payload", serf::payload::printable(r.payload)}}));
    } else {
      // As `serf query`: a responder's trailing newline (a shell script's echo) is not shown.
      serf::Bytes p = r.payload;
      if (!p.empty() && p.back() == '\n') p.pop_back();
      print_line(ack ? "Ack from '" + r.from + "'" : "Response from '" + r.from + "': " + serf::payload::printable(p));
    }
  };
  auto summary = agent.client->query(q, on_record);
  if (!summary) return agent.fail(summary.error(), "query '" + q.name + "' failed on");
  say_dispatched();
  if (as_json) {
    print_line(dump(json{{"type", "done"}, {"acks", summary->acks}, {"responses", summary->responses}}));
  } else {
    if (q.request_ack) print_line("Total Acks: " + std::to_string(summary->acks));
    print_line("Total Responses: " + std::to_string(summary->responses));
  }
  return exit_code::ok;
}

Follow follow_options(Args& args, Line& line) {
  Follow f;
  f.as_json = args.flag("--json");
  f.count = line.integer("--count", 1, INT64_MAX);
  f.duration = line.duration("--duration");
  return f;
}

int cmd_stream(Args& args, Line& line, Agent& agent, bool with_log) {
  std::string level = "info";
  if (with_log) {
    if (auto l = args.value("--log-level")) level = *l;
    std::string lower;
    for (char ch : level) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (lower != "trace" && lower != "debug" && lower != "info" && lower != "warn" && lower != "err")
      line.bad("--log-level: expected trace, debug, info, warn or err, got '" + level + "'");
  }
  const std::string filter = args.value("--filter").value_or("*");
  const Follow f = follow_options(args, line);
  auto pos = args.positionals();
  if (auto e = args.finish(); !e) return line.usage(e.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  // Every line reaches a pipe at once: tests and scripts follow this output as it comes.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  catch_stop_signals();
  if (int rc = agent.connect()) return rc;
  auto stream = agent.client->stream(filter, 4096, agent.timeout);
  if (!stream) return agent.fail(stream.error(), "cannot open the event stream '" + filter + "' of");
  std::unique_ptr<serf::MonitorSubscription> monitor;
  if (with_log) {
    auto m = agent.client->monitor(level, 4096, agent.timeout);
    if (!m) return agent.fail(m.error(), "cannot follow the log of");
    monitor = std::move(*m);
  }
  // On stderr, so that stdout stays records only: a person knows it works, a script knows when
  // the stream is open.
  std::fprintf(stderr, "rigagent serf %s: following the Serf agent at %s (Ctrl-C stops)\n", agent.cmd->name, agent.address().c_str());
  return follow(agent, **stream, monitor.get(), f);
}

int cmd_tags(Args& args, Line& line, Agent& agent) {
  const serf::Tags set = line.pairs("--set", false);
  const auto remove = args.values("--delete");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  if (set.empty() && remove.empty()) return line.usage("say what to change: --set K=V or --delete K");
  for (const auto& k : remove)
    if (set.count(k)) return line.usage("tag '" + k + "' is both set and deleted");
  if (int rc = agent.connect()) return rc;
  if (auto r = agent.client->tags(set, remove, agent.timeout); !r) return agent.fail(r.error(), "cannot change the tags of");
  std::string deleted;
  for (const auto& k : remove) deleted += (deleted.empty() ? "" : ",") + k;
  std::string what;
  if (!set.empty()) what += " set " + tags_text(set);
  if (!remove.empty()) what += std::string(set.empty() ? "" : ";") + " deleted " + deleted;
  std::printf("tags updated:%s\n", what.c_str());
  return exit_code::ok;
}

int cmd_join(Args& args, Line& line, Agent& agent) {
  const bool replay = args.flag("--replay");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (pos.empty()) return line.usage("say whom to join: ADDR...");
  if (int rc = agent.connect()) return rc;
  auto n = agent.client->join(pos, replay, agent.timeout);
  if (!n) return agent.fail(n.error(), "join refused by");
  std::printf("joined the cluster through %lld of %zu node%s\n", static_cast<long long>(*n), pos.size(), pos.size() == 1 ? "" : "s");
  return exit_code::ok;
}

int cmd_leave(Args& args, Line& line, Agent& agent) {
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  if (int rc = agent.connect()) return rc;
  if (auto r = agent.client->leave(agent.timeout); !r) return agent.fail(r.error(), "leave failed on");
  std::printf("the agent at %s left the cluster and is shutting down\n", agent.address().c_str());
  return exit_code::ok;
}

int cmd_force_leave(Args& args, Line& line, Agent& agent) {
  const bool prune = args.flag("--prune");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (pos.size() != 1) return line.usage(pos.empty() ? "say which node: NODE" : "one node at a time");
  if (int rc = agent.connect()) return rc;
  if (auto r = agent.client->force_leave(pos[0], prune, agent.timeout); !r)
    return agent.fail(r.error(), "force-leave of '" + pos[0] + "' refused by");
  std::printf("node '%s' marked as left%s\n", pos[0].c_str(), prune ? " and pruned" : "");
  return exit_code::ok;
}

int cmd_info(Args& args, Line& line, Agent& agent) {
  const bool as_json = args.flag("--json");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  if (int rc = agent.connect()) return rc;
  auto stats = agent.client->stats(agent.timeout);
  if (!stats) return agent.fail(stats.error(), "cannot read the statistics of");
  if (as_json) {
    print_line(dump(json(*stats), 2));
    return exit_code::ok;
  }
  for (const auto& [section, values] : *stats) {
    std::printf("%s:\n", section.c_str());
    for (const auto& [k, v] : values) std::printf("  %s = %s\n", k.c_str(), v.c_str());
  }
  return exit_code::ok;
}

int cmd_rtt(Args& args, Line& line, Agent& agent) {
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (pos.empty() || pos.size() > 2) return line.usage(pos.empty() ? "say which node: NODE [NODE2]" : "too many arguments");
  if (int rc = agent.connect()) return rc;
  if (pos.size() == 1) {
    auto stats = agent.client->stats(agent.timeout);
    if (!stats) return agent.fail(stats.error(), "cannot learn the name of");
    auto name = (*stats)["agent"]["name"];
    if (name.empty()) return agent.fail(make_error("its statistics name no agent", static_cast<int>(Errc::remote)), "cannot learn the name of");
    pos.push_back(name);
  }
  serf::Coordinate coords[2];
  for (int i = 0; i < 2; ++i) {
    auto c = agent.client->get_coordinate(pos[i], agent.timeout);
    if (!c) return agent.fail(c.error(), "cannot read the coordinate of '" + pos[i] + "' from");
    if (!*c) {
      std::fprintf(stderr, "rigagent serf rtt: the agent at %s has no coordinate for node '%s' (is it a member? see rigagent serf members)\n",
                   agent.address().c_str(), pos[i].c_str());
      return exit_code::failure;
    }
    coords[i] = **c;
  }
  std::printf("Estimated %s <-> %s rtt: %.3f ms (using LAN coordinates)\n", pos[0].c_str(), pos[1].c_str(),
              serf::rtt_seconds(coords[0], coords[1]) * 1000.0);
  return exit_code::ok;
}

// What `serf keygen` makes: standard padded base64 of a 16, 24 or 32-byte key. Checked here so
// that a typo is a usage error, not a failure reported by every node.
std::optional<std::string> key_problem(const std::string& key) {
  static const std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t pad = 0;
  while (pad < 2 && pad < key.size() && key[key.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < key.size(); ++i)
    if (alphabet.find(key[i]) == std::string_view::npos) return "'" + key + "' is not base64 (make a key with `serf keygen`)";
  const size_t bytes = key.size() % 4 == 0 ? key.size() / 4 * 3 - pad : 0;
  if (bytes != 16 && bytes != 24 && bytes != 32)
    return "'" + key + "' is not the base64 of a 16, 24 or 32-byte key (make one with `serf keygen`)";
  return std::nullopt;
}

int cmd_keys(Args& args, Line& line, Agent& agent) {
  const bool list = args.flag("--list");
  auto install = args.value("--install");
  auto use = args.value("--use");
  auto remove = args.value("--remove");
  const bool as_json = args.flag("--json");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) return line.usage(f.error().message);
  if (line.error()) return line.usage(*line.error());
  if (!pos.empty()) return line.usage("unexpected argument '" + pos[0] + "'");
  const int ops = int(list) + int(bool(install)) + int(bool(use)) + int(bool(remove));
  if (ops != 1) return line.usage(ops ? "one of --list, --install, --use, --remove at a time" : "say what to do: --list, --install KEY, --use KEY or --remove KEY");
  if (as_json && !list) return line.usage("--json goes with --list");
  for (const auto& [option, key] : {std::pair{"--install", install}, std::pair{"--use", use}, std::pair{"--remove", remove}})
    if (key)
      if (auto problem = key_problem(*key)) return line.usage(std::string(option) + ": " + *problem);
  if (int rc = agent.connect()) return rc;

  Expected<serf::KeyResponse> r = make_error("");
  std::string what;
  if (list) r = agent.client->list_keys(agent.timeout), what = "list the keys";
  if (install) r = agent.client->install_key(*install, agent.timeout), what = "install the key";
  if (use) r = agent.client->use_key(*use, agent.timeout), what = "use the key";
  if (remove) r = agent.client->remove_key(*remove, agent.timeout), what = "remove the key";
  if (!r) return agent.fail(r.error(), "cannot " + what + " through");
  if (!r->error.empty() || r->num_err > 0) {
    std::string nodes;
    for (const auto& [node, message] : r->messages) nodes += "\n  " + node + ": " + message;
    std::fprintf(stderr, "rigagent serf keys: cannot %s: %s (agent %s)%s\n", what.c_str(),
                 r->error.empty() ? "some nodes failed" : r->error.c_str(), agent.address().c_str(), nodes.c_str());
    return exit_code::failure;
  }
  if (list) {
    if (as_json) {
      print_line(dump(json{{"keys", r->keys}, {"nodes", r->num_nodes}}, 2));
      return exit_code::ok;
    }
    std::vector<std::vector<std::string>> rows{{"KEY", "NODES"}};
    for (const auto& [key, n] : r->keys) rows.push_back({key, std::to_string(n) + "/" + std::to_string(r->num_nodes)});
    print_table(rows);
    return exit_code::ok;
  }
  std::printf("done: %s on %lld of %lld nodes\n", what.c_str(), static_cast<long long>(r->num_resp), static_cast<long long>(r->num_nodes));
  return exit_code::ok;
}

}  // namespace

int serf_main(int argc, char** argv, int first) {
  if (first >= argc) {
    std::fputs(kSerfHelp, stderr);
    return exit_code::usage;
  }
  const std::string_view name = argv[first];
  if (name == "--help" || name == "-h" || name == "help") {
    std::fputs(kSerfHelp, stdout);
    return exit_code::ok;
  }
  const Command* cmd = find_command(name);
  if (!cmd) {
    std::fprintf(stderr, "rigagent serf: unknown command '%s' (see rigagent serf --help)\n", argv[first]);
    return exit_code::usage;
  }
  Args args(argc, argv, first + 1);
  if (args.help_requested()) {
    std::printf("usage: %s\n%s", cmd->usage, cmd->help);
    std::printf("\nOptions of every rigagent serf command: --rpc-addr ADDR, --rpc-auth TOKEN, --timeout DUR\n"
                "(see rigagent serf --help).\n");
    return exit_code::ok;
  }
  Line line(*cmd, args);
  Agent agent;
  agent.cmd = cmd;
  const std::string_view c = cmd->name;
  read_agent_options(args, line, agent, c != "query");
  if (c == "members") return cmd_members(args, line, agent);
  if (c == "event") return cmd_event(args, line, agent);
  if (c == "query") return cmd_query(args, line, agent);
  if (c == "stream") return cmd_stream(args, line, agent, false);
  if (c == "monitor") return cmd_stream(args, line, agent, true);
  if (c == "tags") return cmd_tags(args, line, agent);
  if (c == "join") return cmd_join(args, line, agent);
  if (c == "leave") return cmd_leave(args, line, agent);
  if (c == "force-leave") return cmd_force_leave(args, line, agent);
  if (c == "info") return cmd_info(args, line, agent);
  if (c == "rtt") return cmd_rtt(args, line, agent);
  return cmd_keys(args, line, agent);
}

}  // namespace rig::cli
