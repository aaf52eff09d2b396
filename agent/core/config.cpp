#include "core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <cmath>
#include <cstring>
#include <set>

#include "core/endpoint.hpp"
#include "core/json_reader.hpp"
#include "core/log.hpp"
#include "rigagent_version.hpp"

namespace rig {

using json = nlohmann::ordered_json;

bool serf_safe_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char ch) { return ch > ' ' && ch < 127 && ch != ','; });
}

size_t serf_encoded_tags_size(const std::map<std::string, std::string>& tags) {
  auto str = [](size_t n) { return (n < 32 ? 1 : n < 65536 ? 3 : 5) + n; };
  size_t size = 1 + (tags.size() < 16 ? 1 : 3);  // the magic byte, the map header
  for (const auto& [k, v] : tags) size += str(k.size()) + str(v.size());
  return size;
}

namespace {

template <size_t N>
bool one_of(const std::string& s, const char* const (&set)[N]) {
  return std::any_of(std::begin(set), std::end(set), [&](const char* x) { return s == x; });
}

template <size_t N>
std::string listed(const char* const (&set)[N]) {
  std::string list;
  for (const char* x : set) list += (list.empty() ? "\"" : ", \"") + std::string(x) + "\"";
  return list;
}

const char* kSafeName = "must be printable ASCII without spaces or commas";

// An array of distinct names, each from `set` (when given) or Serf-safe.
template <size_t N>
void name_list(JsonReader& r, const char* key, std::vector<std::string>& out, const char* const (&set)[N]) {
  const json* v = r.raw(key);
  if (!v) return;
  if (!v->is_array()) return r.fail(key, std::string("expected an array of names, got ") + json_type_name(*v));
  std::vector<std::string> names;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& e = (*v)[i];
    const std::string k = std::string(key) + "[" + std::to_string(i) + "]";
    if (!e.is_string()) return r.fail(k, std::string("expected a string, got ") + json_type_name(e));
    const std::string& name = e.get_ref<const std::string&>();
    if (!one_of(name, set)) return r.fail(k, "\"" + name + "\" is not one of " + listed(set));
    if (std::find(names.begin(), names.end(), name) != names.end()) return r.fail(k, "\"" + name + "\" is listed twice");
    names.push_back(name);
  }
  out = std::move(names);
}

// host:port or [v6]:port, for a connect.
Expected<void> check_host_port(const std::string& addr) {
  if (addr.find("://") != std::string::npos || !validate_connect_endpoint("tcp://" + addr))
    return make_error("'" + addr + "' is not HOST:PORT (an IPv6 address as [ADDR]:PORT; port 1-65535)");
  return {};
}

void read_serf(JsonReader& sf, const Config& c, SerfConfig& out) {
  sf.boolean("enable", out.enable);
  sf.string("rpc_addr", out.rpc_addr, false);
  if (sf.has("rpc_addr"))
    if (auto ok = check_host_port(out.rpc_addr); !ok) sf.fail("rpc_addr", ok.error().message);
  sf.string("auth_key", out.auth_key);
  sf.string("event_prefix", out.event_prefix);
  if (!out.event_prefix.empty() && !serf_safe_name(out.event_prefix)) sf.fail("event_prefix", kSafeName);
  else if (out.event_prefix.size() > 64) sf.fail("event_prefix", "is longer than 64 bytes");
  name_list(sf, "forward", out.forward, serf_names::kForward);
  sf.boolean("coalesce_alarms", out.coalesce_alarms);
  sf.string("role", out.role, false);
  if (!out.role.empty() && !serf_safe_name(out.role)) sf.fail("role", kSafeName);

  if (const json* t = sf.raw("tags")) {
    if (!t->is_object()) {
      sf.fail("tags", std::string("expected an object of tag names to values, got ") + json_type_name(*t));
    } else {
      for (auto it = t->begin(); it != t->end(); ++it) {
        const std::string key = "tags." + it.key();
        if (!serf_safe_name(it.key())) sf.fail(key, std::string("a tag name ") + kSafeName);
        else if (one_of(it.key(), serf_names::kReservedTags))
          sf.fail(key, "rigagent sets this tag itself" + std::string(it.key() == "role" ? " (use serf.role)" : ""));
        else if (!it->is_string()) sf.fail(key, std::string("expected a string, got ") + json_type_name(*it));
        else if (it->get_ref<const std::string&>().empty()) sf.fail(key, "must not be empty");
        else out.tags[it.key()] = it->get<std::string>();
      }
    }
  }
  // Serf refuses tags over 512 bytes encoded. The board's name is only known once its file is
  // loaded: 32 bytes are reserved for it (or the configured board string, when longer).
  std::map<std::string, std::string> all = out.tags;
  all["role"] = out.role;
  all["board"] = std::string(std::max<size_t>(c.board.size(), 32), 'b');
  all["version"] = RIGAGENT_VERSION;
  all["rig"] = c.rpc.identifier;
  all["emergency"] = "stopped";
  if (const size_t n = serf_encoded_tags_size(all); out.enable && n > serf_names::kMaxTagBytes)
    sf.fail("tags", "the node tags would take about " + std::to_string(n) + " bytes encoded (with role, board, version, "
                    "rig and emergency); Serf allows " + std::to_string(serf_names::kMaxTagBytes));

  name_list(sf, "queries", out.queries, serf_names::kQueries);
  if (const json* o = sf.raw("on_event")) {
    if (!o->is_object()) {
      sf.fail("on_event", std::string("expected an object of user event names to actions, got ") + json_type_name(*o));
    } else {
      for (auto it = o->begin(); it != o->end(); ++it) {
        const std::string key = "on_event." + it.key();
        if (!serf_safe_name(it.key())) sf.fail(key, std::string("an event name ") + kSafeName);
        else if (it.key().size() > 128) sf.fail(key, "an event name is at most 128 bytes");
        else if (!it->is_string()) sf.fail(key, "expected one of " + listed(serf_names::kActions) + ", got " + json_type_name(*it));
        else if (!one_of(it->get<std::string>(), serf_names::kActions))
          sf.fail(key, "\"" + it->get<std::string>() + "\" is not one of " + listed(serf_names::kActions));
        else out.on_event[it.key()] = it->get<std::string>();
      }
    }
  }
  sf.integer("connect_timeout_ms", out.connect_timeout_ms, 100, 600'000);
  sf.integer("request_timeout_ms", out.request_timeout_ms, 100, 600'000);
  sf.integer("reconnect_max_ms", out.reconnect_max_ms, 100, 3'600'000);
  sf.finish();
}

}  // namespace

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

  JsonReader sf = top.section("serf");
  read_serf(sf, c, c.serf);

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
  j["serf"] = {{"enable", c.serf.enable},
               {"rpc_addr", c.serf.rpc_addr},
               {"auth_key", c.serf.auth_key},
               {"event_prefix", c.serf.event_prefix},
               {"forward", c.serf.forward},
               {"coalesce_alarms", c.serf.coalesce_alarms},
               {"role", c.serf.role},
               {"tags", c.serf.tags.empty() ? json::object() : json(c.serf.tags)},
               {"queries", c.serf.queries},
               {"on_event", c.serf.on_event.empty() ? json::object() : json(c.serf.on_event)},
               {"connect_timeout_ms", c.serf.connect_timeout_ms},
               {"request_timeout_ms", c.serf.request_timeout_ms},
               {"reconnect_max_ms", c.serf.reconnect_max_ms}};
  return j;
}

}  // namespace rig
