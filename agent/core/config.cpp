#include "core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/json_reader.hpp"
#include "core/log.hpp"

namespace rig {

using json = nlohmann::ordered_json;
Expected<Config> parse_config(std::string_view text, std::string_view source) {
  auto parsed = parse_json_document(text, source);
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  if (!doc.is_object()) return make_error(std::string(source) + ": the configuration must be a JSON object");

  Config c;
  std::vector<std::string> errors;
  JsonReader top(&doc, "", errors);
  top.string("board", c.board, false);
  top.string("log_level", c.log_level, false);
  if (!c.log_level.empty() && !log::parse_level(c.log_level)) errors.push_back("log_level: " + log::parse_level(c.log_level).error().message);

  JsonReader rpc = top.section("rpc");
  rpc.boolean("enable", c.rpc.enable);
  rpc.string("identifier", c.rpc.identifier, false);
  rpc.string("version", c.rpc.version);
  rpc.number("heartbeat_interval", c.rpc.heartbeat_interval, 0.01, 86400);
  rpc.endpoints("pub_endpoints", c.rpc.pub_endpoints);
  rpc.endpoints("command_endpoints", c.rpc.command_endpoints);
  rpc.integer("max_request_bytes", c.rpc.max_request_bytes, 64, 4 * 1024 * 1024);
  rpc.integer("queue_capacity", c.rpc.queue_capacity, 1, 10'000'000);
  rpc.integer("send_hwm", c.rpc.send_hwm, 0, 10'000'000);
  rpc.integer("stall_timeout_ms", c.rpc.stall_timeout_ms, 0, 600'000);
  rpc.integer("linger_ms", c.rpc.linger_ms, 0, 60'000);
  rpc.finish();

  JsonReader app = top.section("app_link");
  app.boolean("enable", c.app_link.enable);
  app.endpoint("endpoint", c.app_link.endpoint);
  app.integer("command_timeout_ms", c.app_link.command_timeout_ms, 1, 600'000);
  app.finish();

  JsonReader hal = top.section("hal");
  hal.string("control_socket", c.hal.control_socket);
  if (!c.hal.control_socket.empty() && c.hal.control_socket[0] != '/')
    hal.fail("control_socket", "must be an absolute path (or \"\" for none)");
  else if (c.hal.control_socket.size() > 107)
    hal.fail("control_socket", "a Unix socket path is at most 107 bytes");
  hal.finish();

  top.finish();
  if (auto ok = collected_errors(errors, source, "configuration"); !ok) return ok.error();
  return c;
}

Expected<Config> load_config_file(const std::string& path) {
  auto text = read_text_file(path, 1024 * 1024, "configuration file");
  if (!text) return text.error();
  return parse_config(*text, path);
}

nlohmann::ordered_json config_to_json(const Config& c) {
  json j;
  j["board"] = c.board;
  j["log_level"] = c.log_level;
  j["rpc"] = {{"enable", c.rpc.enable},
              {"identifier", c.rpc.identifier},
              {"version", c.rpc.version},
              {"heartbeat_interval", c.rpc.heartbeat_interval},
              {"pub_endpoints", c.rpc.pub_endpoints},
              {"command_endpoints", c.rpc.command_endpoints},
              {"max_request_bytes", c.rpc.max_request_bytes},
              {"queue_capacity", c.rpc.queue_capacity},
              {"send_hwm", c.rpc.send_hwm},
              {"stall_timeout_ms", c.rpc.stall_timeout_ms},
              {"linger_ms", c.rpc.linger_ms}};
  j["app_link"] = {{"enable", c.app_link.enable},
                   {"endpoint", c.app_link.endpoint},
                   {"command_timeout_ms", c.app_link.command_timeout_ms}};
  j["hal"] = {{"control_socket", c.hal.control_socket}};
  return j;
}

}  // namespace rig
