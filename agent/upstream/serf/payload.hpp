// Payload codecs: Serf carries payloads as raw bytes (bin); these give them meaning. Raw is the
// identity; UTF-8 checks the text; JSON is what rigagent's own events and query answers use.
#pragma once

#include <string>
#include <string_view>

#include "core/expected.hpp"
#include "upstream/serf/types.hpp"
#include <nlohmann/json.hpp>

namespace rig::serf::payload {

inline Bytes raw(std::string_view bytes) { return Bytes(bytes); }

bool is_utf8(std::string_view bytes);
Expected<std::string> decode_utf8(const Bytes& bytes);  // an error naming the first bad offset
Bytes encode_json(const nlohmann::json& value);          // compact
Expected<nlohmann::json> decode_json(const Bytes& bytes);
// For people: the text when it is printable UTF-8, else "0x" + hex.
std::string printable(const Bytes& bytes);

}  // namespace rig::serf::payload
