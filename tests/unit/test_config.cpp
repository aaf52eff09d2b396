// Configuration: the built-in default, and errors that name the key for unknown keys, wrong
// types and bad endpoints; the serf section's names, addresses and tag limit.
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

static void directory_as_file(void**) {
  // A directory opens but cannot be read: that is said, not parsed as an empty document.
  auto c = load_config_file("/tmp");
  assert_false(c.has_value());
  contains(c.error().message, "/tmp: cannot read the configuration file: Is a directory");
}

static void serf_defaults_and_full_section(void**) {
  auto d = parse_config("{}", "built-in default");
  assert_true(d.has_value());
  assert_false(d->serf.enable);
  assert_str(d->serf.rpc_addr, "127.0.0.1:7373");
  assert_str(d->serf.event_prefix, "rig-");
  assert_int_equal(d->serf.forward.size(), 2);
  assert_int_equal(d->serf.queries.size(), 2);  // status, ping: nothing that changes the rig
  assert_str(d->serf.queries[0], "status");
  assert_true(d->serf.on_event.empty());

  auto c = parse_config(R"({
    "serf": {"enable": true, "rpc_addr": "[::1]:7374", "auth_key": "s3cret", "event_prefix": "lab7.",
             "forward": ["alarm"], "coalesce_alarms": true, "role": "trainer", "tags": {"room": "B12", "dc": "x"},
             "queries": ["status", "emergency-stop", "get-configuration"],
             "on_event": {"fleet-stop": "emergency-stop", "fleet-resume": "emergency-resume"},
             "connect_timeout_ms": 1000, "request_timeout_ms": 2000, "reconnect_max_ms": 500}
  })", "t");
  if (!c) fail_msg("%s", c.error().message.c_str());
  assert_true(c->serf.enable);
  assert_str(c->serf.rpc_addr, "[::1]:7374");
  assert_int_equal(c->serf.forward.size(), 1);
  assert_str(c->serf.tags.at("room"), "B12");
  assert_str(c->serf.on_event.at("fleet-resume"), "emergency-resume");
  assert_int_equal(c->serf.reconnect_max_ms, 500);
  // print-config shows the section, and what it prints parses back to the same thing.
  auto printed = config_to_json(*c);
  assert_str(printed["serf"]["queries"][1].get<std::string>(), "emergency-stop");
  assert_str(printed["serf"]["tags"]["dc"].get<std::string>(), "x");
  auto again = parse_config(printed.dump(), "printed");
  if (!again) fail_msg("%s", again.error().message.c_str());
  assert_str(config_to_json(*again).dump(), printed.dump());
  assert_true(config_to_json(*d)["serf"]["on_event"].is_object());
  assert_true(parse_config(config_to_json(*d).dump(), "printed default").has_value());
  // forward [] and queries [] are allowed: nothing sent, nothing answered.
  auto none = parse_config(R"({"serf": {"forward": [], "queries": []}})", "t");
  assert_true(none.has_value() && none->serf.forward.empty() && none->serf.queries.empty());
}

static void serf_errors_name_the_key(void**) {
  contains(error_of(R"({"serf": {"queries": ["status", "reboot"]}})"),
           "serf.queries[1]: \"reboot\" is not one of \"status\", \"ping\", \"emergency-stop\"");
  contains(error_of(R"({"serf": {"queries": ["ping", "ping"]}})"), "serf.queries[1]: \"ping\" is listed twice");
  contains(error_of(R"({"serf": {"queries": "status"}})"), "serf.queries: expected an array of names, got a string");
  contains(error_of(R"({"serf": {"forward": ["estop"]}})"), "serf.forward[0]: \"estop\" is not one of \"emergency\", \"alarm\"");
  for (const char* bad : {"127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", "tcp://127.0.0.1:7373", "::1:7373", ":7373", "h st:1"})
    contains(error_of(std::string(R"({"serf": {"rpc_addr": ")") + bad + "\"}}"), "serf.rpc_addr: '");
  contains(error_of(R"({"serf": {"rpc_addr": ""}})"), "serf.rpc_addr: must not be empty");
  contains(error_of(R"({"serf": {"event_prefix": "rig "}})"), "serf.event_prefix: must be printable ASCII");
  contains(error_of(R"({"serf": {"event_prefix": "a,b"}})"), "serf.event_prefix: must be printable ASCII without spaces or commas");
  contains(error_of(R"({"serf": {"role": ""}})"), "serf.role: must not be empty");
  contains(error_of(R"({"serf": {"tags": {"room": ""}}})"), "serf.tags.room: must not be empty");
  contains(error_of(R"({"serf": {"tags": {"room": 7}}})"), "serf.tags.room: expected a string, got a number");
  contains(error_of(R"({"serf": {"tags": {"my tag": "x"}}})"), "serf.tags.my tag: a tag name must be printable ASCII");
  contains(error_of(R"({"serf": {"tags": {"emergency": "x"}}})"), "serf.tags.emergency: rigagent sets this tag itself");
  contains(error_of(R"({"serf": {"tags": {"role": "x"}}})"), "(use serf.role)");
  contains(error_of(R"({"serf": {"tags": []}})"), "serf.tags: expected an object");
  contains(error_of(R"({"serf": {"on_event": {"fleet-stop": "reboot"}}})"),
           "serf.on_event.fleet-stop: \"reboot\" is not one of \"emergency-stop\", \"emergency-resume\"");
  contains(error_of(R"({"serf": {"on_event": {"fleet stop": "emergency-stop"}}})"), "serf.on_event.fleet stop: an event name");
  contains(error_of(R"({"serf": {"on_event": {"": "emergency-stop"}}})"), "serf.on_event.: an event name");
  contains(error_of(R"({"serf": {"on_event": {"x": true}}})"), "serf.on_event.x: expected one of");
  contains(error_of(R"({"serf": {"reconnect_max_ms": 10}})"), "serf.reconnect_max_ms: must be between 100 and");
  contains(error_of(R"({"serf": {"enabled": true}})"), "serf.enabled: unknown key (did you mean \"enable\"?)");
  contains(error_of(R"({"serf": {"querys": []}})"), "(did you mean \"queries\"?)");
}

static void serf_tags_must_fit_serfs_limit(void**) {
  // 512 bytes encoded, rigagent's own tags included (docs/serf.md).
  std::string tags;
  for (int i = 0; i < 12; ++i) tags += std::string(i ? "," : "") + "\"tag" + std::to_string(i) + "\": \"" + std::string(30, 'v') + "\"";
  std::string e = error_of(R"({"serf": {"enable": true, "tags": {)" + tags + "}}}");
  contains(e, "serf.tags: the node tags would take about");
  contains(e, "Serf allows 512");
  // The same tags while Serf is off are not checked against the limit.
  assert_true(parse_config(R"({"serf": {"tags": {)" + tags + "}}}", "t").has_value());
  // A few ordinary tags fit.
  assert_true(parse_config(R"({"serf": {"enable": true, "tags": {"room": "B12", "dc": "lab"}}})", "t").has_value());
  // The estimate is msgpack's: magic byte + map header + 1-byte headers under 32 bytes, 3 above.
  assert_int_equal(serf_encoded_tags_size({}), 2);
  assert_int_equal(serf_encoded_tags_size({{"a", "b"}}), 2 + 2 + 2);
  assert_int_equal(serf_encoded_tags_size({{"k", std::string(40, 'v')}}), 2 + 2 + 43);
  assert_true(serf_safe_name("rig-emergency-stop"));
  assert_false(serf_safe_name(""));
  assert_false(serf_safe_name("a b"));
  assert_false(serf_safe_name("a,b"));
  assert_false(serf_safe_name("caf\xc3\xa9"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(defaults_are_loopback), cmocka_unit_test(full_config),
      cmocka_unit_test(unknown_keys_are_named), cmocka_unit_test(wrong_types_are_named),
      cmocka_unit_test(bad_endpoints_are_named), cmocka_unit_test(not_json),
      cmocka_unit_test(missing_file),
      cmocka_unit_test(directory_as_file), cmocka_unit_test(serf_defaults_and_full_section),
      cmocka_unit_test(serf_errors_name_the_key), cmocka_unit_test(serf_tags_must_fit_serfs_limit),
  };
  return cmocka_run_group_tests_name("config", tests, nullptr, nullptr);
}
