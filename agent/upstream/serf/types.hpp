// The values of the Serf agent RPC protocol (shared/protocols/serf-rpc.md) as C++ types, and the
// errors a Serf call can end with. Payloads are raw bytes in a std::string (NULs allowed); the
// payload.hpp codecs turn them into text or JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace rig::serf {

using Bytes = std::string;
using Tags = std::map<std::string, std::string>;

// Error::code of every failed Serf call.
enum class Errc : int {
  connect = 1,              // could not reach the agent (refused, unresolvable, connect timeout)
  closed,                   // the connection dropped while the call was in flight
  timeout,                  // the call's deadline passed (the connection stays up)
  protocol,                 // the agent sent something that is not protocol 1 (connection dropped)
  auth,                     // "Authentication required" / "Invalid authentication token"
  remote,                   // any other error string from the agent (Error::message holds it)
  invalid_argument,         // refused before sending: bad regex, filter, key, size
  too_large,                // the agent's size limits (event 512 B, query 1024 B)
  no_pending_query,         // respond: "No pending queries matching ID"
  response_already_sent,    // respond: one response per query
  response_too_large,       // respond: over 1024 bytes
  response_past_deadline,   // respond: the query's deadline passed
  not_connected,            // client closed, or reconnecting and the call cannot wait
  cancelled,                // the client was closed under the call
};
const char* to_string(Errc e);

struct Member {
  std::string name;
  std::string addr;  // text: "127.0.0.1", "::1"; an IPv4-mapped IPv6 address as dotted IPv4
  uint16_t port = 0;
  Tags tags;
  std::string status;  // alive, leaving, left, failed, none
  uint8_t protocol_min = 0, protocol_max = 0, protocol_cur = 0;
  uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0;
};

struct UserEvent {
  std::string name;
  Bytes payload;
  uint64_t ltime = 0;
  bool coalesce = false;
};

struct MemberEvent {
  std::string type;  // member-join, member-leave, member-failed, member-update, member-reap
  std::vector<Member> members;
};

// Answer it with AsyncClient::respond(id, ...) on the client that received it.
struct QueryEvent {
  std::string name;
  Bytes payload;
  uint64_t ltime = 0;
  uint64_t id = 0;  // per connection: meaningless after a reconnect
};

using StreamRecord = std::variant<UserEvent, MemberEvent, QueryEvent>;
const char* record_type(const StreamRecord& r);  // "user", "member-join", ..., "query"

// One record of a query we issued; the sequence ends at "done" (not delivered as a record).
struct QueryRecord {
  enum class Type { ack, response } type = Type::ack;
  std::string from;
  Bytes payload;
};

struct QueryParams {
  std::string name;
  Bytes payload;
  std::vector<std::string> filter_nodes;
  Tags filter_tags;  // tag -> RE2 regex, matched anywhere in the value (the agent does not anchor these)
  bool request_ack = false;
  uint8_t relay_factor = 0;
  std::chrono::nanoseconds timeout{0};  // 0: the agent's default (200 ms x 16 x ceil(log10(N+1)))
};

struct QuerySummary {
  uint64_t acks = 0, responses = 0;
};

// Each pattern must match the whole value. (The agent anchors by text, "^" + P + "$", which
// anchors only the outer alternatives of "a|b"; the client sends "(?:P)" so it means what it says.)
struct MemberFilter {
  Tags tags;           // tag -> RE2 regex
  std::string status;  // RE2 regex; empty: any
  std::string name;    // RE2 regex; empty: any
};

// The reply of the four key commands; present even when the call failed on some nodes.
struct KeyResponse {
  std::map<std::string, int64_t> keys;  // base64 key -> nodes holding it (list-keys only)
  std::map<std::string, std::string> messages;  // node -> error text
  int64_t num_err = 0, num_nodes = 0, num_resp = 0;
  std::string error;  // the agent's "N/M nodes reported failure", or empty
};

struct Coordinate {
  std::vector<double> vec;
  double error = 0, adjustment = 0, height = 0;
};

// Estimated round trip between two nodes in seconds (serf-rpc.md §9).
double rtt_seconds(const Coordinate& a, const Coordinate& b);

using Stats = std::map<std::string, std::map<std::string, std::string>>;

}  // namespace rig::serf
