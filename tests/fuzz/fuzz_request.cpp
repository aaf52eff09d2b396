// decode_request() on one request frame, and encode_reply() on whatever comes out of it
// (rpcservice.md §6.1-§6.4). Never throws, never crashes, and:
//  * a decoded request's command is a known ApiCommand (unknown values map to 99999);
//  * a malformed reply has result 0, errorKind 1, data null, a §6.4 code and a clear message;
//  * every reply re-encodes to one JSON object with the 7 keys in order, echoing nonce and command;
//  * tighter limits never accept what the default limits reject.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_reply.hpp"

namespace {

using namespace rig::rpc;
using fuzz::json;

void check_malformed(const Reply& m, size_t frame_size, const DecodeLimits& limits) {
  FUZZ_CHECK(m.result == result::unrecognized);
  FUZZ_CHECK(m.error_kind == error_kind::system_error);
  FUZZ_CHECK(m.data.is_null());
  FUZZ_CHECK(m.error_message.has_value());
  FUZZ_CHECK(m.error_message->rfind("malformed request: ", 0) == 0);
  switch (m.error_code) {
    case error_code::bad_json:
    case error_code::not_object:
      FUZZ_CHECK(m.nonce == 0);
      FUZZ_CHECK(m.command == 0);
      break;
    case error_code::missing_command:
      FUZZ_CHECK(m.command == 0);
      break;
    case error_code::bad_field_type:
      FUZZ_CHECK(is_known_command(m.command));
      break;
    case error_code::too_large:
      FUZZ_CHECK(m.nonce == 0);
      FUZZ_CHECK(m.command == 0);
      break;
    default:
      FUZZ_CHECK(!"unexpected errorCode in a malformed reply");
  }
  if (frame_size > limits.max_bytes) FUZZ_CHECK(m.error_code == error_code::too_large);
  json j = fuzz::check_encoded(m);
  FUZZ_CHECK(j["result"] == 0);
  FUZZ_CHECK(j["errorKind"] == 1);
  FUZZ_CHECK(j["data"].is_null());
}

void check_request(const Request& req, std::string_view frame) {
  FUZZ_CHECK(is_known_command(req.command));
  FUZZ_CHECK(command_name(req.command) != nullptr);

  // A handler that echoes the arguments back.
  Response ok{result::success, req.data, 0, std::nullopt};
  json j = fuzz::check_encoded(make_reply(req, ok));
  FUZZ_CHECK(j["errorKind"] == error_kind::none);
  FUZZ_CHECK(j["data"] == req.data);  // parsed data is valid UTF-8, so it always serialises

  // A command error, an exception and "no handler", with the frame's bytes as the message
  // (invalid UTF-8 there must be repaired, not fail the reply).
  const std::string text(frame.substr(0, 256));
  Response failed{result::failed, req.data, 12, text};
  j = fuzz::check_encoded(make_reply(req, failed));
  FUZZ_CHECK(j["errorKind"] == error_kind::command_error);
  j = fuzz::check_encoded(exception_reply(req, text));
  FUZZ_CHECK(j["result"] == result::exception && j["data"].is_null() && j["errorKind"] == 0);
  j = fuzz::check_encoded(unavailable_reply(req));
  FUZZ_CHECK(j["result"] == result::unavailable && j["errorMessage"].is_null());

  // Data that cannot be serialised (the frame as a string, when it is not UTF-8): §6.2.
  Response raw{result::success, json(std::string(frame.substr(0, 64))), 0, std::nullopt};
  j = fuzz::check_encoded(make_reply(req, raw));
  if (!fuzz::valid_utf8(frame.substr(0, 64))) {
    FUZZ_CHECK(j["data"].is_null());
    FUZZ_CHECK(j["errorKind"] == error_kind::system_error);
    FUZZ_CHECK(j["errorCode"] == error_code::serialization);
    FUZZ_CHECK(j["errorMessage"] == fuzz::kSerializationError);
  }

  // COMMAND_RESULT of the same outcome: always valid JSON, keys camelised, values kept.
  const std::string cr = encode_command_result(req.command, req.nonce, failed);
  FUZZ_CHECK(fuzz::valid_utf8(cr));
  json c = json::parse(cr, nullptr, false);
  FUZZ_CHECK(c.is_object() && c.size() == 7);
  FUZZ_CHECK(c["command"] == req.command && c["nonce"] == req.nonce && c["errorKind"] == 2);
  FUZZ_CHECK(c["data"] == camelize_keys(req.data));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view frame = fuzz::as_text(data, size);

  const DecodeLimits limits;  // the agent's defaults
  Decoded d = decode_request(frame, limits);
  if (d.request)
    check_request(*d.request, frame);
  else
    check_malformed(d.malformed, size, limits);

  // A small limit: what it accepts, the default accepts identically.
  const DecodeLimits tight{512, 4};
  Decoded t = decode_request(frame, tight);
  if (t.request) {
    FUZZ_CHECK(d.request.has_value());
    FUZZ_CHECK(t.request->command == d.request->command);
    FUZZ_CHECK(t.request->nonce == d.request->nonce);
    FUZZ_CHECK(t.request->custom_command == d.request->custom_command);
    FUZZ_CHECK(t.request->data == d.request->data);
  } else {
    check_malformed(t.malformed, size, tight);
    // Within the tight limits the document is the same, so the verdict is too.
    if (t.malformed.error_code != error_code::too_large) {
      FUZZ_CHECK(!d.request.has_value());
      FUZZ_CHECK(t.malformed.error_code == d.malformed.error_code);
      FUZZ_CHECK(t.malformed.nonce == d.malformed.nonce);
      FUZZ_CHECK(t.malformed.command == d.malformed.command);
    }
  }

  // The topic frame parser takes any 4 bytes and nothing else.
  auto topic = parse_topic_frame(frame);
  FUZZ_CHECK(topic.has_value() == (size == 4));
  if (topic) FUZZ_CHECK(topic_frame(*topic) == frame);
  return 0;
}
