// Configuration: the built-in default, and errors that name the key for unknown keys, wrong
// types and bad endpoints.
#include "support/cmocka.hpp"

#include <cstdio>
#include <cstring>

#include "core/config.hpp"
#include "core/endpoint.hpp"

using namespace rig;

static std::string error_of(const std::string& text) {
  auto c = parse_config(text, "test.json");
  if (c) fail_msg("expected an error for %s", text.c_str());
  return c.error().message;
}

static void contains(const std::string& hay, const char* needle) {
  if (hay.find(needle) == std::string::npos) fail_msg("'%s' not in:\n%s", needle, hay.c_str());
}

static void defaults_are_loopback(void**) {
  auto c = parse_config("{}", "built-in default");
  assert_true(c.has_value());
  assert_str(c->board, "sim");
  assert_int_equal(c->rpc.pub_endpoints.size(), 1);
  assert_str(c->rpc.pub_endpoints[0], "tcp://127.0.0.1:5556");
  assert_str(c->rpc.command_endpoints[0], "tcp://127.0.0.1:5557");
  assert_true(c->rpc.heartbeat_interval == 5.0);
  assert_str(c->rpc.identifier, "autotrainer-device");
}

static void full_config(void**) {
  auto c = parse_config(R"({
    // comments are allowed
    "board": "sim", "log_level": "debug",
    "rpc": {"identifier": "rig-7", "heartbeat_interval": 0.5, "pub_endpoints": ["tcp://*:5556", "ipc:///run/r.pub"],
            "command_endpoints": ["tcp://[::1]:5557"], "max_request_bytes": 1024, "queue_capacity": 5,
            "send_hwm": 0, "linger_ms": 0, "version": "x", "enable": true},
    "app_link": {"enable": false, "endpoint": "ipc:///tmp/a.sock", "command_timeout_ms": 10}
  })", "t");
  if (!c) fail_msg("%s", c.error().message.c_str());
  assert_str(c->rpc.identifier, "rig-7");
  assert_int_equal(c->rpc.pub_endpoints.size(), 2);
  assert_false(c->app_link.enable);
  assert_int_equal(c->app_link.command_timeout_ms, 10);
  // The printed form parses back to the same thing.
  auto again = parse_config(config_to_json(*c).dump(), "printed");
  assert_true(again.has_value());
  assert_str(config_to_json(*again).dump(), config_to_json(*c).dump());
}

static void unknown_keys_are_named(void**) {
  std::string e = error_of(R"({"rpc": {"pub_endpoint": ["tcp://127.0.0.1:1"]}})");
  contains(e, "test.json");
  contains(e, "rpc.pub_endpoint: unknown key (did you mean \"pub_endpoints\"?)");
  contains(error_of(R"({"colour": 1})"), "colour: unknown key");
}

static void wrong_types_are_named(void**) {
  contains(error_of(R"({"rpc": {"heartbeat_interval": "5"}})"), "rpc.heartbeat_interval: expected a number, got a string");
  contains(error_of(R"({"rpc": {"heartbeat_interval": 0}})"), "rpc.heartbeat_interval: must be between");
  contains(error_of(R"({"rpc": {"enable": 1}})"), "rpc.enable: expected true or false");
  contains(error_of(R"({"rpc": 5})"), "rpc: expected an object");
  contains(error_of(R"({"app_link": {"command_timeout_ms": 1.5}})"), "app_link.command_timeout_ms: expected an integer");
  contains(error_of(R"({"log_level": "loud"})"), "log_level: unknown log level 'loud'");
  // Every error is reported, not only the first.
  std::string both = error_of(R"({"rpc": {"send_hwm": -1, "linger_ms": "x"}})");
  contains(both, "rpc.send_hwm");
  contains(both, "rpc.linger_ms");
}

static void bad_endpoints_are_named(void**) {
  contains(error_of(R"({"rpc": {"pub_endpoints": ["tcp://127.0.0.1"]}})"), "rpc.pub_endpoints[0]: 'tcp://127.0.0.1': tcp:// needs HOST:PORT");
  contains(error_of(R"({"rpc": {"command_endpoints": ["tcp://127.0.0.1:1", "udp://x:1"]}})"), "rpc.command_endpoints[1]");
  contains(error_of(R"({"rpc": {"command_endpoints": ["tcp://127.0.0.1:70000"]}})"), "port '70000' is not 1-65535");
  contains(error_of(R"({"rpc": {"command_endpoints": []}})"), "rpc.command_endpoints: expected a non-empty array");
  contains(error_of(R"({"app_link": {"endpoint": "5557"}})"), "app_link.endpoint: '5557' is not an endpoint");
  assert_true(validate_bind_endpoint("tcp://*:*").has_value());
  assert_false(validate_connect_endpoint("tcp://*:5557").has_value());
  assert_true(validate_connect_endpoint("tcp://rig-07.lab:5557").has_value());
}

static void not_json(void**) {
  contains(error_of("{\"rpc\": "), "test.json: not valid JSON");
  contains(error_of("[]"), "must be a JSON object");
  contains(error_of(R"({"rpc": {"heartbeat_interval": 1e400}})"), "test.json: not valid JSON: a number is out of range");
}

static void missing_file(void**) {
  auto c = load_config_file("/nonexistent/rigagent.json");
  assert_false(c.has_value());
  contains(c.error().message, "/nonexistent/rigagent.json: cannot read the configuration file: No such file");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_loopback), cmocka_unit_test(full_config),
      cmocka_unit_test(unknown_keys_are_named), cmocka_unit_test(wrong_types_are_named),
      cmocka_unit_test(bad_endpoints_are_named), cmocka_unit_test(not_json),
      cmocka_unit_test(missing_file),
  };
  return cmocka_run_group_tests_name("config", tests, nullptr, nullptr);
}
