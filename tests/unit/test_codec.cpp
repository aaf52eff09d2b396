// The RpcService wire bodies: request decoding in both dialects, the malformed-request replies
// of rpcservice.md §6.4, the 7-key reply with exact values, events and key spelling.
#include "support/cmocka.hpp"

#include <cmath>
#include <limits>

#include "rpc/codec.hpp"
#include "rpc/protocol.hpp"

using namespace rig::rpc;

static Request decode_ok(const std::string& text) {
  Decoded d = decode_request(text);
  if (!d.request) fail_msg("expected a request from %s, got: %s", text.c_str(), d.malformed.error_message->c_str());
  return *d.request;
}

static Reply decode_bad(const std::string& text, int64_t code, const DecodeLimits& limits = {}) {
  Decoded d = decode_request(text, limits);
  if (d.request) fail_msg("expected malformed %lld from %s", (long long)code, text.c_str());
  assert_int_equal(d.malformed.error_code, code);
  assert_int_equal(d.malformed.result, result::unrecognized);
  assert_int_equal(d.malformed.error_kind, error_kind::system_error);
  assert_true(d.malformed.data.is_null());
  assert_true(d.malformed.error_message->rfind("malformed request: ", 0) == 0);
  return d.malformed;
}

static void console_and_csharp_dialects(void**) {
  Request a = decode_ok("{\"command\": 100, \"nonce\": 1}");
  assert_int_equal(a.command, 100);
  assert_int_equal(a.nonce, 1);
  assert_int_equal(a.custom_command, -1);
  assert_true(a.data.is_null());

  Request b = decode_ok("{\"command\":300,\"customCommand\":-1,\"nonce\":5,\"data\":null}");
  assert_int_equal(b.command, 300);
  assert_int_equal(b.nonce, 5);
  assert_int_equal(b.custom_command, -1);
}

static void custom_command_spellings(void**) {
  assert_int_equal(decode_ok("{\"command\":99999,\"custom_command\":7}").custom_command, 7);
  assert_int_equal(decode_ok("{\"command\":99999,\"customCommand\":8,\"custom_command\":7}").custom_command, 8);
}

static void command_mapping(void**) {
  assert_int_equal(decode_ok("{\"command\":300.0}").command, 300);
  assert_int_equal(decode_ok("{\"command\":123}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":\"300\"}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":null}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":300.5}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":1e300}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":18446744073709551615}").command, command::user_defined);
  assert_int_equal(decode_ok("{\"command\":0}").command, command::none);
}

static void nonce_defaults_and_keys_are_exact(void**) {
  assert_int_equal(decode_ok("{\"command\":400}").nonce, 0);
  // Key matching is case-sensitive: `Command` is an unknown key, so `command` is missing.
  decode_bad("{\"Command\":300}", error_code::missing_command);
  decode_bad("{\"COMMAND\":300}", error_code::missing_command);
  assert_int_equal(decode_ok("{\"command\":0,\"unknown\":1,\"Nonce\":\"x\"}").nonce, 0);
}

static void data_is_passed_unchanged(void**) {
  Request r = decode_ok("{\"command\":99999,\"data\":{\"animal_id\":\"Bob Smith\",\"path\":\"/a/B_c\",\"n\":-3}}");
  assert_str(r.data.dump(), "{\"animal_id\":\"Bob Smith\",\"path\":\"/a/B_c\",\"n\":-3}");
}

static void malformed_codes(void**) {
  Reply r = decode_bad("{\"command\":", error_code::bad_json);
  assert_int_equal(r.nonce, 0);
  assert_int_equal(r.command, 0);
  decode_bad("", error_code::bad_json);
  decode_bad("not json", error_code::bad_json);
  Reply utf = decode_bad("{\"command\":0,\"data\":\"\xff\xfe\"}", error_code::bad_json);
  assert_non_null(strstr(utf.error_message->c_str(), "UTF-8"));
  // Numbers no double can hold are malformed, not a crash.
  decode_bad("{\"command\":0,\"data\":1e400}", error_code::bad_json);
  decode_bad("{\"command\":1e400}", error_code::bad_json);
  decode_bad("[-1e400]", error_code::bad_json);
  decode_bad("[1,2]", error_code::not_object);
  decode_bad("42", error_code::not_object);
  decode_bad("null", error_code::not_object);
  decode_bad("\"s\"", error_code::not_object);

  Reply missing = decode_bad("{\"nonce\":9}", error_code::missing_command);
  assert_int_equal(missing.nonce, 9);
  assert_int_equal(decode_bad("{\"nonce\":\"9\"}", error_code::missing_command).nonce, 0);

  Reply bad_nonce = decode_bad("{\"command\":400,\"nonce\":\"1\"}", error_code::bad_field_type);
  assert_int_equal(bad_nonce.nonce, 0);
  assert_int_equal(bad_nonce.command, 400);
  decode_bad("{\"command\":400,\"nonce\":1.5}", error_code::bad_field_type);
  decode_bad("{\"command\":400,\"nonce\":9223372036854775808}", error_code::bad_field_type);
  Reply bad_custom = decode_bad("{\"command\":123,\"nonce\":4,\"customCommand\":\"x\"}", error_code::bad_field_type);
  assert_int_equal(bad_custom.nonce, 4);
  assert_int_equal(bad_custom.command, command::user_defined);
  decode_bad("{\"command\":1,\"custom_command\":[]}", error_code::bad_field_type);

  Reply multi = multi_frame_reply(2);
  assert_int_equal(multi.error_code, error_code::multi_frame);
  assert_str(*multi.error_message, "malformed request: expected exactly one frame, got 2");
}

static void limits(void**) {
  DecodeLimits small;
  small.max_bytes = 32;
  decode_bad(std::string("{\"command\":0,\"data\":\"") + std::string(64, 'x') + "\"}", error_code::too_large, small);
  std::string deep = "{\"command\":0,\"data\":" + std::string(100, '[') + std::string(100, ']') + "}";
  decode_bad(deep, error_code::too_large);
  std::string ok = "{\"command\":0,\"data\":" + std::string(50, '[') + std::string(50, ']') + "}";
  decode_ok(ok);
  // Objects with very many members would make ordered_json's inserts quadratic.
  auto wide = [](int n) {
    std::string s = "{\"command\":0,\"data\":{";
    for (int i = 0; i < n; ++i) s += (i ? ",\"" : "\"") + std::to_string(i) + "\":0";
    return s + "}}";
  };
  decode_ok(wide(1024));
  Reply r = decode_bad(wide(20000), error_code::too_large);
  assert_non_null(strstr(r.error_message->c_str(), "more than 1024 members"));
}

static void reply_keys_in_order_with_exact_values(void**) {
  Request req = decode_ok("{\"command\":99999,\"nonce\":7}");
  Response resp{result::failed, json{{"k_1", -1}, {"tiny", 1e-07}, {"path", "/home/ubuntu/Documents/Raw_Data-Local"}}, 12,
                "resume not_allowed right-now"};
  std::string text = encode_reply(make_reply(req, resp));
  assert_str(text,
             "{\"nonce\":7,\"command\":99999,\"result\":400,\"data\":{\"k_1\":-1,\"tiny\":1e-07,\"path\":\"/home/ubuntu/"
             "Documents/Raw_Data-Local\"},\"errorKind\":2,\"errorCode\":12,\"errorMessage\":\"resume not_allowed right-now\"}");

  Response ok{result::success, nullptr, 0, "This is an error message"};
  assert_str(encode_reply(make_reply(req, ok)),
             "{\"nonce\":7,\"command\":99999,\"result\":100,\"data\":null,\"errorKind\":0,\"errorCode\":0,"
             "\"errorMessage\":\"This is an error message\"}");
}

static void exception_and_unavailable(void**) {
  Request req = decode_ok("{\"command\":300,\"nonce\":3}");
  assert_str(encode_reply(exception_reply(req, "boom")),
             "{\"nonce\":3,\"command\":300,\"result\":500,\"data\":null,\"errorKind\":0,\"errorCode\":0,\"errorMessage\":\"boom\"}");
  assert_str(encode_reply(unavailable_reply(req)),
             "{\"nonce\":3,\"command\":300,\"result\":9999,\"data\":null,\"errorKind\":0,\"errorCode\":0,\"errorMessage\":null}");
}

static void unserialisable_data(void**) {
  Request req = decode_ok("{\"command\":400,\"nonce\":2}");
  Response bad{result::success, json{{"s", std::string("\xc3\x28")}}, 0, std::nullopt};
  json r = json::parse(encode_reply(make_reply(req, bad)));
  assert_int_equal(r["nonce"].get<int>(), 2);
  assert_int_equal(r["command"].get<int>(), 400);
  assert_int_equal(r["result"].get<int>(), 100);
  assert_true(r["data"].is_null());
  assert_int_equal(r["errorKind"].get<int>(), error_kind::system_error);
  assert_int_equal(r["errorCode"].get<int>(), 0);
  assert_str(r["errorMessage"].get<std::string>(), "An error occurred serializing the 'data' element of the response.");

  // A bad message (not data) is repaired, not reported as a data failure.
  Response bad_msg{result::failed, json{{"ok", true}}, 5, std::string("bad \xff text")};
  json m = json::parse(encode_reply(make_reply(req, bad_msg)));
  assert_true(m["data"]["ok"].get<bool>());
  assert_int_equal(m["errorKind"].get<int>(), error_kind::command_error);
}

static void events_and_heartbeat(void**) {
  std::string e = encode_event(201, 1795289106.749944, 364416653718ull,
                               json{{"animal_id", "ABC-1"}, {"nested_list", json::array({json{{"inner_key", 1.5}}})},
                                    {"bad", std::numeric_limits<double>::quiet_NaN()}});
  assert_str(e,
             "{\"kind\":201,\"when\":1795289106.749944,\"index\":364416653718,\"context\":{\"animalId\":\"ABC-1\","
             "\"nestedList\":[{\"innerKey\":1.5}],\"bad\":null}}");
  assert_str(encode_event(201, 1.5, 1, nullptr), "{\"kind\":201,\"when\":1.5,\"index\":1,\"context\":null}");
  assert_str(encode_heartbeat("autotrainer-device", "0.9.11", 1795289107.75),
             "{\"identifier\":\"autotrainer-device\",\"version\":\"0.9.11\",\"timestamp\":1795289107.75}");
  assert_str(encode_command_result(100, 14, Response{result::success}),
             "{\"result\":100,\"data\":null,\"errorCode\":0,\"errorMessage\":null,\"command\":100,\"nonce\":14,\"errorKind\":0}");
}

static void key_spelling(void**) {
  assert_str(camelize("session_id"), "sessionId");
  assert_str(camelize("sessionId"), "sessionId");
  assert_str(camelize("k_1"), "k1");
  assert_str(camelize("_private"), "_private");
  assert_str(snakeize("trainingMode"), "training_mode");
  json data = {{"training_mode", 300}};
  assert_non_null(find_arg(data, "trainingMode"));
  json both = {{"training_mode", 1}, {"trainingMode", 2}};
  assert_int_equal(find_arg(both, "trainingMode")->get<int>(), 2);
  assert_null(find_arg(json(5), "x"));
  // Values are never touched, only keys.
  json v = camelize_keys(json{{"a_b", "c_d e-F"}, {"list", json::array({1, "x_y"})}});
  assert_str(v.dump(), "{\"aB\":\"c_d e-F\",\"list\":[1,\"x_y\"]}");
}

static void topic_frames(void**) {
  std::string f = topic_frame(4001);
  assert_int_equal(f.size(), 4);
  assert_int_equal((unsigned char)f[0], 0xa1);
  assert_int_equal((unsigned char)f[1], 0x0f);
  assert_int_equal((unsigned char)f[2], 0);
  assert_int_equal((unsigned char)f[3], 0);
  assert_int_equal(*parse_topic_frame(topic_frame(2001)), 2001);
  assert_false(parse_topic_frame("abc").has_value());
}

static void names(void**) {
  assert_str(command_name(400), "GET_STATUS");
  assert_int_equal(*command_from_name("get-status"), 400);
  assert_str(result_name(201), "PENDING_WITH_NOTIFICATION");
  assert_str(event_kind_name(101), "emergencyStop");
  assert_str(topic_name(6001), "COMMAND_RESULT");
  assert_null(command_name(123));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(console_and_csharp_dialects), cmocka_unit_test(custom_command_spellings),
      cmocka_unit_test(command_mapping),             cmocka_unit_test(nonce_defaults_and_keys_are_exact),
      cmocka_unit_test(data_is_passed_unchanged),    cmocka_unit_test(malformed_codes),
      cmocka_unit_test(limits),                      cmocka_unit_test(reply_keys_in_order_with_exact_values),
      cmocka_unit_test(exception_and_unavailable),   cmocka_unit_test(unserialisable_data),
      cmocka_unit_test(events_and_heartbeat),        cmocka_unit_test(key_spelling),
      cmocka_unit_test(topic_frames),                cmocka_unit_test(names),
  };
  return cmocka_run_group_tests_name("codec", tests, nullptr, nullptr);
}
