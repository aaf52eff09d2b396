// The `rigagent hal` control protocol, over a local (Unix) stream socket: one JSON object per
// line each way (docs/hal.md).
//   {"op": "get"} | {"op": "get", "line": "estop"}
//   {"op": "set", "line": "estop", "level": 1}       simulated inputs only
//   {"op": "pulse", "line": "estop", "ms": 100}      simulated inputs only; answered when done
// Replies: {"ok": true, ...} or {"ok": false, "error": "what went wrong and what to do"}.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"

namespace rig::hw {

constexpr size_t kMaxControlLine = 4096;
constexpr int64_t kMaxPulseMs = 60'000;

struct ControlRequest {
  enum class Op { get, set, pulse } op = Op::get;
  std::string line;  // empty: every line (get only)
  int level = 0;
  int64_t ms = 0;
};

Expected<ControlRequest> parse_control_request(std::string_view text);
std::string encode_control_request(const ControlRequest& request);
std::string control_error(const std::string& message);  // the reply line, newline included

}  // namespace rig::hw
