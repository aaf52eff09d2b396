// decode_app_message() and response_from_app_reply() on one app-link frame (rpc/app_message.hpp):
// never throw, never crash, and:
//  * an accepted message's type is its "type" string and its per-type required fields hold;
//  * a reply message turns into a Response whose reply re-encodes with the 7 keys, and whose
//    COMMAND_RESULT is valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_reply.hpp"
#include "rpc/app_message.hpp"

namespace {

using namespace rig::rpc;
using fuzz::json;

const char* type_string(AppMessage::Type t) {
  switch (t) {
    case AppMessage::Type::hello: return "hello";
    case AppMessage::Type::bye: return "bye";
    case AppMessage::Type::publish: return "publish";
    case AppMessage::Type::event: return "event";
    case AppMessage::Type::reply: return "reply";
    case AppMessage::Type::command_result: return "commandResult";
    case AppMessage::Type::status: return "status";
    case AppMessage::Type::ping: return "ping";
  }
  return nullptr;
}

void check_response(const json& body) {
  auto r = response_from_app_reply(body);
  if (!r) {
    FUZZ_CHECK(!r.error().message.empty());
    return;
  }
  const Response& resp = *r;
  if (body.contains("exception")) {
    FUZZ_CHECK(resp.result == result::exception);
    FUZZ_CHECK(resp.error_message.has_value());
  } else {
    FUZZ_CHECK(app_int_field(body, "result") == resp.result);
    // Reply data reaches the remote with camelCase keys and unchanged values (§8).
    if (auto d = body.find("data"); d != body.end()) FUZZ_CHECK(resp.data == camelize_keys(*d));
  }

  Request req;
  req.command = command::get_status;
  req.nonce = 42;
  json j = fuzz::check_encoded(make_reply(req, resp));
  FUZZ_CHECK(j["nonce"] == 42 && j["command"] == command::get_status);
  FUZZ_CHECK(j["errorKind"] == (resp.error_code != 0 ? error_kind::command_error : error_kind::none));

  const std::string cr = encode_command_result(req.command, req.nonce, resp);
  FUZZ_CHECK(fuzz::valid_utf8(cr));
  json c = json::parse(cr, nullptr, false);
  FUZZ_CHECK(c.is_object() && c.size() == 7);
  FUZZ_CHECK(c["result"] == resp.result && c["errorCode"] == resp.error_code);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame = fuzz::as_text(data, size);
  auto decoded = decode_app_message(frame, DecodeLimits{});
  if (!decoded) {
    FUZZ_CHECK(decoded.error().message.rfind("malformed app-link message: ", 0) == 0);
    return 0;
  }
  const AppMessage& m = *decoded;
  FUZZ_CHECK(m.body.is_object());
  FUZZ_CHECK(m.body.contains("type") && m.body["type"].is_string());
  FUZZ_CHECK(m.body["type"] == type_string(m.type));
  switch (m.type) {
    case AppMessage::Type::publish: {
      auto topic = app_int_field(m.body, "topic");
      FUZZ_CHECK(topic && *topic >= 0 && *topic <= 0xffffffffll);
      FUZZ_CHECK(m.body.contains("body"));
      const std::string t = topic_frame(static_cast<uint32_t>(*topic));
      FUZZ_CHECK(parse_topic_frame(t) == static_cast<uint32_t>(*topic));
      FUZZ_CHECK(fuzz::valid_utf8(dump_lenient(m.body["body"])));
      break;
    }
    case AppMessage::Type::event:
      FUZZ_CHECK(app_int_field(m.body, "kind").has_value());
      break;
    case AppMessage::Type::reply:
      FUZZ_CHECK(app_int_field(m.body, "id").has_value());
      check_response(m.body);
      break;
    case AppMessage::Type::command_result:
      FUZZ_CHECK(app_int_field(m.body, "command") && app_int_field(m.body, "nonce") &&
                 app_int_field(m.body, "result"));
      check_response(m.body);
      break;
    default:
      break;
  }
  return 0;
}
