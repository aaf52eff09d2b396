// The agent with its application link, over real sockets: a DEALER in the test plays the
// acquisition application, a REQ and a SUB play the remote console.
#include "support/peer.hpp"
#include "support/cmocka.hpp"

#include <unistd.h>

#include <chrono>
#include <memory>

#include "daemon.hpp"
#include "rpc/protocol.hpp"

using namespace rig;
using namespace rig::rpc;
using namespace rig::test;
using namespace std::chrono_literals;

namespace {

std::string temp_ipc() {
  static int n = 0;
  return "ipc:///tmp/rigagent-test-" + std::to_string(getpid()) + "-" + std::to_string(++n) + ".sock";
}

struct Rig {
  explicit Rig(int64_t app_timeout_ms = 500) : agent(make_config(app_timeout_ms)) {
    auto r = agent.start();
    if (!r) fail_msg("agent start: %s", r.error().message.c_str());
    sub.emplace(make_sub(ctx, agent.service().bound_pub_endpoints()[0]));
    req.emplace(make_req(ctx, agent.service().bound_command_endpoints()[0]));
    if (!wait_subscribed(*sub, [this] { agent.service().publish(Topic::any, "probe"); })) fail_msg("SUB never connected");
  }
  static Config make_config(int64_t app_timeout_ms) {
    Config c;
    c.rpc.pub_endpoints = {"tcp://127.0.0.1:*"};
    c.rpc.command_endpoints = {"tcp://127.0.0.1:*"};
    c.rpc.heartbeat_interval = 60;
    c.app_link.endpoint = temp_ipc();
    c.app_link.command_timeout_ms = app_timeout_ms;
    c.hal.control_socket = "";  // no `rigagent hal` socket: tests may run side by side
    return c;
  }
  // Connects the pretend application and waits for rigagent's welcome.
  zmq::socket_t connect_app(const std::string& name = "test-app") {
    zmq::socket_t app(ctx, zmq::socket_type::dealer);
    app.set(zmq::sockopt::linger, 0);
    app.connect(agent.config().app_link.endpoint);
    send(app, json{{"type", "hello"}, {"name", name}});
    json w = next(app);
    if (w.value("type", "") != "welcome") fail_msg("expected welcome, got %s", w.dump().c_str());
    return app;
  }
  static void send(zmq::socket_t& app, const json& m) { app.send(zmq::buffer(m.dump()), zmq::send_flags::none); }
  static json next(zmq::socket_t& app, int timeout_ms = 2000) {
    auto f = recv_frames(app, timeout_ms);
    if (!f) return json();
    if (f->size() != 1) fail_msg("app got %zu frames", f->size());
    return json::parse((*f)[0]);
  }
  void send_request(const std::string& body) { req->send(zmq::buffer(body), zmq::send_flags::none); }
  json reply(int timeout_ms = 3000) {
    auto f = recv_frames(*req, timeout_ms);
    if (!f) fail_msg("no reply within %d ms", timeout_ms);
    return json::parse((*f)[0]);
  }

  zmq::context_t ctx{1};
  Agent agent;
  std::optional<zmq::socket_t> sub, req;
};

}  // namespace

static void no_application_means_unavailable(void**) {
  Rig rig;
  json r = ask_json(*rig.req, "{\"command\":100,\"nonce\":1}");
  assert_int_equal(r["result"].get<int>(), result::unavailable);
  assert_non_null(strstr(r["errorMessage"].get<std::string>().c_str(), "no acquisition application is connected"));
  // Commands rigagent owns are answered without an application.
  assert_int_equal(ask_json(*rig.req, "{\"command\":0}")["result"].get<int>(), result::success);
  json s = ask_json(*rig.req, "{\"command\":400,\"nonce\":2}");
  assert_int_equal(s["result"].get<int>(), result::success);
  assert_false(s["data"]["applicationConnected"].get<bool>());
  assert_true(s["data"].contains("appStatus") && s["data"].contains("trainingMode") && s["data"].contains("animalId"));
}

static void forwarded_command_and_command_result(void**) {
  Rig rig;
  auto app = rig.connect_app();
  rig.send_request("{\"command\":100,\"nonce\":14,\"data\":{\"session_name\":\"Bob Smith\"}}");
  json cmd = Rig::next(app);
  assert_str(cmd["type"].get<std::string>(), "command");
  assert_int_equal(cmd["command"].get<int>(), 100);
  assert_int_equal(cmd["nonce"].get<int>(), 14);
  assert_str(cmd["data"].dump(), "{\"session_name\":\"Bob Smith\"}");  // passed on unchanged
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"result", 201}});
  json r = rig.reply();
  assert_int_equal(r["result"].get<int>(), 201);
  assert_int_equal(r["nonce"].get<int>(), 14);
  Rig::send(app, json{{"type", "commandResult"}, {"command", 100}, {"nonce", 14}, {"result", 100}, {"data", {{"frame_count", 3}}}});
  auto m = recv_frames(*rig.sub, 2000);
  assert_true(m.has_value());
  assert_int_equal(*parse_topic_frame((*m)[0]), 6001);
  assert_str((*m)[1], "{\"result\":100,\"data\":{\"frameCount\":3},\"errorCode\":0,\"errorMessage\":null,\"command\":100,"
                      "\"nonce\":14,\"errorKind\":0}");
}

static void user_defined_and_errors_from_the_app(void**) {
  Rig rig;
  auto app = rig.connect_app();
  rig.send_request("{\"command\":555,\"custom_command\":7,\"nonce\":3}");
  json cmd = Rig::next(app);
  assert_int_equal(cmd["command"].get<int>(), 99999);
  assert_int_equal(cmd["customCommand"].get<int>(), 7);
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"result", 400}, {"errorCode", 12}, {"errorMessage", "nope"}});
  json r = rig.reply();
  assert_int_equal(r["command"].get<int>(), 99999);
  assert_int_equal(r["errorKind"].get<int>(), 2);
  assert_int_equal(r["errorCode"].get<int>(), 12);

  rig.send_request("{\"command\":300,\"nonce\":4}");
  cmd = Rig::next(app);
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"exception", "KeyError: 'x'"}});
  r = rig.reply();
  assert_int_equal(r["result"].get<int>(), 500);
  assert_str(r["errorMessage"].get<std::string>(), "KeyError: 'x'");

  rig.send_request("{\"command\":300,\"nonce\":5}");
  cmd = Rig::next(app);
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"result", "ok"}});  // not an integer
  r = rig.reply();
  assert_int_equal(r["result"].get<int>(), 400);
  assert_int_equal(r["errorCode"].get<int>(), error_code::app_protocol);
}

static void application_timeout_is_a_clear_failure(void**) {
  Rig rig(300);
  auto app = rig.connect_app();
  auto t0 = std::chrono::steady_clock::now();
  rig.send_request("{\"command\":110,\"nonce\":6}");
  json cmd = Rig::next(app);  // received, never answered
  assert_str(cmd["type"].get<std::string>(), "command");
  // Meanwhile other remotes are served.
  auto other = make_req(rig.ctx, rig.agent.service().bound_command_endpoints()[0]);
  assert_int_equal(ask_json(other, "{\"command\":0}")["result"].get<int>(), 100);
  json r = rig.reply(2000);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  assert_int_equal(r["result"].get<int>(), result::failed);
  assert_int_equal(r["errorKind"].get<int>(), 2);
  assert_int_equal(r["errorCode"].get<int>(), error_code::app_timeout);
  assert_non_null(strstr(r["errorMessage"].get<std::string>().c_str(), "did not answer STOP_ACQUISITION within 300 ms"));
  if (ms < 280 || ms > 1500) fail_msg("timeout reply after %.0f ms", ms);
  // A late answer is ignored, not sent to a later request.
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"result", 100}});
  assert_int_equal(ask_json(*rig.req, "{\"command\":0,\"nonce\":9}")["nonce"].get<int>(), 9);
}

static void application_gone_means_unavailable(void**) {
  Rig rig;
  {
    auto app = rig.connect_app();
    assert_true(ask_json(*rig.req, "{\"command\":400}")["data"]["applicationConnected"].get<bool>());
  }  // the application exits without a word
  // GET_STATUS notices at once, without a command having to fail first.
  bool gone = false;
  for (int i = 0; i < 40 && !gone; ++i) {
    gone = !ask_json(*rig.req, "{\"command\":400}")["data"]["applicationConnected"].get<bool>();
    if (!gone) std::this_thread::sleep_for(25ms);
  }
  assert_true(gone);
  json r = ask_json(*rig.req, "{\"command\":100,\"nonce\":2}");
  assert_int_equal(r["result"].get<int>(), result::unavailable);
  assert_false(ask_json(*rig.req, "{\"command\":400}")["data"]["applicationConnected"].get<bool>());
}

static void status_and_events_from_the_app(void**) {
  Rig rig;
  auto app = rig.connect_app();
  Rig::send(app, json{{"type", "status"}, {"app_status", 100}, {"trainingMode", 300}, {"animalId", "M-1"}});
  Rig::send(app, json{{"type", "event"}, {"kind", 1501}, {"context", {{"pellet_id", 3}}}});
  auto m = recv_frames(*rig.sub, 2000);
  assert_true(m.has_value());
  json e = json::parse((*m)[1]);
  assert_int_equal(e["kind"].get<int>(), 1501);
  assert_int_equal(e["context"]["pelletId"].get<int>(), 3);
  assert_true(e["index"].is_number_unsigned() && e["when"].is_number_float());
  json s = ask_json(*rig.req, "{\"command\":400}")["data"];
  assert_int_equal(s["appStatus"].get<int>(), 100);
  assert_int_equal(s["trainingMode"].get<int>(), 300);
  assert_str(s["animalId"].get<std::string>(), "M-1");
  // The application's own e-stop: EMERGENCY then EVENT, and the latch follows.
  Rig::send(app, json{{"type", "publish"}, {"topic", 4001},
                      {"body", {{"kind", 101}, {"when", 1.0}, {"index", 1}, {"context", {{"reason", "app"}}}}}});
  auto a = recv_frames(*rig.sub, 2000), b = recv_frames(*rig.sub, 2000);
  assert_int_equal(*parse_topic_frame((*a)[0]), 2001);
  assert_int_equal(*parse_topic_frame((*b)[0]), 4001);
  assert_str((*a)[1], (*b)[1]);
  json st = ask_json(*rig.req, "{\"command\":400}")["data"];
  assert_true(st["emergencyStopped"].get<bool>());
  assert_str(st["emergencySource"].get<std::string>(), "application");
}

static void shutdown_answers_held_requests(void**) {
  auto rig = std::make_unique<Rig>(5000);
  auto app = rig->connect_app();
  rig->send_request("{\"command\":100,\"nonce\":21}");
  assert_str(Rig::next(app)["type"].get<std::string>(), "command");  // held, never answered
  rig->agent.stop();
  json r = rig->reply(2000);
  assert_int_equal(r["result"].get<int>(), result::unavailable);
  assert_int_equal(r["nonce"].get<int>(), 21);  // the reply still echoes the request
  assert_int_equal(r["command"].get<int>(), 100);
  assert_str(r["errorMessage"].get<std::string>(), "rigagent is shutting down");
}

static void reply_data_keys_are_camelcase_and_bad_results_still_publish(void**) {
  Rig rig;
  auto app = rig.connect_app();
  rig.send_request("{\"command\":300,\"nonce\":2}");
  json cmd = Rig::next(app);
  Rig::send(app, json{{"type", "reply"}, {"id", cmd["id"]}, {"result", 100},
                      {"data", {{"device_id", "Raw_Data-Local"}, {"log_location", "/a/b_c"}}}});
  json r = rig.reply();
  assert_str(r["data"].dump(), "{\"deviceId\":\"Raw_Data-Local\",\"logLocation\":\"/a/b_c\"}");
  // A commandResult whose optional fields are wrong still reaches the waiting remote.
  Rig::send(app, json{{"type", "commandResult"}, {"command", 100}, {"nonce", 5}, {"result", 100}, {"errorCode", "x"}});
  assert_str(Rig::next(app)["type"].get<std::string>(), "error");
  auto m = recv_frames(*rig.sub, 2000);
  assert_true(m.has_value());
  json cr = json::parse((*m)[1]);
  assert_int_equal(cr["nonce"].get<int>(), 5);
  assert_int_equal(cr["result"].get<int>(), result::failed);
  assert_int_equal(cr["errorCode"].get<int>(), error_code::app_protocol);
}

static void second_agent_cannot_steal_the_app_link(void**) {
  Rig first;
  Config c = Rig::make_config(500);
  c.app_link.endpoint = first.agent.config().app_link.endpoint;
  Agent second(c);
  auto r = second.start();
  assert_false(r.has_value());
  assert_non_null(strstr(r.error().message.c_str(), "another process (another rigagent?) is serving on that path"));
  auto app = first.connect_app();  // the first agent's link still works
  assert_true(ask_json(*first.req, "{\"command\":400}")["data"]["applicationConnected"].get<bool>());
}

static void emergency_commands_tell_the_app(void**) {
  Rig rig;
  auto app = rig.connect_app();
  json r = ask_json(*rig.req, "{\"command\":200,\"nonce\":1,\"data\":{\"reason\":\"door open\"}}");
  assert_int_equal(r["result"].get<int>(), 100);
  json n = Rig::next(app);
  assert_str(n["type"].get<std::string>(), "emergency");
  assert_int_equal(n["kind"].get<int>(), 101);
  assert_str(n["context"]["reason"].get<std::string>(), "door open");
  auto a = recv_frames(*rig.sub, 2000), b = recv_frames(*rig.sub, 2000);
  assert_int_equal(*parse_topic_frame((*a)[0]), 2001);
  assert_int_equal(*parse_topic_frame((*b)[0]), 4001);
  // A second stop changes nothing and publishes nothing.
  assert_true(ask_json(*rig.req, "{\"command\":200}")["data"]["alreadyStopped"].get<bool>());
  assert_false(recv_frames(*rig.sub, 200).has_value());
  ask_json(*rig.req, "{\"command\":210}");
  assert_int_equal(Rig::next(app)["kind"].get<int>(), 102);
  assert_false(ask_json(*rig.req, "{\"command\":400}")["data"]["emergencyStopped"].get<bool>());
}

static void malformed_app_messages_get_an_error(void**) {
  Rig rig;
  auto app = rig.connect_app();
  const char* bad[] = {"nonsense", "[]", "{\"type\":\"dance\"}", "{\"type\":\"publish\",\"topic\":-1,\"body\":{}}",
                       "{\"type\":\"event\"}", "{\"type\":\"reply\"}", "{\"type\":7}",
                       "{\"type\":\"ping\",\"x\":1e400}"};
  for (const char* b : bad) {
    app.send(zmq::buffer(std::string(b)), zmq::send_flags::none);
    json e = Rig::next(app);
    if (e.value("type", "") != "error") fail_msg("no error reply for %s", b);
    assert_true(e["message"].get<std::string>().rfind("malformed app-link message", 0) == 0);
  }
  // Two frames from the application (a REQ-style delimiter) is also an error, not a guess.
  app.send(zmq::buffer(std::string()), zmq::send_flags::sndmore);
  app.send(zmq::buffer(std::string("{\"type\":\"ping\"}")), zmq::send_flags::none);
  assert_str(Rig::next(app)["type"].get<std::string>(), "error");
  // Still working.
  Rig::send(app, json{{"type", "ping"}});
  assert_str(Rig::next(app)["type"].get<std::string>(), "pong");
  assert_int_equal(ask_json(*rig.req, "{\"command\":0}")["result"].get<int>(), 100);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(no_application_means_unavailable),
      cmocka_unit_test(forwarded_command_and_command_result),
      cmocka_unit_test(user_defined_and_errors_from_the_app),
      cmocka_unit_test(application_timeout_is_a_clear_failure),
      cmocka_unit_test(application_gone_means_unavailable),
      cmocka_unit_test(status_and_events_from_the_app),
      cmocka_unit_test(emergency_commands_tell_the_app),
      cmocka_unit_test(shutdown_answers_held_requests),
      cmocka_unit_test(reply_data_keys_are_camelcase_and_bad_results_still_publish),
      cmocka_unit_test(second_agent_cannot_steal_the_app_link),
      cmocka_unit_test(malformed_app_messages_get_an_error),
  };
  return cmocka_run_group_tests_name("app_link", tests, nullptr, nullptr);
}
