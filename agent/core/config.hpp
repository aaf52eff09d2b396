// rigagent's configuration: a JSON file (docs/configuration.md), a built-in default, and a
// validator that names the offending key for an unknown key, a wrong type or a bad endpoint.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"

namespace rig {

struct RpcConfig {
  bool enable = true;
  std::string identifier = "autotrainer-device";
  std::string version;  // empty: rigagent's own version
  double heartbeat_interval = 5.0;  // seconds
  std::vector<std::string> pub_endpoints{"tcp://127.0.0.1:5556"};
  std::vector<std::string> command_endpoints{"tcp://127.0.0.1:5557"};
  int64_t max_request_bytes = 256 * 1024;
  int64_t queue_capacity = 10000;
  int64_t send_hwm = 1000;
  int64_t stall_timeout_ms = 1000;
  int64_t linger_ms = 100;
};

struct AppLinkConfig {
  bool enable = true;
  std::string endpoint = "ipc:///tmp/rigagent-app.sock";
  int64_t command_timeout_ms = 2000;
};

struct HalConfig {
  // `rigagent hal` talks to the agent here; empty: no control socket.
  std::string control_socket = "/tmp/rigagent-hal.sock";
};

struct LaneswapConfig {
  bool enable = false;
  std::string url;           // http(s)://host:port of the LaneSwap monitor
  std::string service_name;  // empty: "rigagent-" + rpc.identifier
  std::string service_id;    // empty: "rig-" + /etc/machine-id (stable across restarts), else the host name
  double interval = 30;      // seconds between heartbeats; keep at most half the server's stale threshold
  std::vector<std::pair<std::string, std::string>> headers;  // sent on every request
  std::string ca_file;       // https: PEM bundle; empty: the system's
  bool verify_tls = true;
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 10000;
  bool report_progress = true;  // long commands as LaneSwap progress tasks
};

// rigagent as a member of a Serf cluster (docs/serf.md): node tags, rig events forwarded as
// user events, queries answered through the RpcService, user events mapped to local actions.
struct SerfConfig {
  bool enable = false;
  std::string rpc_addr = "127.0.0.1:7373";  // the local Serf agent's RPC address (host:port, [v6]:port)
  std::string auth_key;                     // the agent's rpc_auth token; "" sends no auth
  std::string event_prefix = "rig-";        // of the user events sent and the queries answered
  std::vector<std::string> forward{"emergency", "alarm"};  // rig events sent as user events
  bool coalesce_alarms = false;             // emergencies are never coalesced
  std::string role = "rig";                 // the "role" node tag
  std::map<std::string, std::string> tags;  // extra node tags
  std::vector<std::string> queries{"status", "ping"};  // answered (the names without the prefix)
  std::map<std::string, std::string> on_event;          // user event name -> local action
  int64_t connect_timeout_ms = 5000;
  int64_t request_timeout_ms = 5000;
  int64_t reconnect_max_ms = 10000;
};

// What serf.queries, serf.forward and serf.on_event may name.
namespace serf_names {
inline constexpr const char* kQueries[] = {"status", "ping", "emergency-stop", "emergency-resume",
                                           "start-acquisition", "stop-acquisition", "get-configuration"};
inline constexpr const char* kForward[] = {"emergency", "alarm"};
inline constexpr const char* kActions[] = {"emergency-stop", "emergency-resume"};
// Node tags rigagent sets itself; serf.tags may not name them.
inline constexpr const char* kReservedTags[] = {"role", "board", "version", "rig", "emergency"};
// Serf's limit on a member's encoded tags (memberlist's MetaMaxSize).
inline constexpr size_t kMaxTagBytes = 512;
}  // namespace serf_names

// A name Serf carries safely in events, queries and stream filters: printable ASCII, no
// whitespace, no comma (the filter separator).
bool serf_safe_name(std::string_view name);
// The size of the encoded tags as Serf counts it against kMaxTagBytes: a magic byte and the
// msgpack map (Serf's Go codec writes strings as raw: 1-byte header under 32 bytes, else 3).
size_t serf_encoded_tags_size(const std::map<std::string, std::string>& tags);

struct Config {
  std::string board = "sim";
  std::string log_level = "info";
  RpcConfig rpc;
  AppLinkConfig app_link;
  HalConfig hal;
  LaneswapConfig laneswap;
  SerfConfig serf;
};

// `source` names the text in messages (a path, or "built-in default").
Expected<Config> parse_config(std::string_view text, std::string_view source);
Expected<Config> load_config_file(const std::string& path);
nlohmann::ordered_json config_to_json(const Config& config);

}  // namespace rig
