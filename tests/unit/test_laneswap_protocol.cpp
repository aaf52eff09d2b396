// The LaneSwap protocol's pure functions (upstream/laneswap/protocol.hpp, laneswap.md §2-§8): the
// status mapping, the base path and path segments, the exact request bodies, every row of the
// error mapping, timestamps in every accepted spelling, service records and lists, and the
// reporter's fallback status chain.
#include "support/cmocka.hpp"

#include <chrono>
#include <set>

#include "upstream/laneswap/protocol.hpp"
#include "upstream/laneswap/reporter.hpp"

using namespace rig;
using namespace rig::laneswap;
using namespace std::chrono_literals;

namespace {

const std::string kWhere = "http://monitor.lab:8000";

net::HttpResponse response(int status, std::string body) {
  net::HttpResponse r;
  r.status = status;
  r.reason = "X";
  r.body = std::move(body);
  return r;
}

// A failed value of the given code whose message contains every one of `parts`.
template <typename T>
void expect_error(const Expected<T>& r, Errc code, std::initializer_list<std::string> parts) {
  if (r.has_value()) fail_msg("expected %s, got a value", to_string(code));
  if (r.error().code != static_cast<int>(code))
    fail_msg("expected %s, got code %d: %s", to_string(code), r.error().code, r.error().message.c_str());
  const std::string prefix = std::string(to_string(code)) + ": ";
  if (r.error().message.rfind(prefix, 0) != 0)
    fail_msg("'%s' does not start with '%s'", r.error().message.c_str(), prefix.c_str());
  for (const auto& p : parts)
    if (r.error().message.find(p) == std::string::npos)
      fail_msg("'%s' does not contain '%s'", r.error().message.c_str(), p.c_str());
}

Expected<json> check(Call call, int status, const std::string& body) {
  return check_response(call, response(status, body), kWhere);
}

std::string api_base_of(const std::string& url) {
  auto u = net::parse_url(url);
  if (!u) fail_msg("parse_url(%s): %s", url.c_str(), u.error().message.c_str());
  return api_base(*u);
}

// 2026-11-21T19:26:33Z
const TimePoint kInstant = std::chrono::system_clock::from_time_t(1795289193);

TimePoint ts(const std::string& text) {
  auto t = parse_timestamp(text);
  if (!t) fail_msg("parse_timestamp(%s): %s", text.c_str(), t.error().message.c_str());
  return *t;
}

long long nanos_between(TimePoint a, TimePoint b) {
  return static_cast<long long>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

const char* kPermitted =
    R"({"detail":[{"loc":["body","status"],"msg":"value is not a valid enumeration member; permitted: 'healthy', 'warning', 'degraded', 'error', 'busy', 'stale', 'unknown'","type":"type_error.enum","ctx":{"enum_values":["healthy","warning","degraded","error","busy","stale","unknown"]}}]})";

}  // namespace

// §3: IDLE -> healthy "idle", SHUTDOWN -> unknown "shutting down", with the lifecycle key.
static void wire_mapping(void**) {
  auto idle = to_wire(Status::idle, false);
  assert_true(idle.has_value());
  assert_str(idle->status, "healthy");
  assert_true(idle->default_message.has_value());
  assert_str(*idle->default_message, "idle");
  assert_str(idle->lifecycle, "idle");

  auto down = to_wire(Status::shutdown, false);
  assert_true(down.has_value());
  assert_str(down->status, "unknown");
  assert_str(*down->default_message, "shutting down");
  assert_str(down->lifecycle, "shutdown");

  expect_error(to_wire(Status::idle, true), Errc::unsupported_status, {"IDLE", "strict"});
  expect_error(to_wire(Status::shutdown, true), Errc::unsupported_status, {"SHUTDOWN", "strict"});

  const std::pair<Status, const char*> others[] = {
      {Status::healthy, "healthy"}, {Status::warning, "warning"}, {Status::degraded, "degraded"}, {Status::error, "error"},
      {Status::busy, "busy"},       {Status::stale, "stale"},     {Status::unknown, "unknown"},
  };
  for (bool strict : {false, true})
    for (const auto& [s, wire] : others) {
      auto w = to_wire(s, strict);
      if (!w) fail_msg("%s: %s", wire, w.error().message.c_str());
      assert_str(w->status, wire);
      assert_false(w->default_message.has_value());
      assert_str(w->lifecycle, "running");
    }
  assert_str(api_name(Status::healthy), "HEALTHY");
  assert_str(api_name(Status::shutdown), "SHUTDOWN");
  assert_str(wire_name(Status::degraded), "degraded");
}

static void status_names(void**) {
  const std::pair<const char*, Status> good[] = {
      {"healthy", Status::healthy}, {"HEALTHY", Status::healthy},   {"Healthy", Status::healthy},
      {"wArNiNg", Status::warning}, {"DEGRADED", Status::degraded}, {"error", Status::error},
      {"Busy", Status::busy},       {"STALE", Status::stale},       {"unknown", Status::unknown},
      {"IDLE", Status::idle},       {"idle", Status::idle},         {"Shutdown", Status::shutdown},
  };
  for (const auto& [text, s] : good) {
    auto p = parse_status(text);
    if (!p) fail_msg("parse_status(%s) failed", text);
    assert_int_equal(static_cast<int>(*p), static_cast<int>(s));
  }
  for (const char* bad : {"", "health", "healthy ", " healthy", "running", "shut down", "healthyy", "HEALTHY\n"})
    if (parse_status(bad)) fail_msg("parse_status accepted '%s'", bad);
}

// §1: strip trailing '/', then append /api unless the URL already ends in /api.
static void base_path(void**) {
  assert_str(api_base_of("http://monitor.lab:8000"), "/api");
  assert_str(api_base_of("http://monitor.lab:8000/"), "/api");
  assert_str(api_base_of("http://monitor.lab:8000/api"), "/api");
  assert_str(api_base_of("http://monitor.lab:8000/api/"), "/api");
  assert_str(api_base_of("http://monitor.lab:8000/api//"), "/api");
  assert_str(api_base_of("https://proxy.lab/laneswap"), "/laneswap/api");
  assert_str(api_base_of("https://proxy.lab/laneswap/"), "/laneswap/api");
  assert_str(api_base_of("https://proxy.lab/laneswap/api/"), "/laneswap/api");
  assert_str(api_base_of("https://proxy.lab/myapi"), "/myapi/api");
  assert_str(api_base_of("https://proxy.lab/apis"), "/apis/api");
  assert_str(api_base_of("https://proxy.lab/api/v1"), "/api/v1/api");
}

static void path_segments(void**) {
  assert_str(path_segment("rig07"), "rig07");
  assert_str(path_segment("AZaz09-_.~"), "AZaz09-_.~");
  assert_str(path_segment(""), "");
  assert_str(path_segment("a b/c?d#e%f"), "a%20b%2Fc%3Fd%23e%25f");
  assert_str(path_segment("x+y:z@w"), "x%2By%3Az%40w");
  assert_str(path_segment(".."), "..");
  assert_str(path_segment("\xC3\xA9"), "%C3%A9");
  assert_str(path_segment(std::string("\0\n\x7f\xff", 4)), "%00%0A%7F%FF");
}

// §2.1: service_id only when set, metadata {} by default.
static void register_bodies(void**) {
  assert_str(register_body("rigagent-rig07", "rig07", json{{"version", "1.4.0"}}).dump(),
             R"({"service_id":"rig07","service_name":"rigagent-rig07","metadata":{"version":"1.4.0"}})");
  const json no_id = register_body("rigagent-rig07", "", json{{"version", "1.4.0"}});
  assert_false(no_id.contains("service_id"));
  assert_str(no_id.dump(), R"({"service_name":"rigagent-rig07","metadata":{"version":"1.4.0"}})");
  assert_str(register_body("", "", json()).dump(), R"({"service_name":"","metadata":{}})");
  assert_str(register_body("n", "i", json::array({1})).dump(), R"({"service_id":"i","service_name":"n","metadata":{}})");
}

// §6.3 and §3: status always, message only when set (or the mapping's default), metadata always
// with the lifecycle merged in.
static void heartbeat_bodies(void**) {
  const WireStatus busy = *to_wire(Status::busy, false);
  assert_str(heartbeat_body(busy, std::string("acquiring"), json{{"session", "s-42"}}).dump(),
             R"({"status":"busy","message":"acquiring","metadata":{"session":"s-42","lifecycle":"running"}})");
  const json plain = heartbeat_body(*to_wire(Status::healthy, false), std::nullopt, json::object());
  assert_false(plain.contains("message"));
  assert_str(plain.dump(), R"({"status":"healthy","metadata":{"lifecycle":"running"}})");
  assert_str(heartbeat_body(*to_wire(Status::healthy, false), std::nullopt, json()).dump(),
             R"({"status":"healthy","metadata":{"lifecycle":"running"}})");
  assert_str(heartbeat_body(*to_wire(Status::idle, false), std::nullopt, json::object()).dump(),
             R"({"status":"healthy","message":"idle","metadata":{"lifecycle":"idle"}})");
  // The caller's message wins over the mapping's default; a caller's lifecycle key does not.
  assert_str(heartbeat_body(*to_wire(Status::idle, false), std::string("napping"), json{{"lifecycle", "x"}, {"a", 1}}).dump(),
             R"({"status":"healthy","message":"napping","metadata":{"lifecycle":"idle","a":1}})");
  assert_str(heartbeat_body(*to_wire(Status::shutdown, false), std::nullopt, json{{"v", "1"}}).dump(),
             R"({"status":"unknown","message":"shutting down","metadata":{"v":"1","lifecycle":"shutdown"}})");
  assert_str(heartbeat_body(*to_wire(Status::error, false), std::string(""), json::object()).dump(),
             R"({"status":"error","message":"","metadata":{"lifecycle":"running"}})");
}

// §8: every key present, description/message as explicit null, metadata {} by default.
static void progress_bodies(void**) {
  assert_str(start_progress_body("rig07", "post-acq", 5, std::string("session s-42"), json{{"a", 1}}).dump(),
             R"({"service_id":"rig07","task_name":"post-acq","total_steps":5,"description":"session s-42","metadata":{"a":1}})");
  assert_str(start_progress_body("rig07", "post-acq", 0, std::nullopt, json()).dump(),
             R"({"service_id":"rig07","task_name":"post-acq","total_steps":0,"description":null,"metadata":{}})");
  assert_str(update_progress_body("rig07", "task-1", 2, "running", std::string("half"), json::object()).dump(),
             R"({"service_id":"rig07","task_id":"task-1","current_step":2,"status":"running","message":"half","metadata":{}})");
  assert_str(update_progress_body("rig07", "task-1", 3, "paused", std::nullopt, json{{"k", true}}).dump(),
             R"({"service_id":"rig07","task_id":"task-1","current_step":3,"status":"paused","message":null,"metadata":{"k":true}})");
  assert_str(complete_progress_body("rig07", "task-1", "completed", std::nullopt, json()).dump(),
             R"({"service_id":"rig07","task_id":"task-1","status":"completed","message":null,"metadata":{}})");
  assert_str(complete_progress_body("rig07", "task-1", "failed", std::string("disk full"), json::array()).dump(),
             R"({"service_id":"rig07","task_id":"task-1","status":"failed","message":"disk full","metadata":{}})");
}

static void success_responses(void**) {
  auto reg = check(Call::register_service, 200, R"({"service_id":"rig07"})");
  assert_true(reg.has_value());
  assert_str(*parse_register(*reg), "rig07");
  // §6.1: 201 is accepted too.
  assert_str(*parse_register(*check(Call::register_service, 201, R"({"service_id":"0eff46cd"})")), "0eff46cd");
  expect_error(parse_register(json::object()), Errc::bad_response, {"no service_id"});
  expect_error(parse_register(json{{"service_id", ""}}), Errc::bad_response, {"no service_id"});
  expect_error(parse_register(json{{"service_id", 7}}), Errc::bad_response, {"no service_id"});
  auto health = check(Call::health, 200, R"({"status":"ok","service":"LaneSwap API","timestamp":"2026-11-21T19:26:33.974386+00:00"})");
  assert_true(health.has_value());
  assert_str((*health)["service"].get<std::string>(), "LaneSwap API");
  auto update = check(Call::update_progress, 200, R"({"task_id":"task-1","current_step":2})");
  assert_true(update.has_value());
  assert_int_equal((*update)["current_step"].get<int>(), 2);

  // A 2xx must carry a JSON object.
  for (Call c : {Call::register_service, Call::heartbeat, Call::get_service, Call::get_all, Call::health, Call::update_progress})
    for (const char* body : {"", "not json", "[1,2]", "\"text\"", "null", "{\"a\":"})
      expect_error(check(c, 200, body), Errc::bad_response, {kWhere, "HTTP 200 without a JSON object body"});
  expect_error(check(Call::heartbeat, 204, ""), Errc::bad_response, {"HTTP 204 without a JSON object body"});

  // §8: start_progress answers exactly 201 with a task_id.
  auto started = check(Call::start_progress, 201, R"({"task_id":"task-1"})");
  assert_true(started.has_value());
  assert_str(*parse_task_id(*started), "task-1");
  expect_error(check(Call::start_progress, 200, R"({"task_id":"task-1"})"), Errc::bad_response,
               {kWhere, "start_progress expects HTTP 201, got HTTP 200"});
  expect_error(check(Call::start_progress, 202, R"({"task_id":"task-1"})"), Errc::bad_response, {"got HTTP 202"});
  auto no_task = check(Call::start_progress, 201, R"({"id":"task-1"})");
  assert_true(no_task.has_value());
  expect_error(parse_task_id(*no_task), Errc::bad_response, {"no task_id", "{\"id\":\"task-1\"}"});
  expect_error(parse_task_id(json{{"task_id", nullptr}}), Errc::bad_response, {"no task_id"});
  expect_error(parse_task_id(json{{"task_id", ""}}), Errc::bad_response, {"no task_id"});
}

// JSON nested deeper than kMaxJsonDepth: BadResponse on a 2xx (never a stack overflow in the
// parsers that copy it), and an error status keeps its meaning.
static void deep_bodies(void**) {
  auto nested = [](size_t depth, const std::string& open, const std::string& close) {
    std::string s;
    for (size_t i = 0; i < depth; ++i) s += open;
    s += "1";
    for (size_t i = 0; i < depth; ++i) s += close;
    return s;
  };
  // 64 levels of containers in all (the outer object is one): accepted, and parsed.
  auto at_limit = check(Call::get_service, 200, R"({"id":"x","status":"busy","metadata":{"a":)" + nested(62, "[", "]") + "}}");
  assert_true(at_limit.has_value());
  assert_true(parse_service(*at_limit).has_value());
  expect_error(check(Call::get_service, 200, R"({"id":"x","status":"busy","metadata":{"a":)" + nested(63, "[", "]") + "}}"),
               Errc::bad_response, {kWhere, "HTTP 200: the JSON body is nested deeper than 64 levels"});
  expect_error(check(Call::get_all, 200, R"({"services":{"x":{"id":"x","status":"s","metadata":)" + nested(200000, "{\"a\":", "}") + "}}}"),
               Errc::bad_response, {"nested deeper than 64 levels"});
  expect_error(check(Call::heartbeat, 200, "{\"a\":" + nested(500000, "[", "]") + "}"), Errc::bad_response, {"nested deeper"});
  expect_error(check(Call::heartbeat, 500, R"({"detail":"boom","x":)" + nested(500000, "[", "]") + "}"), Errc::server_error,
               {"HTTP 500: boom"});
  expect_error(check(Call::heartbeat, 422, R"({"detail":[{"loc":["body","status"],"msg":"bad","ctx":)" + nested(100000, "{\"a\":", "}") + "}]}"),
               Errc::invalid_status, {"body.status: bad"});
  expect_error(check(Call::get_service, 404, nested(100000, "[", "]")), Errc::bad_response, {"HTTP 404"});
}

// §5 and §8's 404 handling.
static void not_found(void**) {
  for (Call c : {Call::heartbeat, Call::get_service})
    expect_error(check(c, 404, R"({"detail":"Service not found: rig07"})"), Errc::service_not_found,
                 {kWhere, "Service not found: rig07"});
  for (Call c : {Call::start_progress, Call::update_progress, Call::complete_progress}) {
    auto r = check(c, 404, R"({"detail":"Not Found"})");
    expect_error(r, Errc::progress_not_supported, {});
    assert_str(r.error().message,
               "ProgressNotSupported: server http://monitor.lab:8000 has no /api/progress endpoints (HTTP 404)");
  }
  for (Call c : {Call::update_progress, Call::complete_progress}) {
    expect_error(check(c, 404, R"({"detail":"Task not found: task-9"})"), Errc::progress_task_not_found,
                 {kWhere, "Task not found: task-9"});
    // Not exactly {"detail":"Not Found"}: a route that exists, so the task is what was not found.
    expect_error(check(c, 404, R"({"detail":"Not Found","task_id":"task-9"})"), Errc::progress_task_not_found, {"Not Found"});
    expect_error(check(c, 404, R"({"detail":"not found"})"), Errc::progress_task_not_found, {"not found"});
    expect_error(check(c, 404, ""), Errc::progress_task_not_found, {kWhere});
  }
  // start has no task to miss: any other 404 is reported with its status and body.
  expect_error(check(Call::start_progress, 404, R"({"detail":"Service not found: rig07"})"), Errc::bad_response,
               {kWhere, "HTTP 404", "Service not found: rig07"});
  // A missing route on a service call is not a missing service.
  expect_error(check(Call::heartbeat, 404, R"({"detail":"Not Found"})"), Errc::bad_response, {"HTTP 404: Not Found"});
  expect_error(check(Call::get_service, 404, "<html>nope</html>"), Errc::bad_response, {"HTTP 404", "nope"});
}

static void unprocessable(void**) {
  auto s = check(Call::heartbeat, 422, kPermitted);
  expect_error(s, Errc::invalid_status,
               {kWhere, "body.status: value is not a valid enumeration member",
                "(the server accepts: healthy, warning, degraded, error, busy, stale, unknown)"});
  // pydantic 2: no enum_values, so no list, still InvalidStatus.
  auto v2 = check(Call::heartbeat, 422,
                  R"({"detail":[{"type":"enum","loc":["body","status"],"msg":"Input should be 'healthy' or 'unknown'","input":"idle","ctx":{"expected":"'healthy' or 'unknown'"}}]})");
  expect_error(v2, Errc::invalid_status, {"body.status: Input should be 'healthy' or 'unknown'"});
  assert_true(v2.error().message.find("the server accepts") == std::string::npos);
  // A smaller enum: the list is the server's, verbatim.
  expect_error(check(Call::heartbeat, 422,
                     R"({"detail":[{"loc":["body","status"],"msg":"bad","type":"type_error.enum","ctx":{"enum_values":["healthy","unknown"]}}]})"),
               Errc::invalid_status, {"body.status: bad (the server accepts: healthy, unknown)"});

  expect_error(check(Call::register_service, 422,
                     R"({"detail":[{"loc":["body","service_name"],"msg":"field required","type":"value_error.missing"}]})"),
               Errc::invalid_request, {kWhere, "body.service_name: field required"});
  expect_error(check(Call::register_service, 422,
                     R"({"detail":[{"loc":["body",12],"msg":"Expecting value","type":"value_error.jsondecode"}]})"),
               Errc::invalid_request, {"body.12: Expecting value"});
  // "status" that is not the last part of loc is not the heartbeat's status.
  expect_error(check(Call::update_progress, 422,
                     R"({"detail":[{"loc":["body","status","x"],"msg":"str type expected","type":"type_error.str"}]})"),
               Errc::invalid_request, {"body.status.x: str type expected"});
  expect_error(check(Call::heartbeat, 422, R"({"detail":"plain text"})"), Errc::invalid_request, {kWhere, "plain text"});
  expect_error(check(Call::heartbeat, 422, R"({"detail":[]})"), Errc::invalid_request, {kWhere});
  expect_error(check(Call::heartbeat, 422, "not json"), Errc::invalid_request, {"not json"});
}

static void server_errors(void**) {
  expect_error(check(Call::heartbeat, 500, R"({"detail":"Internal server error"})"), Errc::server_error,
               {kWhere, "HTTP 500: Internal server error"});
  expect_error(check(Call::register_service, 500, R"({"detail":"Failed to process heartbeat: boom"})"), Errc::server_error,
               {"HTTP 500: Failed to process heartbeat: boom"});
  expect_error(check(Call::get_all, 503, R"({"detail":"maintenance"})"), Errc::server_error, {"HTTP 503: maintenance"});
  expect_error(check(Call::start_progress, 502, "Bad Gateway"), Errc::server_error, {"HTTP 502", "Bad Gateway"});
  expect_error(check(Call::health, 500, ""), Errc::server_error, {"HTTP 500"});
  // A body that is neither JSON nor UTF-8 (a proxy's page, binary junk), or UTF-8 cut inside a
  // character at 200 bytes: reported with replacement characters, never an exception.
  expect_error(check(Call::heartbeat, 502, "Bad Gateway \xff\xfe"), Errc::server_error, {"HTTP 502", "Bad Gateway \xEF\xBF\xBD"});
  expect_error(check(Call::get_service, 404, std::string(199, 'a') + "\xC3\xA9"), Errc::bad_response,
               {"HTTP 404", std::string(199, 'a') + "\xEF\xBF\xBD"});
  expect_error(check(Call::update_progress, 422, "\x80"), Errc::invalid_request, {"\xEF\xBF\xBD"});
  expect_error(check(Call::start_progress, 404, "\xff"), Errc::bad_response, {"HTTP 404"});
  // Neither success nor a documented error: reported with the status and body.
  expect_error(check(Call::heartbeat, 405, R"({"detail":"Method Not Allowed"})"), Errc::bad_response,
               {kWhere, "unexpected HTTP 405: Method Not Allowed"});
  expect_error(check(Call::register_service, 307, ""), Errc::bad_response, {"unexpected HTTP 307"});
  expect_error(check(Call::heartbeat, 401, R"({"detail":"Not authenticated"})"), Errc::bad_response,
               {"unexpected HTTP 401: Not authenticated"});
  expect_error(check(Call::heartbeat, 400, R"({"detail":"There was an error parsing the body"})"), Errc::bad_response,
               {"HTTP 400"});
}

// §5: connection failures are Unreachable with the cause; deadlines are Timeout.
static void transport_errors(void**) {
  const std::pair<net::HttpErrc, Errc> map[] = {
      {net::HttpErrc::resolve_failed, Errc::unreachable},   {net::HttpErrc::connect_failed, Errc::unreachable},
      {net::HttpErrc::tls_failed, Errc::unreachable},       {net::HttpErrc::connection_closed, Errc::unreachable},
      {net::HttpErrc::bad_response, Errc::unreachable},     {net::HttpErrc::cancelled, Errc::unreachable},
      {net::HttpErrc::timeout, Errc::timeout},
  };
  for (const auto& [http, expected] : map) {
    const Error e = transport_error(Error{"http://h:1: cannot connect: Connection refused", static_cast<int>(http)});
    assert_int_equal(e.code, static_cast<int>(expected));
    assert_str(e.message, std::string(to_string(expected)) + ": http://h:1: cannot connect: Connection refused");
  }
  assert_int_equal(errc(make_laneswap_error(Errc::not_connected, "x")), static_cast<int>(Errc::not_connected));
  assert_str(make_laneswap_error(Errc::invalid_argument, "why").message, "InvalidArgument: why");
  assert_str(to_string(Errc::progress_task_not_found), "ProgressTaskNotFound");
}

// §4.3: every spelling of one instant compares equal.
static void timestamps_equal(void**) {
  const TimePoint frac = kInstant + 998487us;
  for (const char* text : {"2026-11-21T19:26:33.998487+00:00", "2026-11-21T19:26:33.998487Z", "2026-11-21T19:26:33.998487z",
                           "2026-11-21T19:26:33.998487", "2026-11-21T19:26:33.998487-00:00", "2026-11-21T19:26:33.998487+0000",
                           "2026-11-21T14:26:33.998487-05:00", "2026-11-22T00:56:33.998487+05:30",
                           "2026-11-22T00:56:33.998487+0530", "2026-11-21T14:26:33.998487-0500", "2026-11-21t19:26:33.998487Z",
                           "2026-11-21 19:26:33.998487+00:00", "2026-11-21T19:26:33.998487000Z", "2026-11-21T19:26:33.9984870Z"})
    if (ts(text) != frac) fail_msg("%s is %lld ns off", text, nanos_between(frac, ts(text)));
  for (const char* text : {"2026-11-21T19:26:33+00:00", "2026-11-21T19:26:33Z", "2026-11-21T19:26:33", "2026-11-21T20:26:33+01:00",
                           "2026-11-21T09:56:33-0930", "2026-11-21T19:26:33.0Z", "2026-11-21T19:26:33.000000000+00:00"})
    if (ts(text) != kInstant) fail_msg("%s is %lld ns off", text, nanos_between(kInstant, ts(text)));
  // Across a day and a year boundary.
  assert_true(ts("2026-12-31T23:30:00-01:00") == ts("2027-01-01T00:30:00Z"));
  assert_true(ts("1970-01-01T00:00:00Z") == std::chrono::system_clock::from_time_t(0));
  assert_true(ts("2026-11-21T19:26:33.5Z") < ts("2026-11-21T19:26:33.500001Z"));
  assert_true(ts("2026-11-21T19:26:34+00:00") > ts("2026-11-21T19:26:33.999999Z"));
}

// 1-9 fraction digits, each worth what its place says.
static void timestamp_fractions(void**) {
  const std::string digits = "123456789";
  long long scale = 100000000;
  for (size_t n = 1; n <= 9; ++n, scale /= 10) {
    const std::string text = "2026-11-21T19:26:33." + digits.substr(0, n) + "Z";
    const long long expected = std::stoll(digits.substr(0, n)) * scale;
    if (nanos_between(kInstant, ts(text)) != expected)
      fail_msg("%s: %lld ns, expected %lld", text.c_str(), nanos_between(kInstant, ts(text)), expected);
  }
  assert_int_equal(nanos_between(kInstant, ts("2026-11-21T19:26:33.9+00:00")), 900000000);
  assert_int_equal(nanos_between(kInstant, ts("2026-11-21T19:26:33.000000001-00:00")), 1);
}

static void timestamp_garbage(void**) {
  for (const char* text : {"", "not a time", "2026-11-21", "2026-11-21T19:26", "2026-11-21T19:26:3", "2026-11-21T19:26:33.",
                           "2026-11-21T19:26:33.Z", "2026-11-21T19:26:33.1234567890Z", "2026-11-21T19:26:33,5Z",
                           "2026-13-01T00:00:00Z", "2026-00-01T00:00:00Z", "2026-11-00T00:00:00Z", "2026-11-32T00:00:00Z",
                           "2026-11-21T24:00:00Z", "2026-11-21T19:60:00Z", "2026-11-21T19:26:61Z", "2026-11-21X19:26:33Z",
                           "2026/11/21T19:26:33Z", "2026-1a-21T19:26:33Z", "20a6-11-21T19:26:33Z", "2026-11-21T19:26:33 Z",
                           "2026-11-21T19:26:33Z ", "2026-11-21T19:26:33ZZ", "2026-11-21T19:26:33+0:00", "2026-11-21T19:26:33+00:0",
                           "2026-11-21T19:26:33+00", "2026-11-21T19:26:33+000", "2026-11-21T19:26:33+00:00:00",
                           "2026-11-21T19:26:33+24:00", "2026-11-21T19:26:33+00:60", "2026-11-21T19:26:33+ab:cd",
                           "2026-11-21T19:26:33+00:00junk", "2026-11-21T19:26:33-", "2026-11-21T19:26:33+", "2026-11-21T19:26:33UTC",
                           "2026-11-21T19:26:33.5.5Z", " 2026-11-21T19:26:33Z", "null", "-026-11-21T19:26:33Z",
                           "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z", "2100-02-29T00:00:00Z"}) {
    auto r = parse_timestamp(text);
    if (r) fail_msg("parse_timestamp accepted '%s'", text);
    expect_error(r, Errc::bad_response, {"not an ISO-8601 timestamp"});
  }
  expect_error(parse_timestamp(std::string_view("2026-11-21T19:26:33\0Z", 21)), Errc::bad_response, {"not an ISO-8601"});
  // Outside what a time_point holds (64-bit nanoseconds: 1677-2262), not an overflow.
  for (const char* text : {"4052-11-21T19:26:33Z", "9999-12-31T23:59:59.999999999-23:59", "2263-01-01T00:00:00Z", "0000-01-01T00:00:00Z",
                           "1600-01-01T00:00:00Z"})
    expect_error(parse_timestamp(text), Errc::bad_response, {"not an ISO-8601"});
  assert_true(parse_timestamp("2261-12-31T23:59:59.999999999+00:00").has_value());
  assert_true(parse_timestamp("1678-01-02T00:00:00Z").has_value());
  assert_true(parse_timestamp("2024-02-29T12:00:00Z").has_value());
  // Past 2038-01-19, where a 32-bit time_t ends (armhf builds use a 64-bit one: _TIME_BITS=64).
  const auto y2038 = parse_timestamp("2038-01-19T03:14:08Z");
  assert_true(y2038.has_value());
  assert_true(std::chrono::duration_cast<std::chrono::seconds>(y2038->time_since_epoch()).count() == 2147483648LL);
  const auto y2100 = parse_timestamp("2100-03-01T00:00:00+01:00");
  assert_true(y2100.has_value());
  assert_true(std::chrono::duration_cast<std::chrono::seconds>(y2100->time_since_epoch()).count() == 4107538800LL);
}

// §2.2's heartbeat answer and §2.3's record right after registration.
static void service_records(void**) {
  auto s = parse_service(json::parse(
      R"({"id":"rig07","name":"rigagent-rig07","status":"busy","message":"acquiring","metadata":{"version":"1.4.0","session":"s-42"},"created_at":"2026-11-21T19:26:33.998487+00:00","last_heartbeat":"2026-11-21T19:26:34.136512Z","events":[{"type":"heartbeat","timestamp":"2026-11-21T19:26:34.136512+00:00","status":"busy","message":"acquiring"}],"future_key":[1,2]})"));
  assert_true(s.has_value());
  assert_str(s->id, "rig07");
  assert_str(s->name, "rigagent-rig07");
  assert_str(s->status, "busy");
  assert_str(*s->message, "acquiring");
  assert_str(s->metadata.dump(), R"({"version":"1.4.0","session":"s-42"})");
  assert_true(*s->created_at == kInstant + 998487us);
  assert_true(*s->last_heartbeat == kInstant + 1s + 136512us);
  assert_int_equal(s->events.size(), 1);
  assert_str(s->events[0].type, "heartbeat");
  assert_str(s->events[0].status, "busy");
  assert_str(s->events[0].message, "acquiring");
  assert_true(s->events[0].timestamp == s->last_heartbeat);
  assert_false(s->status_message.has_value());
  assert_true(s->raw.contains("future_key"));

  auto fresh = parse_service(json::parse(
      R"({"id":"0eff46cd","name":"worker-a","status":"unknown","message":null,"metadata":{"version":"1.0"},"created_at":"2026-11-21T19:26:33.998487Z","last_heartbeat":null,"events":[]})"));
  assert_true(fresh.has_value());
  assert_str(fresh->status, "unknown");
  assert_false(fresh->message.has_value());
  assert_false(fresh->last_heartbeat.has_value());
  assert_true(*fresh->created_at == kInstant + 998487us);
  assert_true(fresh->events.empty());

  // Only id and status are required; wrong types leave the field empty.
  auto bare = parse_service(json{{"id", "x"}, {"status", "stale"}, {"metadata", "no"}, {"events", {1, json::object()}}, {"created_at", "garbage"}});
  assert_true(bare.has_value());
  assert_str(bare->name, "");
  assert_str(bare->metadata.dump(), "{}");
  assert_false(bare->created_at.has_value());
  assert_int_equal(bare->events.size(), 1);
  assert_false(bare->events[0].timestamp.has_value());

  expect_error(parse_service(json{{"status", "busy"}}), Errc::bad_response, {"without id or status"});
  expect_error(parse_service(json{{"id", "x"}}), Errc::bad_response, {"without id or status"});
  expect_error(parse_service(json{{"id", 7}, {"status", "busy"}}), Errc::bad_response, {"without id or status"});
  expect_error(parse_service(json::array()), Errc::bad_response, {"not an object"});
}

// §2.4: an object keyed by id, raw records with extra keys, the summary.
static void service_lists(void**) {
  auto l = parse_service_list(json::parse(R"({"services":{
      "rig07":{"id":"rig07","name":"a","status":"busy","message":"acquiring","metadata":{},"created_at":"2026-11-21T19:26:33.998487+00:00","last_heartbeat":"2026-11-21T19:26:34+00:00","events":[],"status_message":"acquiring","last_message":null,"updated_at":"2026-11-21T19:26:34+00:00"},
      "rig08":{"status":"stale","name":"b","status_message":"No heartbeat received in 60 seconds","last_message":null,"extra":{"x":1}}},
    "summary":{"total":2,"status_counts":{"healthy":0,"warning":0,"degraded":0,"error":0,"busy":1,"stale":1,"unknown":0}}})"));
  assert_true(l.has_value());
  assert_int_equal(l->services.size(), 2);
  const auto& a = l->services.at("rig07");
  assert_str(a.status, "busy");
  assert_str(*a.status_message, "acquiring");
  assert_true(*a.last_heartbeat == kInstant + 1s);
  const auto& b = l->services.at("rig08");
  assert_str(b.id, "rig08");  // injected from the key
  assert_str(b.status, "stale");
  assert_str(*b.status_message, "No heartbeat received in 60 seconds");
  assert_int_equal(l->total, 2);
  assert_int_equal(l->status_counts.size(), 7);
  assert_int_equal(l->status_counts.at("busy"), 1);
  assert_int_equal(l->status_counts.at("stale"), 1);
  assert_int_equal(l->status_counts.at("healthy"), 0);

  auto empty = parse_service_list(json::parse(R"({"services":{},"summary":{"total":0,"status_counts":{}}})"));
  assert_true(empty.has_value());
  assert_true(empty->services.empty());
  assert_int_equal(empty->total, 0);
  auto no_summary = parse_service_list(json::parse(R"({"services":{"x":{"status":"unknown"}}})"));
  assert_true(no_summary.has_value());
  assert_int_equal(no_summary->total, 0);
  assert_str(no_summary->services.at("x").id, "x");

  expect_error(parse_service_list(json::parse(R"({"services":[]})")), Errc::bad_response, {"no \"services\" object"});
  expect_error(parse_service_list(json::parse(R"({"summary":{}})")), Errc::bad_response, {"no \"services\" object"});
  expect_error(parse_service_list(json::array()), Errc::bad_response, {"no \"services\" object"});
  expect_error(parse_service_list(json::parse(R"({"services":{"x":{"name":"no status"}}})")), Errc::bad_response,
               {"without id or status"});
  expect_error(parse_service_list(json::parse(R"({"services":{"x":5}})")), Errc::bad_response, {"not an object"});
}

// reporter.hpp: the nearest status a server that refused one may accept; "unknown" last.
static void fallback_chain(void**) {
  using S = Status;
  auto fb = [](S s, std::set<S> refused) { return fallback_status(s, refused); };
  auto is = [](std::optional<S> got, S want) {
    if (!got) fail_msg("no fallback, expected %s", api_name(want));
    if (*got != want) fail_msg("fallback %s, expected %s", api_name(*got), api_name(want));
  };
  is(fb(S::warning, {S::warning}), S::degraded);
  is(fb(S::warning, {S::warning, S::degraded}), S::healthy);
  is(fb(S::warning, {S::warning, S::degraded, S::healthy}), S::unknown);
  assert_false(fb(S::warning, {S::warning, S::degraded, S::healthy, S::unknown}).has_value());
  is(fb(S::degraded, {S::degraded}), S::warning);
  is(fb(S::degraded, {S::degraded, S::warning}), S::healthy);
  is(fb(S::error, {S::error}), S::degraded);
  is(fb(S::error, {S::error, S::degraded}), S::warning);
  is(fb(S::error, {S::error, S::degraded, S::warning}), S::unknown);
  is(fb(S::busy, {S::busy}), S::healthy);
  is(fb(S::busy, {S::busy, S::healthy}), S::unknown);
  is(fb(S::idle, {}), S::healthy);
  is(fb(S::shutdown, {}), S::unknown);
  is(fb(S::stale, {S::stale}), S::unknown);
  is(fb(S::healthy, {S::healthy}), S::unknown);
  assert_false(fb(S::unknown, {S::unknown}).has_value());
  assert_false(fb(S::shutdown, {S::unknown}).has_value());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(wire_mapping),      cmocka_unit_test(status_names),       cmocka_unit_test(base_path),
      cmocka_unit_test(path_segments),     cmocka_unit_test(register_bodies),    cmocka_unit_test(heartbeat_bodies),
      cmocka_unit_test(progress_bodies),   cmocka_unit_test(success_responses),  cmocka_unit_test(not_found),
      cmocka_unit_test(unprocessable),     cmocka_unit_test(server_errors),      cmocka_unit_test(transport_errors),
      cmocka_unit_test(timestamps_equal),  cmocka_unit_test(timestamp_fractions), cmocka_unit_test(timestamp_garbage),
      cmocka_unit_test(service_records),   cmocka_unit_test(service_lists),      cmocka_unit_test(fallback_chain),
      cmocka_unit_test(deep_bodies),
  };
  return cmocka_run_group_tests_name("laneswap_protocol", tests, nullptr, nullptr);
}
