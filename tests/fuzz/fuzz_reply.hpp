// Checks shared by the targets that encode replies: what encode_reply() produces must be one
// JSON object with exactly the seven §6.2 keys, in order, with the right types.
#pragma once

#include <string>

#include "fuzz_check.hpp"
#include "rpc/codec.hpp"
#include "rpc/protocol.hpp"

namespace fuzz {

using rig::rpc::json;

inline const char* const kReplyKeys[] = {"nonce", "command", "result", "data", "errorKind", "errorCode", "errorMessage"};
inline constexpr const char* kSerializationError =
    "An error occurred serializing the 'data' element of the response.";

// Parses `text` (which must be valid UTF-8 JSON) and checks the 7-key shape. Returns the object.
inline json parse_reply(const std::string& text) {
  FUZZ_CHECK(valid_utf8(text));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!j.is_discarded());
  FUZZ_CHECK(j.is_object());
  FUZZ_CHECK(j.size() == 7);
  size_t k = 0;
  for (auto it = j.begin(); it != j.end(); ++it, ++k) FUZZ_CHECK(it.key() == kReplyKeys[k]);
  FUZZ_CHECK(j["nonce"].is_number_integer());
  FUZZ_CHECK(j["command"].is_number_integer());
  FUZZ_CHECK(j["result"].is_number_integer());
  FUZZ_CHECK(j["errorKind"].is_number_integer());
  FUZZ_CHECK(j["errorCode"].is_number_integer());
  FUZZ_CHECK(j["errorMessage"].is_string() || j["errorMessage"].is_null());
  return j;
}

// encode_reply() on `r` and the checks that hold for every reply: the header fields are echoed,
// and either `data` survives unchanged or the reply is the §6.2 serialisation-failure reply.
inline json check_encoded(const rig::rpc::Reply& r) {
  const std::string text = rig::rpc::encode_reply(r);
  json j = parse_reply(text);
  FUZZ_CHECK(j["nonce"].get<int64_t>() == r.nonce);
  FUZZ_CHECK(j["command"].get<int64_t>() == r.command);
  FUZZ_CHECK(j["result"].get<int64_t>() == r.result);
  if (j["errorMessage"] == kSerializationError && j["data"].is_null() && !r.data.is_null()) {
    // The data could not be serialised: SYSTEM_ERROR, code 0.
    FUZZ_CHECK(j["errorKind"].get<int64_t>() == rig::rpc::error_kind::system_error);
    FUZZ_CHECK(j["errorCode"].get<int64_t>() == rig::rpc::error_code::serialization);
    return j;
  }
  FUZZ_CHECK(j["data"] == r.data);
  FUZZ_CHECK(j["errorKind"].get<int64_t>() == r.error_kind);
  FUZZ_CHECK(j["errorCode"].get<int64_t>() == r.error_code);
  if (!r.error_message) {
    FUZZ_CHECK(j["errorMessage"].is_null());
  } else if (valid_utf8(*r.error_message)) {
    FUZZ_CHECK(j["errorMessage"] == *r.error_message);
  } else {
    FUZZ_CHECK(j["errorMessage"].is_string());  // repaired with U+FFFD
  }
  return j;
}

}  // namespace fuzz
