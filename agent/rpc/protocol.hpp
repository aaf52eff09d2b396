// The auto-trainer-api 0.9.11 enumerations (../shared/protocols/rpcservice.md §2.1, §9).
// Every table lives in protocol.cpp and nowhere else, so a later release's table can be swapped in.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace rig::rpc {

enum class Topic : uint32_t {
  any = 0,
  heartbeat = 1001,
  emergency = 2001,
  event = 4001,
  property_change = 5001,
  command_result = 6001,
};

namespace command {  // ApiCommand
constexpr int64_t none = 0;
constexpr int64_t start_acquisition = 100;
constexpr int64_t stop_acquisition = 110;
constexpr int64_t emergency_stop = 200;
constexpr int64_t emergency_resume = 210;
constexpr int64_t get_configuration = 300;
constexpr int64_t get_status = 400;
constexpr int64_t user_defined = 99999;
}  // namespace command

namespace result {  // ApiCommandRequestResult
constexpr int64_t unrecognized = 0;
constexpr int64_t success = 100;
constexpr int64_t pending = 200;
constexpr int64_t pending_with_notification = 201;
constexpr int64_t failed = 400;
constexpr int64_t exception = 500;
constexpr int64_t unavailable = 9999;
}  // namespace result

namespace error_kind {  // ApiCommandRequestErrorKind
constexpr int64_t none = 0;
constexpr int64_t system_error = 1;
constexpr int64_t command_error = 2;
}  // namespace error_kind

namespace event_kind {
constexpr int64_t emergency_stop = 101;
constexpr int64_t emergency_resume = 102;
// rigagent's own kinds, in the application range (9000-9999), published on EMERGENCY only:
// an alarm input became active / inactive (docs/hal.md has the context).
constexpr int64_t alarm_raised = 9101;
constexpr int64_t alarm_cleared = 9102;
}  // namespace event_kind

// The kinds published on EMERGENCY as well as EVENT (rpcservice.md §4).
inline bool is_emergency_kind(int64_t kind) {
  return kind == event_kind::emergency_stop || kind == event_kind::emergency_resume;
}

// rigagent's own errorCode values. 0-6 are malformed-request codes (§6.4, 6 is rigagent's
// "too large"); 1000+ are the agent's command errors.
namespace error_code {
constexpr int64_t serialization = 0;
constexpr int64_t bad_json = 1;
constexpr int64_t not_object = 2;
constexpr int64_t missing_command = 3;
constexpr int64_t bad_field_type = 4;
constexpr int64_t multi_frame = 5;
constexpr int64_t too_large = 6;
constexpr int64_t app_timeout = 1001;
constexpr int64_t app_protocol = 1002;
constexpr int64_t emergency_asserted = 1003;
}  // namespace error_code

// Names, for consoles and logs. nullopt / nullptr for values the table does not know.
const char* topic_name(uint32_t topic);
std::optional<uint32_t> topic_from_name(std::string_view name);
const char* command_name(int64_t command);
std::optional<int64_t> command_from_name(std::string_view name);
bool is_known_command(int64_t command);
const char* result_name(int64_t result);
const char* error_kind_name(int64_t kind);
const char* event_kind_name(int64_t kind);
const char* app_status_name(int64_t status);
const char* training_mode_name(int64_t mode);

// All commands, in table order, for --help and the interactive console.
struct CommandInfo {
  int64_t value;
  const char* name;
};
const CommandInfo* commands_begin();
const CommandInfo* commands_end();

}  // namespace rig::rpc
