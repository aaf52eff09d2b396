#include "rpc/app_message.hpp"

#include <cstdint>

#include "rpc/protocol.hpp"

namespace rig::rpc {
namespace {

const std::pair<const char*, AppMessage::Type> kTypes[] = {
    {"hello", AppMessage::Type::hello},   {"bye", AppMessage::Type::bye},
    {"publish", AppMessage::Type::publish}, {"event", AppMessage::Type::event},
    {"reply", AppMessage::Type::reply},   {"commandResult", AppMessage::Type::command_result},
    {"status", AppMessage::Type::status}, {"ping", AppMessage::Type::ping},
};

std::optional<int64_t> int_field(const json& m, const char* key) {
  auto it = m.find(key);
  if (it == m.end() || !it->is_number_integer()) return std::nullopt;
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return it->get<int64_t>();
}

}  // namespace

std::optional<int64_t> app_int_field(const json& m, const char* key) { return int_field(m, key); }

Expected<AppMessage> decode_app_message(std::string_view frame, const DecodeLimits& limits) {
  auto parsed = parse_limited(frame, limits);
  if (!parsed) return make_error("malformed app-link message: " + parsed.error().message);
  json& doc = *parsed;
  if (!doc.is_object()) return make_error("malformed app-link message: not a JSON object");
  auto t = doc.find("type");
  if (t == doc.end() || !t->is_string()) return make_error("malformed app-link message: missing string \"type\"");
  const std::string type = t->get<std::string>();
  for (const auto& [name, value] : kTypes) {
    if (type != name) continue;
    AppMessage m{value, std::move(doc)};
    switch (value) {
      case AppMessage::Type::publish: {
        auto topic = int_field(m.body, "topic");
        if (!topic || *topic < 0 || *topic > 0xffffffffll)
          return make_error("malformed app-link message: publish needs \"topic\", an integer 0..4294967295");
        if (!m.body.contains("body")) return make_error("malformed app-link message: publish needs \"body\"");
        break;
      }
      case AppMessage::Type::event:
        if (!int_field(m.body, "kind")) return make_error("malformed app-link message: event needs an integer \"kind\"");
        break;
      case AppMessage::Type::reply:
        if (!int_field(m.body, "id")) return make_error("malformed app-link message: reply needs the integer \"id\"");
        break;
      case AppMessage::Type::command_result:
        if (!int_field(m.body, "command") || !int_field(m.body, "nonce") || !int_field(m.body, "result"))
          return make_error("malformed app-link message: commandResult needs integer \"command\", \"nonce\" and \"result\"");
        break;
      default:
        break;
    }
    return m;
  }
  return make_error("malformed app-link message: unknown type \"" + type +
                    "\" (hello, bye, publish, event, reply, commandResult, status, ping)");
}

Expected<Response> response_from_app_reply(const json& m) {
  Response r;
  if (auto ex = m.find("exception"); ex != m.end()) {
    r.result = result::exception;
    r.error_message = ex->is_string() ? ex->get<std::string>() : dump_lenient(*ex);
    return r;
  }
  auto res = int_field(m, "result");
  if (!res) return make_error("the application's reply has no integer \"result\"");
  r.result = *res;
  if (auto d = m.find("data"); d != m.end()) r.data = camelize_keys(*d);  // wire keys are camelCase (§8)
  if (m.contains("errorCode")) {
    auto c = int_field(m, "errorCode");
    if (!c) return make_error("the application's reply has a non-integer \"errorCode\"");
    r.error_code = *c;
  }
  if (auto e = m.find("errorMessage"); e != m.end() && !e->is_null()) {
    if (!e->is_string()) return make_error("the application's reply has a non-string \"errorMessage\"");
    r.error_message = e->get<std::string>();
  }
  return r;
}

}  // namespace rig::rpc
