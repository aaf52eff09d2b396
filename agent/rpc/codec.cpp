#include "rpc/codec.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <vector>

#include "rpc/protocol.hpp"

namespace rig::rpc {
namespace {

using ojson = json;

constexpr const char* kSerializationError = "An error occurred serializing the 'data' element of the response.";

Reply malformed(int64_t code, std::string message, int64_t nonce = 0, int64_t command = 0) {
  Reply r;
  r.nonce = nonce;
  r.command = command;
  r.result = result::unrecognized;
  r.error_kind = error_kind::system_error;
  r.error_code = code;
  r.error_message = "malformed request: " + std::move(message);
  return r;
}

// A JSON integer, or a float with a zero fraction, that fits in int64.
std::optional<int64_t> as_integer(const json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return static_cast<int64_t>(u);
    return std::nullopt;
  }
  if (v.is_number_float()) {
    double d = v.get<double>();
    // 2^63 is exactly representable; anything at or above it does not fit.
    if (std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

int64_t map_command(const json& v) {
  auto n = as_integer(v);
  if (n && is_known_command(*n)) return *n;
  return command::user_defined;
}

void put_message(ojson& o, const std::optional<std::string>& m) {
  if (m)
    o["errorMessage"] = *m;
  else
    o["errorMessage"] = nullptr;
}

}  // namespace

Expected<json> parse_limited(std::string_view text, const DecodeLimits& limits) {
  if (text.size() > limits.max_bytes)
    return make_error("message is " + std::to_string(text.size()) + " bytes, the limit is " +
                          std::to_string(limits.max_bytes),
                      error_code::too_large);
  bool too_deep = false, too_wide = false;
  const int max_depth = limits.max_depth;
  const size_t max_members = limits.max_members;
  std::vector<size_t> members;  // member count of the open object at each depth
  json::parser_callback_t depth_guard = [&](int depth, json::parse_event_t event, json&) {
    if (too_deep || too_wide) return false;  // stop keeping values; parsing still checks the syntax
    if (depth > max_depth) {
      too_deep = true;
      return false;
    }
    const auto d = static_cast<size_t>(depth);
    if (event == json::parse_event_t::object_start) {
      if (members.size() < d + 2) members.resize(d + 2);
      members[d + 1] = 0;
    } else if (event == json::parse_event_t::key && d < members.size() && ++members[d] > max_members) {
      too_wide = true;
      return false;
    }
    return true;
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), depth_guard, /*allow_exceptions=*/true, /*ignore_comments=*/false);
  } catch (const json::parse_error& e) {
    const size_t offset = e.byte > 0 ? e.byte - 1 : 0;
    std::string why = std::string(e.what()).find("UTF-8") != std::string::npos ? " (ill-formed UTF-8)" : "";
    return make_error("invalid JSON at offset " + std::to_string(offset) + why, error_code::bad_json);
  } catch (const json::exception& e) {
    // e.g. out_of_range 406: a number such as 1e400 that no double can hold.
    return make_error(std::string("invalid JSON: ") + (e.id == 406 ? "a number is out of range" : "unusable value"),
                      error_code::bad_json);
  }
  if (too_deep)
    return make_error("JSON is nested deeper than " + std::to_string(max_depth) + " levels", error_code::too_large);
  if (too_wide)
    return make_error("a JSON object has more than " + std::to_string(max_members) + " members", error_code::too_large);
  return doc;
}

Decoded decode_request(std::string_view frame, const DecodeLimits& limits) {
  Decoded out;
  auto parsed = parse_limited(frame, limits);
  if (!parsed) {
    out.malformed = malformed(parsed.error().code, parsed.error().message);
    return out;
  }
  json& doc = *parsed;
  if (!doc.is_object()) {
    out.malformed = malformed(error_code::not_object, "top-level JSON value must be an object");
    return out;
  }

  auto nonce_it = doc.find("nonce");
  auto command_it = doc.find("command");
  if (command_it == doc.end()) {
    int64_t nonce = 0;
    if (nonce_it != doc.end()) nonce = as_integer(*nonce_it).value_or(0);
    out.malformed = malformed(error_code::missing_command, "missing \"command\"", nonce);
    return out;
  }

  Request req;
  req.command = map_command(*command_it);
  if (nonce_it != doc.end()) {
    auto n = as_integer(*nonce_it);
    if (!n) {
      out.malformed = malformed(error_code::bad_field_type, "\"nonce\" must be an integer", 0, req.command);
      return out;
    }
    req.nonce = *n;
  }

  const char* custom_key = doc.contains("customCommand") ? "customCommand"
                           : doc.contains("custom_command") ? "custom_command"
                                                            : nullptr;
  if (custom_key) {
    auto c = as_integer(doc[custom_key]);
    if (!c) {
      out.malformed = malformed(error_code::bad_field_type, std::string("\"") + custom_key + "\" must be an integer",
                                req.nonce, req.command);
      return out;
    }
    req.custom_command = *c;
  }

  if (auto d = doc.find("data"); d != doc.end()) req.data = std::move(*d);
  out.request = std::move(req);
  return out;
}

Reply multi_frame_reply(size_t frames) {
  return malformed(error_code::multi_frame, "expected exactly one frame, got " + std::to_string(frames));
}

Reply make_reply(const Request& req, const Response& resp) {
  Reply r;
  r.nonce = req.nonce;
  r.command = req.command;
  r.result = resp.result;
  r.data = resp.data;
  r.error_code = resp.error_code;
  r.error_kind = resp.error_code != 0 ? error_kind::command_error : error_kind::none;
  r.error_message = resp.error_message;
  return r;
}

Reply exception_reply(const Request& req, std::string_view what) {
  Reply r;
  r.nonce = req.nonce;
  r.command = req.command;
  r.result = result::exception;
  r.error_message = std::string(what);
  return r;
}

Reply unavailable_reply(const Request& req, std::optional<std::string> message) {
  Reply r;
  r.nonce = req.nonce;
  r.command = req.command;
  r.result = result::unavailable;
  r.error_message = std::move(message);
  return r;
}

std::string encode_reply(const Reply& reply) {
  auto build = [&](bool data_ok) {
    ojson o;
    o["nonce"] = reply.nonce;
    o["command"] = reply.command;
    o["result"] = reply.result;
    o["data"] = data_ok ? ojson(reply.data) : ojson(nullptr);
    o["errorKind"] = data_ok ? reply.error_kind : error_kind::system_error;
    o["errorCode"] = data_ok ? reply.error_code : error_code::serialization;
    if (data_ok)
      put_message(o, reply.error_message);
    else
      o["errorMessage"] = kSerializationError;
    return o;
  };
  try {
    return build(true).dump(-1, ' ', false, json::error_handler_t::strict);
  } catch (const json::type_error&) {
    // Either `data` or the message held bytes that are not UTF-8. A bad message is the
    // handler's text and is repaired; bad data is the §6.2 serialisation failure.
    try {
      (void)reply.data.dump(-1, ' ', false, json::error_handler_t::strict);
      return build(true).dump(-1, ' ', false, json::error_handler_t::replace);
    } catch (const json::type_error&) {
      return build(false).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
}

std::string encode_command_result(int64_t command, int64_t nonce, const Response& resp) {
  ojson o;
  o["result"] = resp.result;
  o["data"] = camelize_keys(resp.data);
  o["errorCode"] = resp.error_code;
  put_message(o, resp.error_message);
  o["command"] = command;
  o["nonce"] = nonce;
  o["errorKind"] = resp.error_code != 0 ? error_kind::command_error : error_kind::none;
  return o.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_event(int64_t kind, double when, uint64_t index, const json& context) {
  ojson o;
  o["kind"] = kind;
  o["when"] = when;
  o["index"] = index;
  o["context"] = camelize_keys(context);
  return o.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode_heartbeat(std::string_view identifier, std::string_view version, double timestamp) {
  ojson o;
  o["identifier"] = identifier;
  o["version"] = version;
  o["timestamp"] = timestamp;
  return o.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string dump_lenient(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string topic_frame(uint32_t topic) {
  char b[4] = {static_cast<char>(topic & 0xff), static_cast<char>((topic >> 8) & 0xff),
               static_cast<char>((topic >> 16) & 0xff), static_cast<char>((topic >> 24) & 0xff)};
  return std::string(b, 4);
}

std::optional<uint32_t> parse_topic_frame(std::string_view f) {
  if (f.size() != 4) return std::nullopt;
  auto u = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(f[i])); };
  return u(0) | (u(1) << 8) | (u(2) << 16) | (u(3) << 24);
}

}  // namespace rig::rpc
