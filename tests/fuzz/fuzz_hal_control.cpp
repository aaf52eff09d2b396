// The `rigagent hal` line protocol (hw/control_protocol.hpp) on arbitrary text: parse_control_request
// never throws, never crashes; an accepted request holds the documented ranges, and encodes to one
// line (within the size limit) that parses back to the same fields. control_error() on any message
// gives one line of JSON, {"ok": false, "error": ...}, never throwing on bad UTF-8.
#include <cstddef>
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "hw/control_protocol.hpp"

namespace {

using rig::hw::ControlRequest;
using Op = ControlRequest::Op;

size_t count_newlines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

void check_error_reply(const std::string& message) {
  std::string reply;
  try {
    reply = rig::hw::control_error(message);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "control_error() threw: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(!reply.empty() && reply.back() == '\n' && count_newlines(reply) == 1);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(reply);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "control_error() is not JSON: %s\n%s", e.what(), reply.c_str());
    std::abort();
  }
  FUZZ_CHECK(j.is_object() && j.size() == 2);
  FUZZ_CHECK(j.contains("ok") && j["ok"] == false);
  FUZZ_CHECK(j.contains("error") && j["error"].is_string());
  if (fuzz::valid_utf8(message)) FUZZ_CHECK(j["error"].get<std::string>() == message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto parsed = rig::hw::parse_control_request(text);
  if (!parsed) {
    FUZZ_CHECK(!parsed.error().message.empty());
    check_error_reply(parsed.error().message);
    // Error replies can carry text from the request or the board: any bytes make a valid reply.
    check_error_reply("bad request: " + std::string(text.substr(0, 256)));
    return 0;
  }
  const ControlRequest& r = *parsed;

  FUZZ_CHECK(text.size() <= rig::hw::kMaxControlLine);
  FUZZ_CHECK(r.line.size() <= 64);
  switch (r.op) {
    case Op::get:
      FUZZ_CHECK(r.level == 0 && r.ms == 0);
      break;
    case Op::set:
      FUZZ_CHECK(!r.line.empty() && (r.level == 0 || r.level == 1) && r.ms == 0);
      break;
    case Op::pulse:
      FUZZ_CHECK(!r.line.empty() && r.level == 0 && r.ms >= 1 && r.ms <= rig::hw::kMaxPulseMs);
      break;
    default:
      FUZZ_CHECK(r.op == Op::get || r.op == Op::set || r.op == Op::pulse);
  }

  // Round trip: the encoded request is one line within the limit and parses to the same fields.
  std::string encoded;
  try {
    encoded = rig::hw::encode_control_request(r);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "encode_control_request() threw: %s\n", e.what());
    std::abort();
  }
  FUZZ_CHECK(!encoded.empty() && encoded.back() == '\n' && count_newlines(encoded) == 1);
  FUZZ_CHECK(encoded.size() <= rig::hw::kMaxControlLine);
  auto again = rig::hw::parse_control_request(encoded);
  if (!again) {
    std::fprintf(stderr, "round trip rejected: %s%s\n", encoded.c_str(), again.error().message.c_str());
    std::abort();
  }
  FUZZ_CHECK(again->op == r.op);
  FUZZ_CHECK(again->line == r.line);
  FUZZ_CHECK(again->level == r.level);
  FUZZ_CHECK(again->ms == r.ms);
  FUZZ_CHECK(rig::hw::encode_control_request(*again) == encoded);
  return 0;
}
