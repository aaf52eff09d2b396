// The RpcService over real ZeroMQ sockets on loopback: frames and topics, heartbeat timing,
// emergency duplication order, every reply path, malformed input, slow handlers, the queue's
// overflow policy, bind failures and a clean stop.
#include "support/peer.hpp"
#include "support/cmocka.hpp"

#include <atomic>
#include <chrono>
#include <stdexcept>

#include "core/clock.hpp"
#include "rpc/service.hpp"

using namespace rig;
using namespace rig::rpc;
using namespace rig::test;
using namespace std::chrono_literals;

namespace {

ServiceOptions loopback(int heartbeat_ms = 60000) {
  ServiceOptions o;
  o.pub_endpoints = {"tcp://127.0.0.1:*"};
  o.command_endpoints = {"tcp://127.0.0.1:*"};
  o.heartbeat_interval = std::chrono::milliseconds(heartbeat_ms);
  o.version = "test";
  return o;
}

struct Fixture {
  explicit Fixture(ServiceOptions o = loopback()) : svc(std::move(o)) {}
  void start() {
    auto r = svc.start();
    if (!r) fail_msg("start failed: %s", r.error().message.c_str());
    sub.emplace(make_sub(ctx, svc.bound_pub_endpoints()[0]));
    req.emplace(make_req(ctx, svc.bound_command_endpoints()[0]));
    // Probe on a topic no test uses until the SUB is really connected.
    if (!wait_subscribed(*sub, [this] { svc.publish(Topic::any, "probe"); })) fail_msg("SUB never connected");
  }
  zmq::context_t ctx{1};
  RpcService svc;
  std::optional<zmq::socket_t> sub, req;
};

}  // namespace

static void two_frames_and_topic_bytes(void**) {
  Fixture f;
  f.start();
  f.svc.publish_json(Topic::property_change, json{{"property_name", "x"}});
  auto m = recv_frames(*f.sub, 2000);
  assert_true(m.has_value());
  assert_int_equal(m->size(), 2);
  assert_str((*m)[0], std::string("\x89\x13\x00\x00", 4));
  assert_str((*m)[1], "{\"propertyName\":\"x\"}");
  f.svc.publish(Topic::event, "raw string_payload");
  m = recv_frames(*f.sub, 2000);
  assert_str((*m)[0], std::string("\xa1\x0f\x00\x00", 4));
  assert_str((*m)[1], "raw string_payload");
}

static void heartbeat_cadence(void**) {
  Fixture f(loopback(200));
  zmq::context_t ctx(1);
  auto t0 = std::chrono::steady_clock::now();
  auto r = f.svc.start();
  assert_true(r.has_value());
  auto sub = make_sub(ctx, f.svc.bound_pub_endpoints()[0], topic_frame(1001));
  std::vector<double> at;
  while (at.size() < 4) {
    auto m = recv_frames(sub, 2000);
    if (!m) fail_msg("no heartbeat within 2 s");
    at.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    json hb = json::parse((*m)[1]);
    assert_int_equal(hb.size(), 3);
    assert_str(hb["identifier"].get<std::string>(), "autotrainer-device");
    assert_str(hb["version"].get<std::string>(), "test");
    assert_true(std::fabs(hb["timestamp"].get<double>() - wall_seconds()) < 2.0);
  }
  // The first heartbeat comes one interval after start, not at once; then one per interval.
  if (at[0] < 190) fail_msg("first heartbeat after %.0f ms, expected about 200", at[0]);
  for (size_t i = 1; i < at.size(); ++i) {
    double gap = at[i] - at[i - 1];
    if (gap < 150 || gap > 300) fail_msg("heartbeat gap %.0f ms, expected about 200", gap);
  }
  // Stopped service: no more heartbeats.
  f.svc.stop();
  while (recv_frames(sub, 50)) {
  }
  assert_false(recv_frames(sub, 500).has_value());
}

static void emergency_before_event(void**) {
  Fixture f;
  f.start();
  f.svc.publish_event(201, json{{"animal_id", "A"}});
  f.svc.publish_event(event_kind::emergency_stop, json{{"reason", "Bob Smith"}});
  f.svc.publish_json(Topic::event, json{{"kind", 102}, {"when", 1.0}, {"index", 2}, {"context", nullptr}});
  // Emergencies take the urgent lane and may overtake the ordinary event 201 published before
  // them; among themselves they keep their order, each EMERGENCY before its EVENT copy.
  std::vector<Frames> got;
  int ordinary = 0;
  while (got.size() < 4) {
    auto m = recv_frames(*f.sub, 2000);
    if (!m) fail_msg("only %zu of 4 emergency messages arrived", got.size());
    if (json::parse((*m)[1])["kind"].get<int>() == 201) {
      ++ordinary;
      continue;
    }
    got.push_back(*m);
  }
  if (!ordinary) assert_int_equal(json::parse((*recv_frames(*f.sub, 2000))[1])["kind"].get<int>(), 201);
  assert_int_equal(*parse_topic_frame(got[0][0]), 2001);
  assert_int_equal(*parse_topic_frame(got[1][0]), 4001);
  assert_str(got[0][1], got[1][1]);  // byte-identical
  assert_int_equal(json::parse(got[0][1])["kind"].get<int>(), 101);
  assert_str(json::parse(got[0][1])["context"]["reason"].get<std::string>(), "Bob Smith");
  assert_int_equal(*parse_topic_frame(got[2][0]), 2001);
  assert_int_equal(*parse_topic_frame(got[3][0]), 4001);
  assert_int_equal(json::parse(got[2][1])["kind"].get<int>(), 102);
  assert_str(got[2][1], got[3][1]);
}

static void every_reply_path(void**) {
  Fixture f;
  f.svc.set_handler(command::none, [](const Request&, const Responder& r) { r(Response{result::success}); });
  f.svc.set_handler(command::get_status, [](const Request& q, const Responder& r) {
    r(Response{result::success, json{{"appStatus", 0}, {"trainingMode", 100}, {"animalId", "123456"}}, 0,
               "This is an error message"});
    (void)q;
  });
  f.svc.set_handler(command::get_configuration, [](const Request&, const Responder&) { throw std::runtime_error("disk on fire"); });
  f.svc.set_handler(command::emergency_resume, [](const Request&, const Responder& r) {
    r(Response{result::failed, nullptr, 12, "resume not_allowed right-now"});
  });
  f.svc.set_handler(command::stop_acquisition, [](const Request&, const Responder& r) {
    r(Response{result::success, json{{"s", std::string("\xff")}}});
  });
  f.svc.set_handler(command::user_defined, [](const Request& q, const Responder& r) {
    r(Response{result::success, json{{"custom", q.custom_command}, {"data", q.data}}});
  });
  f.start();
  auto& req = *f.req;
  assert_str(*ask(req, "{\"command\": 0, \"nonce\": 1}"),
             "{\"nonce\":1,\"command\":0,\"result\":100,\"data\":null,\"errorKind\":0,\"errorCode\":0,\"errorMessage\":null}");
  assert_str(*ask(req, "{\"command\":400,\"customCommand\":-1,\"nonce\":4,\"data\":null}"),
             "{\"nonce\":4,\"command\":400,\"result\":100,\"data\":{\"appStatus\":0,\"trainingMode\":100,\"animalId\":\"123456\"},"
             "\"errorKind\":0,\"errorCode\":0,\"errorMessage\":\"This is an error message\"}");
  assert_str(*ask(req, "{\"command\":300,\"nonce\":3}"),
             "{\"nonce\":3,\"command\":300,\"result\":500,\"data\":null,\"errorKind\":0,\"errorCode\":0,\"errorMessage\":\"disk on fire\"}");
  assert_str(*ask(req, "{\"command\":210,\"nonce\":7}"),
             "{\"nonce\":7,\"command\":210,\"result\":400,\"data\":null,\"errorKind\":2,\"errorCode\":12,"
             "\"errorMessage\":\"resume not_allowed right-now\"}");
  json ser = ask_json(req, "{\"command\":110,\"nonce\":8}");
  assert_int_equal(ser["errorKind"].get<int>(), 1);
  assert_int_equal(ser["errorCode"].get<int>(), 0);
  assert_true(ser["data"].is_null());
  // No handler for START_ACQUISITION: UNAVAILABLE.
  assert_str(*ask(req, "{\"command\":100,\"nonce\":9}"),
             "{\"nonce\":9,\"command\":100,\"result\":9999,\"data\":null,\"errorKind\":0,\"errorCode\":0,\"errorMessage\":null}");
  // Unknown command: USER_DEFINED, echoed as 99999; values exact, negative numbers kept.
  json ud = ask_json(req, "{\"command\":123,\"custom_command\":-5,\"data\":{\"name\":\"Bob Smith\",\"n\":-3,\"e\":1e-07}}");
  assert_int_equal(ud["command"].get<int>(), 99999);
  assert_int_equal(ud["nonce"].get<int>(), 0);
  assert_int_equal(ud["data"]["custom"].get<int>(), -5);
  assert_str(ud["data"]["data"].dump(), "{\"name\":\"Bob Smith\",\"n\":-3,\"e\":1e-07}");
  assert_int_equal(f.svc.counters().handler_exceptions.load(), 1);
}

static void malformed_requests_never_stop_the_service(void**) {
  Fixture f;
  f.svc.set_handler(command::none, [](const Request&, const Responder& r) { r(Response{result::success}); });
  f.start();
  auto& req = *f.req;
  const std::pair<std::string, int> cases[] = {
      {"not json", 1}, {"", 1}, {"{\"command\":0,\"x\":\"\xc3\x28\"}", 1}, {"[1]", 2}, {"{\"nonce\":3}", 3},
      {"{\"command\":0,\"nonce\":\"1\"}", 4}, {"{\"command\":0,\"customCommand\":{}}", 4},
      {"{\"command\":0,\"data\":\"" + std::string(300 * 1024, 'x') + "\"}", 6},
  };
  for (const auto& [body, code] : cases) {
    json r = ask_json(req, body);
    if (!r.is_object()) fail_msg("no reply to malformed case %d", code);
    assert_int_equal(r["result"].get<int>(), 0);
    assert_int_equal(r["errorKind"].get<int>(), 1);
    assert_int_equal(r["errorCode"].get<int>(), code);
    assert_true(r["errorMessage"].get<std::string>().rfind("malformed request: ", 0) == 0);
    // ...and the next valid request is still served.
    assert_int_equal(ask_json(req, "{\"command\":0,\"nonce\":2}")["result"].get<int>(), 100);
  }
  // Multi-frame request: code 5.
  req.send(zmq::buffer(std::string("{\"command\":0}")), zmq::send_flags::sndmore);
  req.send(zmq::buffer(std::string("{}")), zmq::send_flags::none);
  auto m = recv_frames(req, 2000);
  assert_true(m.has_value());
  assert_str((*m)[0], "{\"nonce\":0,\"command\":0,\"result\":0,\"data\":null,\"errorKind\":1,\"errorCode\":5,"
                      "\"errorMessage\":\"malformed request: expected exactly one frame, got 2\"}");
  // Events published after the malformed requests still arrive.
  f.svc.publish_event(event_kind::emergency_stop, json{{"reason", "after"}});
  auto e = recv_frames(*f.sub, 2000);
  assert_true(e.has_value());
  assert_int_equal(*parse_topic_frame((*e)[0]), 2001);
  assert_int_equal(f.svc.counters().malformed.load(), 9);
}

static void slow_handler_does_not_block_others(void**) {
  Fixture f;
  std::vector<std::thread> workers;
  f.svc.set_handler(command::start_acquisition, [&workers](const Request&, const Responder& r) {
    workers.emplace_back([r] {  // answers from another thread, 500 ms later
      std::this_thread::sleep_for(500ms);
      r(Response{result::success, json{{"slow", true}}});
    });
  });
  f.svc.set_handler(command::none, [](const Request&, const Responder& r) { r(Response{result::success}); });
  f.start();
  auto slow = make_req(f.ctx, f.svc.bound_command_endpoints()[0]);
  slow.send(zmq::buffer(std::string("{\"command\":100,\"nonce\":1}")), zmq::send_flags::none);
  std::this_thread::sleep_for(50ms);
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) assert_int_equal(ask_json(*f.req, "{\"command\":0}")["result"].get<int>(), 100);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (ms > 400) fail_msg("20 quick commands took %.0f ms behind a slow one", ms);
  auto r = recv_frames(slow, 3000);
  assert_true(r.has_value());
  json j = json::parse((*r)[0]);
  assert_int_equal(j["nonce"].get<int>(), 1);
  assert_true(j["data"]["slow"].get<bool>());
  for (auto& w : workers) w.join();
}

static void command_result_flow(void**) {
  Fixture f;
  RpcService* svc = &f.svc;
  std::vector<std::thread> workers;
  f.svc.set_handler(command::start_acquisition, [svc, &workers](const Request& q, const Responder& r) {
    r(Response{result::pending_with_notification});
    workers.emplace_back([svc, c = q.command, n = q.nonce] {
      std::this_thread::sleep_for(100ms);
      svc->publish_command_result(c, n, Response{result::success, json{{"frames_saved", 10}}});
    });
  });
  f.start();
  json r = ask_json(*f.req, "{\"command\":100,\"nonce\":14}");
  assert_int_equal(r["result"].get<int>(), 201);
  auto m = recv_frames(*f.sub, 2000);
  assert_true(m.has_value());
  assert_int_equal(*parse_topic_frame((*m)[0]), 6001);
  assert_str((*m)[1], "{\"result\":100,\"data\":{\"framesSaved\":10},\"errorCode\":0,\"errorMessage\":null,\"command\":100,"
                      "\"nonce\":14,\"errorKind\":0}");
  for (auto& w : workers) w.join();
}

static void backlog_drops_oldest_but_never_emergencies(void**) {
  ServiceOptions o = loopback();
  o.queue_capacity = 1000;
  o.send_hwm = 0;
  Fixture f(o);
  f.start();
  // Flood from another thread while an emergency is raised in the middle.
  std::thread producer([&] {
    for (int i = 0; i < 100000; ++i) {
      f.svc.publish(Topic::event, "n");
      if (i == 50000) f.svc.publish_event(event_kind::emergency_stop, json{{"reason", "flood"}});
    }
  });
  producer.join();
  int emergencies = 0, normal = 0;
  while (auto m = recv_frames(*f.sub, 500)) {
    if (*parse_topic_frame((*m)[0]) == 2001) ++emergencies;
    else ++normal;
  }
  assert_int_equal(emergencies, 1);
  assert_int_equal(normal + f.svc.dropped(), 100000 + 1);  // +1: the EVENT copy of the emergency
}

static void bind_failure_is_an_error(void**) {
  Fixture a;
  a.start();
  ServiceOptions o = loopback();
  o.command_endpoints = a.svc.bound_command_endpoints();
  RpcService b(o);
  auto r = b.start();
  assert_false(r.has_value());
  const std::string& m = r.error().message;
  if (m.find("cannot bind the commands (REP) socket to " + o.command_endpoints[0]) == std::string::npos ||
      m.find("Address already in use") == std::string::npos)
    fail_msg("unexpected message: %s", m.c_str());
  assert_false(b.running());
}

static void stop_frees_ports_and_restarts(void**) {
  ServiceOptions o = loopback();
  RpcService first(o);
  assert_true(first.start().has_value());
  o.pub_endpoints = first.bound_pub_endpoints();
  o.command_endpoints = first.bound_command_endpoints();
  first.stop();
  assert_false(first.running());
  RpcService second(o);  // same ports, at once
  auto r = second.start();
  if (!r) fail_msg("ports not free after stop: %s", r.error().message.c_str());
  second.stop();
  assert_true(second.start().has_value());  // and a stopped service can start again
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(two_frames_and_topic_bytes),
      cmocka_unit_test(heartbeat_cadence),
      cmocka_unit_test(emergency_before_event),
      cmocka_unit_test(every_reply_path),
      cmocka_unit_test(malformed_requests_never_stop_the_service),
      cmocka_unit_test(slow_handler_does_not_block_others),
      cmocka_unit_test(command_result_flow),
      cmocka_unit_test(backlog_drops_oldest_but_never_emergencies),
      cmocka_unit_test(bind_failure_is_an_error),
      cmocka_unit_test(stop_frees_ports_and_restarts),
  };
  return cmocka_run_group_tests_name("rpc_service", tests, nullptr, nullptr);
}
