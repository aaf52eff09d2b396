#include "core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cctype>
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

  JsonReader ls = top.section("laneswap");
  ls.boolean("enable", c.laneswap.enable);
  ls.string("url", c.laneswap.url);
  ls.string("service_name", c.laneswap.service_name);
  ls.string("service_id", c.laneswap.service_id);
  ls.number("interval", c.laneswap.interval, 0.1, 3600);
  if (const json* h = ls.raw("headers")) {
    if (!h->is_object()) {
      ls.fail("headers", std::string("expected an object of header names to values, got ") + json_type_name(*h));
    } else {
      for (auto it = h->begin(); it != h->end(); ++it) {
        const std::string& name = it.key();
        const bool token = !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) {
          return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("!#$%&'*+-.^_`|~", ch);
        });
        if (!token) ls.fail("headers." + name, "not a valid HTTP header name");
        else if (!it->is_string()) ls.fail("headers." + name, std::string("expected a string, got ") + json_type_name(*it));
        else if (it->get_ref<const std::string&>().find_first_of("\r\n") != std::string::npos)
          ls.fail("headers." + name, "a header value cannot contain a line break");
        else c.laneswap.headers.emplace_back(name, it->get<std::string>());
      }
    }
  }
  ls.string("ca_file", c.laneswap.ca_file);
  ls.boolean("verify_tls", c.laneswap.verify_tls);
  ls.integer("connect_timeout_ms", c.laneswap.connect_timeout_ms, 100, 600'000);
  ls.integer("request_timeout_ms", c.laneswap.request_timeout_ms, 100, 600'000);
  ls.boolean("report_progress", c.laneswap.report_progress);
  if (c.laneswap.enable && c.laneswap.url.empty()) ls.fail("url", "required when laneswap.enable is true");
  if (!c.laneswap.url.empty() && c.laneswap.url.rfind("http://", 0) != 0 && c.laneswap.url.rfind("https://", 0) != 0)
    ls.fail("url", "must start with http:// or https://");
  ls.finish();

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
  json headers = json::object();
  for (const auto& [k, v] : c.laneswap.headers) headers[k] = v;
  j["laneswap"] = {{"enable", c.laneswap.enable},
                   {"url", c.laneswap.url},
                   {"service_name", c.laneswap.service_name},
                   {"service_id", c.laneswap.service_id},
                   {"interval", c.laneswap.interval},
                   {"headers", headers},
                   {"ca_file", c.laneswap.ca_file},
                   {"verify_tls", c.laneswap.verify_tls},
                   {"connect_timeout_ms", c.laneswap.connect_timeout_ms},
                   {"request_timeout_ms", c.laneswap.request_timeout_ms},
                   {"report_progress", c.laneswap.report_progress}};
  return j;
}

}  // namespace rig
