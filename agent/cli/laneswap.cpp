// `rigagent laneswap`: a person on the board checking the LaneSwap monitor: is it up, what does
// it say about this rig, send one heartbeat by hand.
#include <cstdio>
#include <ctime>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "core/config.hpp"
#include "core/out.hpp"
#include "upstream/laneswap/client.hpp"
#include "upstream/laneswap/reporter.hpp"

namespace rig::cli {
namespace {

using laneswap::json;

const char* kLaneswapHelp = R"(usage: rigagent laneswap status [OPTIONS]       the server's health and this rig's record
       rigagent laneswap services [OPTIONS]     every service the server knows, and a summary
       rigagent laneswap heartbeat [STATUS] [--message TEXT] [OPTIONS]
                                                send one heartbeat (registering if the server
                                                does not know the service)

STATUS is healthy (default), warning, degraded, error, busy, idle or shutdown (idle and
shutdown go on the wire as healthy/unknown with a lifecycle key: LaneSwap servers refuse them).

Options:
  --config FILE      take the URL, service id, headers and CA file from this configuration's
                     "laneswap" section (what the agent uses)
  --url URL          the LaneSwap server, e.g. http://monitor.lab:8000 (overrides --config)
  --service-id ID    the service (default: the agent's own: laneswap.service_id, else
                     rig-<machine-id>)
  --header 'K: V'    send this header on every request (repeatable), e.g. an Authorization
  --ca-file FILE     CA bundle for an https server
  --insecure         do not verify the server's certificate (lab debugging only)
  --timeout SEC      per request (default 10)
  --json             print the server's JSON

Exit codes: 0 ok, 1 the server answered with an error (unknown service, invalid status,
server error), 2 bad command line, 3 invalid configuration, 5 unreachable or no answer in time.
)";

int exit_for(const Error& e) {
  const auto c = laneswap::errc(e);
  return c == laneswap::Errc::unreachable || c == laneswap::Errc::timeout ? exit_code::timeout : exit_code::failure;
}

std::string ago(const std::optional<laneswap::TimePoint>& t) {
  if (!t) return "never";
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now() - *t).count();
  if (s < 120) return std::to_string(s) + " s ago";
  if (s < 7200) return std::to_string(s / 60) + " min ago";
  return std::to_string(s / 3600) + " h ago";
}

void print_service(const laneswap::ServiceInfo& s) {
  std::printf("service %s (%s): %s%s%s, last heartbeat %s\n", s.id.c_str(), s.name.c_str(), s.status.c_str(),
              s.message ? ", " : "", s.message ? s.message->c_str() : "", ago(s.last_heartbeat).c_str());
  if (!s.metadata.empty()) std::printf("  metadata %s\n", s.metadata.dump().c_str());
}

}  // namespace

int laneswap_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kLaneswapHelp, stdout);
    return exit_code::ok;
  }
  auto config_path = args.value("--config");
  auto url = args.value("--url");
  auto service_id = args.value("--service-id");
  auto headers = args.values("--header");
  auto ca_file = args.value("--ca-file");
  const bool insecure = args.flag("--insecure");
  auto timeout_text = args.value("--timeout");
  auto message = args.value("--message");
  const bool as_json = args.flag("--json");
  auto pos = args.positionals();
  auto usage = [](const std::string& why) {
    std::fprintf(stderr, "rigagent laneswap: %s\n(see rigagent laneswap --help)\n", why.c_str());
    return exit_code::usage;
  };
  if (auto f = args.finish(); !f) return usage(f.error().message);
  if (pos.empty()) return usage("say what to do: status, services or heartbeat");

  LaneswapConfig lc;
  std::string identifier = RpcConfig{}.identifier;
  if (config_path) {
    auto cfg = load_config_file(*config_path);
    if (!cfg) {
      std::fprintf(stderr, "rigagent: %s\n", cfg.error().message.c_str());
      return exit_code::config;
    }
    lc = cfg->laneswap;
    identifier = cfg->rpc.identifier;
  }
  if (url) lc.url = *url;
  if (service_id) lc.service_id = *service_id;
  if (ca_file) lc.ca_file = *ca_file;
  if (insecure) lc.verify_tls = false;
  for (const auto& h : headers) {
    const auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) return usage("--header: expected 'Name: value', got '" + h + "'");
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    lc.headers.emplace_back(h.substr(0, colon), value);
  }
  if (lc.url.empty()) return usage("no server: give --url URL, or --config FILE with laneswap.url");
  std::chrono::milliseconds timeout(10'000);
  if (timeout_text) {
    auto t = parse_double(*timeout_text);
    if (!t || *t <= 0 || *t > 600) return usage("--timeout: expected seconds, more than 0");
    timeout = std::chrono::milliseconds(static_cast<int64_t>(*t * 1000));
  }
  auto options = laneswap::client_options(lc, identifier);
  options.request_timeout = timeout;
  auto client = laneswap::SyncClient::create(options);
  if (!client) {
    std::fprintf(stderr, "rigagent laneswap: %s\n", client.error().message.c_str());
    return exit_code::usage;
  }
  auto& c = **client;
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "rigagent laneswap: %s\n", e.message.c_str());
    return exit_for(e);
  };

  const std::string& op = pos[0];
  if (op == "status" && pos.size() == 1) {
    auto h = c.health(timeout);
    if (!h) return fail(h.error());
    auto s = c.get_service(options.service_id, timeout);
    if (as_json) {
      stdio::out(json{{"health", *h}, {"service", s ? s->raw : json()}}.dump(2) + "\n");
    } else {
      std::printf("server %s: %s (%s)\n", c.async().where().c_str(), h->value("status", std::string("?")).c_str(),
                  h->value("service", std::string("?")).c_str());
      if (s) print_service(*s);
    }
    if (!s && laneswap::errc(s.error()) == laneswap::Errc::service_not_found) {
      std::printf("service %s: not registered with this server (is the agent running with laneswap enabled?)\n",
                  options.service_id.c_str());
      return exit_code::failure;
    }
    return s ? exit_code::ok : fail(s.error());
  }
  if (op == "services" && pos.size() == 1) {
    auto l = c.get_all_services(timeout);
    if (!l) return fail(l.error());
    if (as_json) {
      json out = json::object();
      for (const auto& [id, s] : l->services) out[id] = s.raw;
      stdio::out(out.dump(2) + "\n");
      return exit_code::ok;
    }
    std::printf("%-40s %-24s %-9s %-14s %s\n", "ID", "NAME", "STATUS", "HEARTBEAT", "MESSAGE");
    for (const auto& [id, s] : l->services)
      std::printf("%-40s %-24s %-9s %-14s %s\n", id.c_str(), s.name.c_str(), s.status.c_str(), ago(s.last_heartbeat).c_str(),
                  s.message.value_or("").c_str());
    std::string counts;
    for (const auto& [k, v] : l->status_counts)
      if (v) counts += (counts.empty() ? "" : ", ") + std::to_string(v) + " " + k;
    std::printf("%lld services%s%s\n", static_cast<long long>(l->total), counts.empty() ? "" : ": ", counts.c_str());
    return exit_code::ok;
  }
  if (op == "heartbeat" && pos.size() <= 2) {
    laneswap::Status status = laneswap::Status::healthy;
    if (pos.size() == 2) {
      auto s = laneswap::parse_status(pos[1]);
      if (!s) return usage("unknown status '" + pos[1] + "' (healthy, warning, degraded, error, busy, idle, shutdown)");
      status = *s;
    }
    auto r = c.send_heartbeat(status, message, json{{"sent_by", "rigagent laneswap heartbeat"}}, timeout);
    if (!r) return fail(r.error());
    if (as_json) stdio::out(r->raw.dump(2) + "\n");
    else print_service(*r);
    return exit_code::ok;
  }
  return usage("expected status, services or heartbeat [STATUS]");
}

}  // namespace rig::cli
