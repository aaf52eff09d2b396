// The Serf agent RPC protocol as pure functions (serf-rpc.md): request headers and bodies encoded
// with msgpack-c exactly as the agent wants them (str for names and keys, bin for payloads,
// integer nanoseconds for timeouts), and reply and record bodies decoded from msgpack objects
// without throwing. No sockets: the fuzz target and the unit tests drive these directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <msgpack.hpp>

#include "core/expected.hpp"
#include "upstream/serf/types.hpp"

namespace rig::serf::proto {

// --- requests ---
std::string header(std::string_view command, uint64_t seq);
std::string body_handshake(int32_t version);
std::string body_auth(std::string_view key);
std::string body_event(std::string_view name, std::string_view payload, bool coalesce);
std::string body_force_leave(std::string_view node, bool prune);
std::string body_join(const std::vector<std::string>& addresses, bool replay);
std::string body_members_filtered(const MemberFilter& filter);
std::string body_tags(const Tags& set, const std::vector<std::string>& remove);
std::string body_stream(std::string_view type);
std::string body_monitor(std::string_view level);
std::string body_stop(uint64_t seq);
std::string body_query(const QueryParams& params);
std::string body_respond(uint64_t id, std::string_view payload);
std::string body_key(std::string_view key);
std::string body_node(std::string_view node);  // get-coordinate

// --- checks made before sending (each one would otherwise cost the connection or a round trip) ---
Expected<void> check_event_filter(std::string_view filter);  // §6.1
Expected<std::string> check_log_level(std::string_view level);  // upper-cased
Expected<void> check_key(std::string_view base64);  // 16, 24 or 32 bytes once decoded
Expected<void> check_member_filter(const MemberFilter& filter);
Expected<void> check_query(const QueryParams& params);
Expected<void> check_event_size(std::string_view name, std::string_view payload);  // 512 B (§10)

constexpr size_t kUserEventLimit = 512;
constexpr size_t kQueryLimit = 1024;
constexpr size_t kResponseLimit = 1024;

// --- replies ---
// The structural rule of §2: a map whose keys are exactly {Seq, Error} is a response header.
bool is_header(const msgpack::object& o);
struct Header {
  uint64_t seq = 0;
  std::string error;
};
Expected<Header> decode_header(const msgpack::object& o);  // only after is_header()

// An agent error string as an Error with the right Errc (auth, too_large, the respond errors...).
Error agent_error(std::string_view command, const std::string& message);
// Errors after which the agent sends no reply body, even for commands that always have one.
bool error_without_body(std::string_view message);

std::string addr_to_string(std::string_view bytes);  // 4 or 16 bytes; ::ffff:a.b.c.d -> a.b.c.d

Expected<Member> decode_member(const msgpack::object& o);
Expected<std::vector<Member>> decode_members(const msgpack::object& body);  // {"Members": [...]}
Expected<int64_t> decode_join(const msgpack::object& body);                  // {"Num": n}
Expected<StreamRecord> decode_stream_record(const msgpack::object& body);
Expected<std::string> decode_log_record(const msgpack::object& body);        // {"Log": line}
struct QueryFrame {
  bool done = false;
  QueryRecord record;
};
Expected<QueryFrame> decode_query_record(const msgpack::object& body);
Expected<KeyResponse> decode_key_response(const msgpack::object& body);
Expected<Stats> decode_stats(const msgpack::object& body);
Expected<std::optional<Coordinate>> decode_coordinate(const msgpack::object& body);

}  // namespace rig::serf::proto
