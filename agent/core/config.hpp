// rigagent's configuration: a JSON file (docs/configuration.md), a built-in default, and a
// validator that names the offending key for an unknown key, a wrong type or a bad endpoint.
#pragma once

#include <cstdint>
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

struct Config {
  std::string board = "sim";
  std::string log_level = "info";
  RpcConfig rpc;
  AppLinkConfig app_link;
  HalConfig hal;
  LaneswapConfig laneswap;
};

// `source` names the text in messages (a path, or "built-in default").
Expected<Config> parse_config(std::string_view text, std::string_view source);
Expected<Config> load_config_file(const std::string& path);
nlohmann::ordered_json config_to_json(const Config& config);

}  // namespace rig
