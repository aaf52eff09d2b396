// Messages of the local application link (docs/app-link.md), decoded and validated. Pure: no
// sockets, so the fuzz target links it alone.
#pragma once

#include <optional>
#include <string_view>

#include "core/expected.hpp"
#include "rpc/codec.hpp"

namespace rig::rpc {

// One message from the application, validated. Pure: this is what the app-link fuzz target feeds.
struct AppMessage {
  enum class Type { hello, bye, publish, event, reply, command_result, status, ping } type;
  json body;  // the whole message
};
Expected<AppMessage> decode_app_message(std::string_view frame, const DecodeLimits& limits);

// The Response an application's reply message describes (`result`, `data`, `errorCode`,
// `errorMessage`, or `exception`).
Expected<Response> response_from_app_reply(const json& message);

// An integer field of an application message (JSON integer within int64), if present.
std::optional<int64_t> app_int_field(const json& message, const char* key);

}  // namespace rig::rpc
