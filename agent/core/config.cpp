#include "core/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "core/endpoint.hpp"
#include "core/log.hpp"

namespace rig {
namespace {

using json = nlohmann::ordered_json;

const char* type_name(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_float: return "a number with a fraction";
    default: return "a number";
  }
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reads one JSON object against the keys the code asks for; whatever it was not asked for is
// reported as unknown by finish(), with the nearest known key as a suggestion.
class Reader {
 public:
  Reader(const json* obj, std::string path, std::vector<std::string>& errors)
      : obj_(obj), path_(std::move(path)), errors_(errors) {}

  void string(const char* key, std::string& out, bool allow_empty = true) {
    const json* v = take(key);
    if (!v) return;
    if (!v->is_string()) return fail(key, std::string("expected a string, got ") + type_name(*v));
    if (!allow_empty && v->get_ref<const std::string&>().empty()) return fail(key, "must not be empty");
    out = v->get<std::string>();
  }
  void boolean(const char* key, bool& out) {
    const json* v = take(key);
    if (!v) return;
    if (!v->is_boolean()) return fail(key, std::string("expected true or false, got ") + type_name(*v));
    out = v->get<bool>();
  }
  void number(const char* key, double& out, double min, double max) {
    const json* v = take(key);
    if (!v) return;
    if (!v->is_number()) return fail(key, std::string("expected a number, got ") + type_name(*v));
    double d = v->get<double>();
    if (!(d >= min && d <= max)) return fail(key, "must be between " + fmt(min) + " and " + fmt(max));
    out = d;
  }
  void integer(const char* key, int64_t& out, int64_t min, int64_t max) {
    const json* v = take(key);
    if (!v) return;
    if (!v->is_number_integer() || (v->is_number_unsigned() && v->get<uint64_t>() > uint64_t(INT64_MAX)))
      return fail(key, std::string("expected an integer, got ") + type_name(*v));
    int64_t i = v->get<int64_t>();
    if (i < min || i > max) return fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    out = i;
  }
  void endpoint(const char* key, std::string& out) {
    std::string s = out;
    string(key, s, false);
    if (s == out) return;
    if (auto r = validate_bind_endpoint(s); !r) return fail(key, r.error().message);
    out = s;
  }
  void endpoints(const char* key, std::vector<std::string>& out) {
    const json* v = take(key);
    if (!v) return;
    if (!v->is_array() || v->empty()) return fail(key, "expected a non-empty array of endpoint strings");
    std::vector<std::string> eps;
    for (size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      const std::string k = std::string(key) + "[" + std::to_string(i) + "]";
      if (!e.is_string()) return fail(k.c_str(), std::string("expected an endpoint string, got ") + type_name(e));
      if (auto r = validate_bind_endpoint(e.get<std::string>()); !r) return fail(k.c_str(), r.error().message);
      eps.push_back(e.get<std::string>());
    }
    out = std::move(eps);
  }
  // A nested section; absent means "all defaults".
  Reader section(const char* key) {
    const json* v = take(key);
    if (v && !v->is_object()) {
      fail(key, std::string("expected an object, got ") + type_name(*v));
      v = nullptr;
    }
    return Reader(v, join(key), errors_);
  }
  void finish() {
    if (!obj_) return;
    for (auto it = obj_->begin(); it != obj_->end(); ++it) {
      if (seen_.count(it.key())) continue;
      std::string msg = "unknown key";
      std::string best;
      size_t best_d = 3;
      for (const auto& k : known_) {
        size_t d = edit_distance(it.key(), k);
        if (d < best_d) best_d = d, best = k;
      }
      if (!best.empty()) msg += " (did you mean \"" + best + "\"?)";
      errors_.push_back(join(it.key()) + ": " + msg);
    }
  }

 private:
  const json* take(const char* key) {
    known_.push_back(key);
    if (!obj_) return nullptr;
    auto it = obj_->find(key);
    if (it == obj_->end()) return nullptr;
    seen_.insert(key);
    return &*it;
  }
  void fail(const char* key, const std::string& why) { errors_.push_back(join(key) + ": " + why); }
  std::string join(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }
  static std::string fmt(double d) {
    std::ostringstream o;
    o << d;
    return o.str();
  }

  const json* obj_;
  std::string path_;
  std::vector<std::string>& errors_;
  std::set<std::string> seen_;
  std::vector<std::string> known_;
};

}  // namespace

Expected<Config> parse_config(std::string_view text, std::string_view source) {
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), nullptr, true, /*ignore_comments=*/true);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    auto pos = what.find("parse error");
    return make_error(std::string(source) + ": not valid JSON: " + (pos == std::string::npos ? what : what.substr(pos)));
  } catch (const json::exception& e) {
    return make_error(std::string(source) + ": not valid JSON: " + (e.id == 406 ? "a number is out of range" : e.what()));
  }
  if (!doc.is_object()) return make_error(std::string(source) + ": the configuration must be a JSON object");

  Config c;
  std::vector<std::string> errors;
  Reader top(&doc, "", errors);
  top.string("board", c.board, false);
  top.string("log_level", c.log_level, false);
  if (!c.log_level.empty() && !log::parse_level(c.log_level)) errors.push_back("log_level: " + log::parse_level(c.log_level).error().message);

  Reader rpc = top.section("rpc");
  rpc.boolean("enable", c.rpc.enable);
  rpc.string("identifier", c.rpc.identifier, false);
  rpc.string("version", c.rpc.version);
  rpc.number("heartbeat_interval", c.rpc.heartbeat_interval, 0.01, 86400);
  rpc.endpoints("pub_endpoints", c.rpc.pub_endpoints);
  rpc.endpoints("command_endpoints", c.rpc.command_endpoints);
  rpc.integer("max_request_bytes", c.rpc.max_request_bytes, 64, 4 * 1024 * 1024);
  rpc.integer("queue_capacity", c.rpc.queue_capacity, 1, 10'000'000);
  rpc.integer("send_hwm", c.rpc.send_hwm, 0, 10'000'000);
  rpc.integer("linger_ms", c.rpc.linger_ms, 0, 60'000);
  rpc.finish();

  Reader app = top.section("app_link");
  app.boolean("enable", c.app_link.enable);
  app.endpoint("endpoint", c.app_link.endpoint);
  app.integer("command_timeout_ms", c.app_link.command_timeout_ms, 1, 600'000);
  app.finish();

  top.finish();
  if (!errors.empty()) {
    std::string msg = std::string(source) + ": invalid configuration";
    for (const auto& e : errors) msg += "\n  " + e;
    return make_error(msg);
  }
  return c;
}

Expected<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot read the configuration file: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 1024 * 1024) return make_error(path + ": configuration file is larger than 1 MiB");
  return parse_config(text.str(), path);
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
              {"linger_ms", c.rpc.linger_ms}};
  j["app_link"] = {{"enable", c.app_link.enable},
                   {"endpoint", c.app_link.endpoint},
                   {"command_timeout_ms", c.app_link.command_timeout_ms}};
  return j;
}

}  // namespace rig
