// The `rigagent hal` line protocol: get/set/pulse requests, each malformed request's error, the
// encoder's exact output and its round trip, and the error reply.
#include "support/cmocka.hpp"

#include "hw/control_protocol.hpp"

using namespace rig;
using namespace rig::hw;
using Op = ControlRequest::Op;

static ControlRequest parse_ok(const std::string& text) {
  auto r = parse_control_request(text);
  if (!r) fail_msg("'%s' does not parse: %s", text.c_str(), r.error().message.c_str());
  return *r;
}

static void expect_error(const std::string& text, const std::string& message) {
  auto r = parse_control_request(text);
  if (r) fail_msg("expected an error for '%s'", text.c_str());
  assert_str(r.error().message, message);
}

static void parse_get(void**) {
  ControlRequest r = parse_ok(R"({"op": "get"})");
  assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::get));
  assert_str(r.line, "");
  assert_int_equal(r.level, 0);
  assert_int_equal(r.ms, 0);
  r = parse_ok("{\"op\": \"get\", \"line\": \"door\"}\n");
  assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::get));
  assert_str(r.line, "door");
}

static void parse_set(void**) {
  ControlRequest r = parse_ok(R"({"op": "set", "line": "estop", "level": 1})");
  assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::set));
  assert_str(r.line, "estop");
  assert_int_equal(r.level, 1);
  assert_int_equal(r.ms, 0);
  r = parse_ok(R"({"level": 0, "line": "door", "op": "set"})");
  assert_int_equal(r.level, 0);
  assert_str(r.line, "door");
}

static void parse_pulse(void**) {
  ControlRequest r = parse_ok(R"({"op": "pulse", "line": "estop", "ms": 100})");
  assert_int_equal(static_cast<int>(r.op), static_cast<int>(Op::pulse));
  assert_str(r.line, "estop");
  assert_int_equal(r.ms, 100);
  assert_int_equal(r.level, 0);
  assert_int_equal(parse_ok(R"({"op": "pulse", "line": "estop", "ms": 1})").ms, 1);
  assert_int_equal(parse_ok(R"({"op": "pulse", "line": "estop", "ms": 60000})").ms, 60000);
}

static void op_errors(void**) {
  expect_error(R"({})", "missing \"op\" (get, set or pulse)");
  expect_error(R"({"line": "estop"})", "missing \"op\" (get, set or pulse)");
  expect_error(R"({"op": 1})", "missing \"op\" (get, set or pulse)");
  expect_error(R"({"op": "toggle", "line": "estop"})", "unknown op (get, set or pulse)");
  expect_error(R"({"op": "GET"})", "unknown op (get, set or pulse)");
}

static void set_errors(void**) {
  expect_error(R"({"op": "set", "line": "estop"})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": 2})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": -1})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": true})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": 1.0})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": "1"})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "line": "estop", "level": 18446744073709551615})", "\"level\" must be 0 or 1");
  expect_error(R"({"op": "set", "level": 1})", "\"line\" is missing");
}

static void pulse_errors(void**) {
  const std::string ms_error = "\"ms\" must be an integer from 1 to 60000";
  expect_error(R"({"op": "pulse", "line": "estop"})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": 0})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": -5})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": 60001})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": 1.5})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": "100"})", ms_error);
  expect_error(R"({"op": "pulse", "line": "estop", "ms": 18446744073709551615})", ms_error);
  expect_error(R"({"op": "pulse", "ms": 100})", "\"line\" is missing");
}

static void line_errors(void**) {
  const std::string line_error = "\"line\" must be a line name";
  expect_error(R"({"op": "get", "line": ""})", line_error);
  expect_error(R"({"op": "get", "line": 5})", line_error);
  expect_error(R"({"op": "set", "line": null, "level": 1})", line_error);
  // At most 64 bytes.
  const std::string longest(64, 'x');
  assert_str(parse_ok(R"({"op": "get", "line": ")" + longest + R"("})").line, longest);
  expect_error(R"({"op": "get", "line": ")" + longest + R"(x"})", line_error);
}

static void not_an_object(void**) {
  expect_error("[]", "not a JSON object");
  expect_error(R"("get")", "not a JSON object");
  expect_error("5", "not a JSON object");
  expect_error("", "not a JSON object");
  expect_error("get estop", "not a JSON object");
  expect_error(R"({"op": "get")", "not a JSON object");
  expect_error(R"({"op": "get"} {"op": "get"})", "not a JSON object");
  // The request line is not a configuration file: no comments.
  expect_error(R"({"op": "get"} // all)", "not a JSON object");
}

static void size_limit(void**) {
  // Exactly 4096 bytes (padded with spaces) is accepted; one more is not.
  std::string req = R"({"op": "get"})";
  req += std::string(kMaxControlLine - req.size(), ' ');
  assert_int_equal(req.size(), 4096);
  parse_ok(req);
  expect_error(req + " ", "request longer than 4096 bytes");
  expect_error(std::string(100'000, '{'), "request longer than 4096 bytes");
}

static void encode_exact(void**) {
  ControlRequest r;
  assert_str(encode_control_request(r), "{\"op\":\"get\"}\n");
  r.line = "door";
  assert_str(encode_control_request(r), "{\"op\":\"get\",\"line\":\"door\"}\n");
  r.op = Op::set;
  r.line = "estop";
  r.level = 1;
  assert_str(encode_control_request(r), "{\"op\":\"set\",\"line\":\"estop\",\"level\":1}\n");
  r.op = Op::pulse;
  r.ms = 250;
  assert_str(encode_control_request(r), "{\"op\":\"pulse\",\"line\":\"estop\",\"ms\":250}\n");
}

static void round_trip(void**) {
  auto request = [](Op op, const std::string& line, int level, int64_t ms) {
    ControlRequest r;
    r.op = op;
    r.line = line;
    r.level = level;
    r.ms = ms;
    return r;
  };
  const ControlRequest requests[] = {
      request(Op::get, "", 0, 0),
      request(Op::get, "door", 0, 0),
      request(Op::set, "estop", 1, 0),
      request(Op::set, "line \"quoted\" \\ \xc3\xa9", 0, 0),
      request(Op::pulse, "estop", 0, kMaxPulseMs),
  };
  for (const auto& want : requests) {
    const std::string text = encode_control_request(want);
    assert_true(!text.empty() && text.back() == '\n');
    ControlRequest got = parse_ok(text);
    assert_int_equal(static_cast<int>(got.op), static_cast<int>(want.op));
    assert_str(got.line, want.line);
    assert_int_equal(got.level, want.level);
    assert_int_equal(got.ms, want.ms);
  }
}

static void error_reply(void**) {
  assert_str(control_error("no such line"), "{\"ok\":false,\"error\":\"no such line\"}\n");
  // Not UTF-8: replaced, never thrown.
  assert_str(control_error("bad \xff"), "{\"ok\":false,\"error\":\"bad \xef\xbf\xbd\"}\n");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parse_get),    cmocka_unit_test(parse_set),     cmocka_unit_test(parse_pulse),
      cmocka_unit_test(op_errors),    cmocka_unit_test(set_errors),    cmocka_unit_test(pulse_errors),
      cmocka_unit_test(line_errors),  cmocka_unit_test(not_an_object), cmocka_unit_test(size_limit),
      cmocka_unit_test(encode_exact), cmocka_unit_test(round_trip),    cmocka_unit_test(error_reply),
  };
  return cmocka_run_group_tests_name("control_protocol", tests, nullptr, nullptr);
}
