// The RpcService's wire bodies (rpcservice.md §3-§8): request decoding, the 7-key reply, events,
// heartbeats and COMMAND_RESULT. Pure functions over strings and JSON, no sockets: this is the
// part the fuzz targets exercise.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"
#include "core/json_keys.hpp"

namespace rig::rpc {

// ordered_json (core/json_keys.hpp): replies keep the 7-key order and forwarded data keeps
// the sender's key order.
using json = rig::json;

struct Request {
  int64_t command = 0;         // after mapping: unknown values become USER_DEFINED (99999)
  int64_t nonce = 0;           // 0 when absent
  int64_t custom_command = -1; // customCommand, else custom_command, else -1
  json data;                   // passed on unchanged, keys and values
};

// What a handler answers. `command` and `nonce` are not here: the reply always echoes the request.
struct Response {
  int64_t result = 0;
  json data;
  int64_t error_code = 0;
  std::optional<std::string> error_message;
};

// The reply frame's seven fields, in wire order.
struct Reply {
  int64_t nonce = 0;
  int64_t command = 0;
  int64_t result = 0;
  json data;
  int64_t error_kind = 0;
  int64_t error_code = 0;
  std::optional<std::string> error_message;
};

struct DecodeLimits {
  size_t max_bytes = 256 * 1024;
  int max_depth = 64;
  // Members of one object. Objects keep their key order (ordered_json), so inserting a member
  // is a linear search: without a bound, one 256 KiB frame of ~30,000 keys costs seconds.
  size_t max_members = 1024;
};

// Parses JSON text within the limits. Error.code is the §6.4 code (1 bad JSON, 6 too large),
// Error.message says where and why, without the "malformed request" prefix.
Expected<json> parse_limited(std::string_view text, const DecodeLimits& limits);

// Decodes one request frame. On failure the Reply is the complete malformed-request reply (§6.4).
struct Decoded {
  std::optional<Request> request;
  Reply malformed;  // valid when !request
};
Decoded decode_request(std::string_view frame, const DecodeLimits& limits = {});

// A reply to a request with more than one frame (§6.4 code 5).
Reply multi_frame_reply(size_t frames);

// Handler outcomes mapped onto reply fields (§6.2).
Reply make_reply(const Request& request, const Response& response);
Reply exception_reply(const Request& request, std::string_view what);
Reply unavailable_reply(const Request& request, std::optional<std::string> message = std::nullopt);

// Serialises once with a real JSON serialiser. If `data` cannot be serialised (invalid UTF-8),
// the reply becomes the SYSTEM_ERROR reply of §6.2 instead of failing.
std::string encode_reply(const Reply& reply);

// COMMAND_RESULT body (§7): result, data, errorCode, errorMessage, command, nonce, errorKind.
std::string encode_command_result(int64_t command, int64_t nonce, const Response& response);

// EVENT body (§3). `context` keys are camelised; values are kept.
std::string encode_event(int64_t kind, double when, uint64_t index, const json& context);
std::string encode_heartbeat(std::string_view identifier, std::string_view version, double timestamp);

using rig::camelize;
using rig::camelize_keys;
using rig::find_arg;
using rig::snakeize;

// JSON text that never throws: invalid UTF-8 is replaced, non-finite numbers are null.
std::string dump_lenient(const json& value);

// The 4-byte little-endian topic frame (§2.1), and back.
std::string topic_frame(uint32_t topic);
std::optional<uint32_t> parse_topic_frame(std::string_view frame);

}  // namespace rig::rpc
