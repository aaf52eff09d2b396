#include "upstream/serf/protocol.hpp"

#include <mbedtls/base64.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "upstream/serf/regex_check.hpp"

namespace rig::serf {

const char* to_string(Errc e) {
  switch (e) {
    case Errc::connect: return "cannot connect";
    case Errc::closed: return "connection closed";
    case Errc::timeout: return "timed out";
    case Errc::protocol: return "protocol error";
    case Errc::auth: return "authentication";
    case Errc::remote: return "agent error";
    case Errc::invalid_argument: return "invalid argument";
    case Errc::too_large: return "too large";
    case Errc::no_pending_query: return "no pending query";
    case Errc::response_already_sent: return "response already sent";
    case Errc::response_too_large: return "response too large";
    case Errc::response_past_deadline: return "response past deadline";
    case Errc::not_connected: return "not connected";
    case Errc::cancelled: return "cancelled";
  }
  return "error";
}

const char* record_type(const StreamRecord& r) {
  if (std::holds_alternative<UserEvent>(r)) return "user";
  if (std::holds_alternative<QueryEvent>(r)) return "query";
  static thread_local std::string t;
  t = std::get<MemberEvent>(r).type;
  return t.c_str();
}

double rtt_seconds(const Coordinate& a, const Coordinate& b) {
  // serf-rpc.md §9 (Serf's coordinate.DistanceTo).
  double sum = 0;
  const size_t n = std::min(a.vec.size(), b.vec.size());
  for (size_t i = 0; i < n; ++i) sum += (a.vec[i] - b.vec[i]) * (a.vec[i] - b.vec[i]);
  const double dist = std::sqrt(sum) + a.height + b.height;
  const double adjusted = dist + a.adjustment + b.adjustment;
  return adjusted > 0 ? adjusted : dist;
}

namespace proto {

namespace {

using Packer = msgpack::packer<msgpack::sbuffer>;

Error make(Errc c, std::string message) { return Error{std::move(message), static_cast<int>(c)}; }

void pack_str(Packer& p, std::string_view s) {
  p.pack_str(static_cast<uint32_t>(s.size()));
  p.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
}
void pack_bin(Packer& p, std::string_view s) {
  p.pack_bin(static_cast<uint32_t>(s.size()));
  p.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
}
void pack_bool(Packer& p, bool b) { b ? p.pack_true() : p.pack_false(); }
void pack_tags(Packer& p, const Tags& t) {
  p.pack_map(static_cast<uint32_t>(t.size()));
  for (const auto& [k, v] : t) {
    pack_str(p, k);
    pack_str(p, v);
  }
}
void pack_strings(Packer& p, const std::vector<std::string>& v) {
  p.pack_array(static_cast<uint32_t>(v.size()));
  for (const auto& s : v) pack_str(p, s);
}
std::string done(const msgpack::sbuffer& b) { return std::string(b.data(), b.size()); }

// --- reading msgpack objects without exceptions ---

bool key_is(const msgpack::object& k, std::string_view name) {
  if (k.type == msgpack::type::STR) return std::string_view(k.via.str.ptr, k.via.str.size) == name;
  if (k.type == msgpack::type::BIN) return std::string_view(k.via.bin.ptr, k.via.bin.size) == name;
  return false;
}

const msgpack::object* field(const msgpack::object& map, std::string_view name) {
  if (map.type != msgpack::type::MAP) return nullptr;
  for (uint32_t i = 0; i < map.via.map.size; ++i)
    if (key_is(map.via.map.ptr[i].key, name)) return &map.via.map.ptr[i].val;
  return nullptr;
}

struct Reader {
  const msgpack::object& map;
  std::string what;  // "member", "user event" ...
  std::string bad;   // the first key with a wrong type

  bool fail(std::string_view key) {
    if (bad.empty()) bad = std::string(key);
    return false;
  }
  // Absent keys and nil read as zero values (the agent omits nothing, but nil is legal for bytes).
  bool str(std::string_view key, std::string& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type == msgpack::type::STR) out.assign(o->via.str.ptr, o->via.str.size);
    else if (o->type == msgpack::type::BIN) out.assign(o->via.bin.ptr, o->via.bin.size);
    else return fail(key);
    return true;
  }
  bool bytes(std::string_view key, std::string& out) { return str(key, out); }
  bool u64(std::string_view key, uint64_t& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type != msgpack::type::POSITIVE_INTEGER) return fail(key);
    out = o->via.u64;
    return true;
  }
  bool i64(std::string_view key, int64_t& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type == msgpack::type::POSITIVE_INTEGER && o->via.u64 <= static_cast<uint64_t>(INT64_MAX))
      out = static_cast<int64_t>(o->via.u64);
    else if (o->type == msgpack::type::NEGATIVE_INTEGER)
      out = o->via.i64;
    else
      return fail(key);
    return true;
  }
  bool u8(std::string_view key, uint8_t& out) {
    uint64_t v = 0;
    if (!u64(key, v)) return false;
    if (v > 255) return fail(key);
    out = static_cast<uint8_t>(v);
    return true;
  }
  bool boolean(std::string_view key, bool& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type == msgpack::type::BOOLEAN) out = o->via.boolean;
    else if (o->type == msgpack::type::POSITIVE_INTEGER) out = o->via.u64 != 0;
    else return fail(key);
    return true;
  }
  bool real(std::string_view key, double& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type == msgpack::type::FLOAT64 || o->type == msgpack::type::FLOAT32) out = o->via.f64;
    else if (o->type == msgpack::type::POSITIVE_INTEGER) out = static_cast<double>(o->via.u64);
    else if (o->type == msgpack::type::NEGATIVE_INTEGER) out = static_cast<double>(o->via.i64);
    else return fail(key);
    return true;
  }
  bool string_map(std::string_view key, std::map<std::string, std::string>& out) {
    const auto* o = field(map, key);
    if (!o || o->type == msgpack::type::NIL) return true;
    if (o->type != msgpack::type::MAP) return fail(key);
    for (uint32_t i = 0; i < o->via.map.size; ++i) {
      const auto& kv = o->via.map.ptr[i];
      std::string k, v;
      if (!as_text(kv.key, k) || !(kv.val.type == msgpack::type::NIL || as_text(kv.val, v))) return fail(key);
      out[std::move(k)] = std::move(v);
    }
    return true;
  }
  Error error() const { return make(Errc::protocol, "malformed " + what + " from the agent: '" + bad + "' has the wrong type"); }

  static bool as_text(const msgpack::object& o, std::string& out) {
    if (o.type == msgpack::type::STR) out.assign(o.via.str.ptr, o.via.str.size);
    else if (o.type == msgpack::type::BIN) out.assign(o.via.bin.ptr, o.via.bin.size);
    else return false;
    return true;
  }
};

Error not_a_map(const std::string& what) { return make(Errc::protocol, "malformed " + what + " from the agent: not a map"); }

}  // namespace

// --- requests ---

std::string header(std::string_view command, uint64_t seq) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(2);
  pack_str(p, "Command");
  pack_str(p, command);
  pack_str(p, "Seq");
  p.pack_uint64(seq);
  return done(b);
}

std::string body_handshake(int32_t version) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "Version");
  p.pack_int32(version);
  return done(b);
}

std::string body_auth(std::string_view key) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "AuthKey");
  pack_str(p, key);
  return done(b);
}

std::string body_event(std::string_view name, std::string_view payload, bool coalesce) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(3);
  pack_str(p, "Name");
  pack_str(p, name);
  pack_str(p, "Payload");
  pack_bin(p, payload);
  pack_str(p, "Coalesce");
  pack_bool(p, coalesce);
  return done(b);
}

std::string body_force_leave(std::string_view node, bool prune) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(2);
  pack_str(p, "Node");
  pack_str(p, node);
  pack_str(p, "Prune");
  pack_bool(p, prune);
  return done(b);
}

std::string body_join(const std::vector<std::string>& addresses, bool replay) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(2);
  pack_str(p, "Existing");
  pack_strings(p, addresses);
  pack_str(p, "Replay");
  pack_bool(p, replay);
  return done(b);
}

std::string body_members_filtered(const MemberFilter& f) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(3);
  pack_str(p, "Tags");
  pack_tags(p, f.tags);
  pack_str(p, "Status");
  pack_str(p, f.status);
  pack_str(p, "Name");
  pack_str(p, f.name);
  return done(b);
}

std::string body_tags(const Tags& set, const std::vector<std::string>& remove) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(2);
  pack_str(p, "Tags");
  pack_tags(p, set);
  pack_str(p, "DeleteTags");
  pack_strings(p, remove);
  return done(b);
}

std::string body_stream(std::string_view type) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "Type");
  pack_str(p, type);
  return done(b);
}

std::string body_monitor(std::string_view level) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "LogLevel");
  pack_str(p, level);
  return done(b);
}

std::string body_stop(uint64_t seq) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "Stop");
  p.pack_uint64(seq);
  return done(b);
}

std::string body_query(const QueryParams& q) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(7);
  pack_str(p, "FilterNodes");
  if (q.filter_nodes.empty()) p.pack_nil();
  else pack_strings(p, q.filter_nodes);
  pack_str(p, "FilterTags");
  pack_tags(p, q.filter_tags);
  pack_str(p, "RequestAck");
  pack_bool(p, q.request_ack);
  pack_str(p, "RelayFactor");
  p.pack_uint8(q.relay_factor);
  pack_str(p, "Timeout");  // a Go time.Duration: integer nanoseconds, never a float
  p.pack_int64(q.timeout.count() < 0 ? 0 : static_cast<int64_t>(q.timeout.count()));
  pack_str(p, "Name");
  pack_str(p, q.name);
  pack_str(p, "Payload");
  pack_bin(p, q.payload);
  return done(b);
}

std::string body_respond(uint64_t id, std::string_view payload) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(2);
  pack_str(p, "ID");
  p.pack_uint64(id);
  pack_str(p, "Payload");
  pack_bin(p, payload);
  return done(b);
}

std::string body_key(std::string_view key) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "Key");
  pack_str(p, key);
  return done(b);
}

std::string body_node(std::string_view node) {
  msgpack::sbuffer b;
  Packer p(b);
  p.pack_map(1);
  pack_str(p, "Node");
  pack_str(p, node);
  return done(b);
}

// --- checks ---

Expected<void> check_event_filter(std::string_view filter) {
  if (filter.empty() || filter == "*") return {};
  size_t start = 0;
  while (start <= filter.size()) {
    size_t end = filter.find(',', start);
    if (end == std::string_view::npos) end = filter.size();
    const std::string_view t = filter.substr(start, end - start);
    const bool ok = t == "*" || t == "member-join" || t == "member-leave" || t == "member-failed" ||
                    t == "member-update" || t == "member-reap" || t == "user" || t == "query" ||
                    (t.rfind("user:", 0) == 0 && t.size() > 5) || (t.rfind("query:", 0) == 0 && t.size() > 6);
    if (!ok)
      return make(Errc::invalid_argument,
                  "invalid event filter '" + std::string(t) +
                      "': use member-join, member-leave, member-failed, member-update, member-reap, user, user:NAME, "
                      "query, query:NAME or *, separated by commas");
    start = end + 1;
  }
  return {};
}

Expected<std::string> check_log_level(std::string_view level) {
  std::string up(level);
  for (auto& c : up) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (up == "TRACE" || up == "DEBUG" || up == "INFO" || up == "WARN" || up == "ERR") return up;
  return make(Errc::invalid_argument, "unknown log level '" + std::string(level) + "': use trace, debug, info, warn or err");
}

Expected<void> check_key(std::string_view key) {
  unsigned char out[64];
  size_t n = 0;
  if (mbedtls_base64_decode(out, sizeof out, &n, reinterpret_cast<const unsigned char*>(key.data()), key.size()) != 0 ||
      key.empty())
    return make(Errc::invalid_argument, "the key is not valid base64 (make one with `serf keygen`)");
  if (n != 16 && n != 24 && n != 32)
    return make(Errc::invalid_argument,
                "the key decodes to " + std::to_string(n) + " bytes; Serf keys are 16, 24 or 32 bytes (AES-128/192/256)");
  return {};
}

Expected<void> check_member_filter(const MemberFilter& f) {
  for (const auto& [k, re] : f.tags)
    if (auto ok = check_regex(re); !ok) return make(Errc::invalid_argument, "tag filter '" + k + "': " + ok.error().message);
  if (auto ok = check_regex(f.status); !ok) return make(Errc::invalid_argument, "status filter: " + ok.error().message);
  if (auto ok = check_regex(f.name); !ok) return make(Errc::invalid_argument, "name filter: " + ok.error().message);
  return {};
}

Expected<void> check_query(const QueryParams& q) {
  if (q.name.empty()) return make(Errc::invalid_argument, "a query needs a name");
  for (const auto& [k, re] : q.filter_tags)
    if (auto ok = check_regex(re); !ok) return make(Errc::invalid_argument, "tag filter '" + k + "': " + ok.error().message);
  if (q.timeout.count() < 0) return make(Errc::invalid_argument, "a query timeout cannot be negative");
  return {};
}

Expected<void> check_event_size(std::string_view name, std::string_view payload) {
  if (name.empty()) return make(Errc::invalid_argument, "a user event needs a name");
  if (name.size() + payload.size() > kUserEventLimit)
    return make(Errc::too_large, "user event '" + std::string(name) + "' is " + std::to_string(name.size() + payload.size()) +
                                     " bytes (name + payload); Serf's limit is " + std::to_string(kUserEventLimit));
  return {};
}

// --- replies ---

bool is_header(const msgpack::object& o) {
  if (o.type != msgpack::type::MAP || o.via.map.size != 2) return false;
  const auto& a = o.via.map.ptr[0].key;
  const auto& b = o.via.map.ptr[1].key;
  return (key_is(a, "Seq") && key_is(b, "Error")) || (key_is(a, "Error") && key_is(b, "Seq"));
}

Expected<Header> decode_header(const msgpack::object& o) {
  Header h;
  const auto* seq = field(o, "Seq");
  const auto* err = field(o, "Error");
  if (!seq || seq->type != msgpack::type::POSITIVE_INTEGER)
    return make(Errc::protocol, "malformed response header from the agent: Seq is not an unsigned integer");
  h.seq = seq->via.u64;
  if (err && err->type != msgpack::type::NIL && !Reader::as_text(*err, h.error))
    return make(Errc::protocol, "malformed response header from the agent: Error is not a string");
  return h;
}

bool error_without_body(std::string_view m) {
  return m == "Authentication required" || m == "Handshake required" || m == "Unsupported command" ||
         m == "Unsupported IPC version" || m == "Handshake already performed";
}

Error agent_error(std::string_view command, const std::string& m) {
  Errc c = Errc::remote;
  if (m == "Authentication required" || m == "Invalid authentication token") c = Errc::auth;
  else if (m == "No pending queries matching ID") c = Errc::no_pending_query;
  else if (m.find("response already sent") != std::string::npos) c = Errc::response_already_sent;
  else if (m.find("response exceeds limit") != std::string::npos) c = Errc::response_too_large;
  else if (m.find("past the deadline") != std::string::npos) c = Errc::response_past_deadline;
  else if (m.find("exceeds configured limit") != std::string::npos || m.find("exceeds limit") != std::string::npos)
    c = Errc::too_large;
  else if (m == "Invalid event filter" || m.rfind("Unknown log level", 0) == 0) c = Errc::invalid_argument;
  std::string text = m;
  while (!text.empty() && (text.back() == '\n' || text.back() == '\t' || text.back() == ' ')) text.pop_back();
  return make(c, std::string(command) + ": " + text);
}

std::string addr_to_string(std::string_view b) {
  char buf[64];
  const auto* u = reinterpret_cast<const unsigned char*>(b.data());
  if (b.size() == 4) {
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", u[0], u[1], u[2], u[3]);
    return buf;
  }
  if (b.size() != 16) return b.empty() ? std::string() : "(" + std::to_string(b.size()) + "-byte address)";
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(u, mapped, 12) == 0) return addr_to_string(b.substr(12));
  // RFC 5952: lower case, the longest run (>= 2) of zero groups as "::".
  uint16_t g[8];
  for (int i = 0; i < 8; ++i) g[i] = static_cast<uint16_t>(u[2 * i] << 8 | u[2 * i + 1]);
  int best = -1, best_len = 0;
  for (int i = 0; i < 8;) {
    if (g[i] != 0) { ++i; continue; }
    int j = i;
    while (j < 8 && g[j] == 0) ++j;
    if (j - i > best_len && j - i >= 2) { best = i; best_len = j - i; }
    i = j;
  }
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    std::snprintf(buf, sizeof buf, "%x", g[i]);
    s += buf;
  }
  return s;
}

Expected<Member> decode_member(const msgpack::object& o) {
  if (o.type != msgpack::type::MAP) return not_a_map("member");
  Reader r{o, "member", {}};
  Member m;
  std::string addr;
  uint64_t port = 0;
  const bool ok = r.str("Name", m.name) && r.bytes("Addr", addr) && r.u64("Port", port) && r.string_map("Tags", m.tags) &&
                  r.str("Status", m.status) && r.u8("ProtocolMin", m.protocol_min) && r.u8("ProtocolMax", m.protocol_max) &&
                  r.u8("ProtocolCur", m.protocol_cur) && r.u8("DelegateMin", m.delegate_min) &&
                  r.u8("DelegateMax", m.delegate_max) && r.u8("DelegateCur", m.delegate_cur) && (port <= 65535 || r.fail("Port"));
  if (!ok) return r.error();
  m.addr = addr_to_string(addr);
  m.port = static_cast<uint16_t>(port);
  return m;
}

namespace {
Expected<std::vector<Member>> member_list(const msgpack::object& body, const char* what) {
  const auto* list = field(body, "Members");
  std::vector<Member> out;
  if (!list || list->type == msgpack::type::NIL) return out;
  if (list->type != msgpack::type::ARRAY) return make(Errc::protocol, std::string("malformed ") + what + ": Members is not a list");
  out.reserve(list->via.array.size);
  for (uint32_t i = 0; i < list->via.array.size; ++i) {
    auto m = decode_member(list->via.array.ptr[i]);
    if (!m) return m.error();
    out.push_back(std::move(*m));
  }
  return out;
}
}  // namespace

Expected<std::vector<Member>> decode_members(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("members reply");
  return member_list(body, "members reply");
}

Expected<int64_t> decode_join(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("join reply");
  Reader r{body, "join reply", {}};
  int64_t n = 0;
  if (!r.i64("Num", n)) return r.error();
  return n;
}

Expected<StreamRecord> decode_stream_record(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("stream record");
  Reader r{body, "stream record", {}};
  std::string event;
  if (!r.str("Event", event)) return r.error();
  if (event == "user") {
    UserEvent e;
    if (!(r.str("Name", e.name) && r.bytes("Payload", e.payload) && r.u64("LTime", e.ltime) && r.boolean("Coalesce", e.coalesce)))
      return r.error();
    return StreamRecord{std::move(e)};
  }
  if (event == "query") {
    QueryEvent e;
    if (!(r.str("Name", e.name) && r.bytes("Payload", e.payload) && r.u64("LTime", e.ltime) && r.u64("ID", e.id)))
      return r.error();
    return StreamRecord{std::move(e)};
  }
  if (event.rfind("member-", 0) == 0) {
    auto members = member_list(body, "member event");
    if (!members) return members.error();
    return StreamRecord{MemberEvent{event, std::move(*members)}};
  }
  return make(Errc::protocol, "stream record of unknown type '" + event + "'");
}

Expected<std::string> decode_log_record(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("log record");
  Reader r{body, "log record", {}};
  std::string line;
  if (!r.str("Log", line)) return r.error();
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

Expected<QueryFrame> decode_query_record(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("query record");
  Reader r{body, "query record", {}};
  std::string type;
  QueryFrame f;
  if (!(r.str("Type", type) && r.str("From", f.record.from) && r.bytes("Payload", f.record.payload))) return r.error();
  if (type == "done") f.done = true;
  else if (type == "ack") f.record.type = QueryRecord::Type::ack;
  else if (type == "response") f.record.type = QueryRecord::Type::response;
  else return make(Errc::protocol, "query record of unknown type '" + type + "'");
  return f;
}

Expected<KeyResponse> decode_key_response(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("key reply");
  Reader r{body, "key reply", {}};
  KeyResponse k;
  if (!(r.string_map("Messages", k.messages) && r.i64("NumErr", k.num_err) && r.i64("NumNodes", k.num_nodes) &&
        r.i64("NumResp", k.num_resp)))
    return r.error();
  // Keys is nil in the replies to install/use/remove-key.
  if (const auto* keys = field(body, "Keys"); keys && keys->type != msgpack::type::NIL) {
    if (keys->type != msgpack::type::MAP) return make(Errc::protocol, "malformed key reply: Keys is not a map");
    for (uint32_t i = 0; i < keys->via.map.size; ++i) {
      const auto& kv = keys->via.map.ptr[i];
      std::string name;
      if (!Reader::as_text(kv.key, name) || kv.val.type != msgpack::type::POSITIVE_INTEGER ||
          kv.val.via.u64 > static_cast<uint64_t>(INT64_MAX))
        return make(Errc::protocol, "malformed key reply: Keys must map strings to counts");
      k.keys[std::move(name)] = static_cast<int64_t>(kv.val.via.u64);
    }
  }
  return k;
}

Expected<Stats> decode_stats(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("stats reply");
  Stats s;
  for (uint32_t i = 0; i < body.via.map.size; ++i) {
    const auto& kv = body.via.map.ptr[i];
    std::string section;
    if (!Reader::as_text(kv.key, section)) return make(Errc::protocol, "malformed stats reply: a section name is not a string");
    auto& out = s[section];
    if (kv.val.type == msgpack::type::NIL) continue;
    if (kv.val.type != msgpack::type::MAP) return make(Errc::protocol, "malformed stats reply: section '" + section + "' is not a map");
    for (uint32_t j = 0; j < kv.val.via.map.size; ++j) {
      const auto& e = kv.val.via.map.ptr[j];
      std::string key, value;
      if (!Reader::as_text(e.key, key)) return make(Errc::protocol, "malformed stats reply: a key in '" + section + "' is not a string");
      // All leaf values are strings in 0.9.4; numbers are shown as numbers should a later agent send them.
      if (e.val.type == msgpack::type::POSITIVE_INTEGER) value = std::to_string(e.val.via.u64);
      else if (e.val.type == msgpack::type::NEGATIVE_INTEGER) value = std::to_string(e.val.via.i64);
      else if (e.val.type == msgpack::type::BOOLEAN) value = e.val.via.boolean ? "true" : "false";
      else if (e.val.type != msgpack::type::NIL && !Reader::as_text(e.val, value))
        return make(Errc::protocol, "malformed stats reply: '" + section + "." + key + "' is not a string");
      out[std::move(key)] = std::move(value);
    }
  }
  return s;
}

Expected<std::optional<Coordinate>> decode_coordinate(const msgpack::object& body) {
  if (body.type != msgpack::type::MAP) return not_a_map("get-coordinate reply");
  Reader r{body, "get-coordinate reply", {}};
  bool ok = false;
  if (!r.boolean("Ok", ok)) return r.error();
  if (!ok) return std::optional<Coordinate>{};
  const auto* coord = field(body, "Coord");
  if (!coord || coord->type != msgpack::type::MAP) return make(Errc::protocol, "malformed get-coordinate reply: no Coord");
  Reader c{*coord, "coordinate", {}};
  Coordinate out;
  if (!(c.real("Adjustment", out.adjustment) && c.real("Error", out.error) && c.real("Height", out.height))) return c.error();
  if (const auto* vec = field(*coord, "Vec"); vec && vec->type != msgpack::type::NIL) {
    if (vec->type != msgpack::type::ARRAY) return make(Errc::protocol, "malformed coordinate: Vec is not a list");
    for (uint32_t i = 0; i < vec->via.array.size; ++i) {
      const auto& x = vec->via.array.ptr[i];
      if (x.type == msgpack::type::FLOAT64 || x.type == msgpack::type::FLOAT32) out.vec.push_back(x.via.f64);
      else if (x.type == msgpack::type::POSITIVE_INTEGER) out.vec.push_back(static_cast<double>(x.via.u64));
      else if (x.type == msgpack::type::NEGATIVE_INTEGER) out.vec.push_back(static_cast<double>(x.via.i64));
      else return make(Errc::protocol, "malformed coordinate: Vec holds a non-number");
    }
  }
  return std::optional<Coordinate>{std::move(out)};
}

}  // namespace proto
}  // namespace rig::serf
