// The LaneSwap HTTP API (shared/protocols/laneswap.md) as pure functions: request bodies, status
// mapping, and every response turned into a value or a typed error. No I/O, so it is unit-tested
// and fuzzed on its own; client.hpp does the talking.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/expected.hpp"
#include "net/http_client.hpp"

namespace rig::laneswap {

using json = nlohmann::ordered_json;

// The client document's enum plus the two statuses only the server has.
enum class Status { healthy, warning, degraded, error, busy, stale, unknown, idle, shutdown };
const char* api_name(Status s);   // "HEALTHY"
const char* wire_name(Status s);  // "healthy" (idle/shutdown have no wire value: see to_wire)
std::optional<Status> parse_status(std::string_view text);  // either spelling, any case

// Error::code of every failed call (laneswap.md §5, plus the client document's invalid argument).
enum class Errc {
  unreachable = 1,         // connection refused, name not resolved, TLS failure
  timeout,                 // no answer in time
  service_not_found,       // 404 "Service not found: ..."
  invalid_argument,        // refused locally: nothing was sent
  invalid_status,          // 422 on "status"
  unsupported_status,      // IDLE/SHUTDOWN with strict status mapping: nothing was sent
  invalid_request,         // other 422
  server_error,            // 5xx
  bad_response,            // 2xx without what it must carry, not JSON, an unexpected status
  progress_not_supported,  // 404 {"detail":"Not Found"} on /api/progress...
  progress_task_not_found, // 404 with another detail on update/complete
  not_connected,           // no service id yet: connect() first
};
const char* to_string(Errc e);
Error make_laneswap_error(Errc e, std::string message);
inline Errc errc(const Error& e) { return static_cast<Errc>(e.code); }

// What goes on the wire for a status (§3): idle -> healthy "idle", shutdown -> unknown "shutting
// down", with a lifecycle key merged into the metadata; anything else as itself, lifecycle running.
struct WireStatus {
  std::string status;
  std::optional<std::string> default_message;
  std::string lifecycle;
};
Expected<WireStatus> to_wire(Status s, bool strict);

// The base of every path: "/api" appended to the URL's path unless it already ends in "/api".
std::string api_base(const net::Url& url);
// An id goes into a path: percent-encode everything outside the unreserved set.
std::string path_segment(std::string_view id);

json register_body(const std::string& service_name, const std::string& service_id, const json& metadata);
json heartbeat_body(const WireStatus& wire, const std::optional<std::string>& message, const json& metadata);
json start_progress_body(const std::string& service_id, const std::string& task_name, int64_t total_steps,
                         const std::optional<std::string>& description, const json& metadata);
json update_progress_body(const std::string& service_id, const std::string& task_id, int64_t current_step,
                          const std::string& status, const std::optional<std::string>& message, const json& metadata);
json complete_progress_body(const std::string& service_id, const std::string& task_id, const std::string& status,
                            const std::optional<std::string>& message, const json& metadata);

using TimePoint = std::chrono::system_clock::time_point;
// ISO-8601 as the servers write it (§4.3): fraction of 1-9 digits optional; Z, +HH:MM, -HH:MM,
// +HHMM or no offset (UTC).
Expected<TimePoint> parse_timestamp(std::string_view text);

struct Event {
  std::string type, status, message;
  std::optional<TimePoint> timestamp;
};

struct ServiceInfo {
  std::string id;
  std::string name;
  std::string status;  // as the server spells it
  std::optional<std::string> message;
  json metadata = json::object();
  std::optional<TimePoint> created_at;
  std::optional<TimePoint> last_heartbeat;
  std::vector<Event> events;
  std::optional<std::string> status_message;  // list view only
  json raw;                                    // the record as received
};

struct ServiceList {
  std::map<std::string, ServiceInfo> services;
  int64_t total = 0;
  std::map<std::string, int64_t> status_counts;
};

// Which call a response answers: the same status means different things per route (§5, §8).
enum class Call { register_service, heartbeat, get_service, get_all, health, start_progress, update_progress, complete_progress };

// The deepest nesting of arrays and objects a response body may have: copying, comparing or
// printing a JSON value recurses once per level, so a deeper 2xx body is BadResponse (and a deeper
// error body is cut at this depth) rather than a stack overflow.
constexpr int kMaxJsonDepth = 64;

// A response turned into its JSON body, or the typed error of §5/§8; `where` names the server.
Expected<json> check_response(Call call, const net::HttpResponse& response, const std::string& where);
// A transport failure as Unreachable or Timeout.
Error transport_error(const Error& http_error);

Expected<std::string> parse_register(const json& body);  // the service_id
Expected<ServiceInfo> parse_service(const json& body);
Expected<ServiceList> parse_service_list(const json& body);
Expected<std::string> parse_task_id(const json& body);

}  // namespace rig::laneswap
