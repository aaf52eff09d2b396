// The Serf RPC protocol without sockets (serf-rpc.md): requests encoded byte for byte as the spec's
// examples, reply and record bodies decoded (addresses, nil vectors, key replies), the checks
// made before sending, and the Session fed scripted agent bytes: header-only replies delivered at
// once, bodies split across reads, the duplicate "Authentication required", records after a
// stop, unknown Seqs with bodies, queries ending at "done", refusals, and bytes that are not
// msgpack at all.
#include "support/cmocka.hpp"

#include <cmath>

#include "upstream/serf/protocol.hpp"
#include "upstream/serf/session.hpp"

using namespace rig;
using namespace rig::serf;

namespace {

std::string unhex(const std::string& h) {
  std::string out;
  std::string digits;
  for (char c : h)
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  for (size_t i = 0; i + 1 < digits.size(); i += 2) out += static_cast<char>(std::stoi(digits.substr(i, 2), nullptr, 16));
  return out;
}

std::string hex(const std::string& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += d[c >> 4];
    s += d[c & 15];
  }
  return s;
}

msgpack::object_handle unpack(const std::string& b) { return msgpack::unpack(b.data(), b.size()); }

// What an agent would send, built with msgpack-c.
struct Agent {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p{buf};
  void str(const std::string& s) {
    p.pack_str(static_cast<uint32_t>(s.size()));
    p.pack_str_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  void bin(const std::string& s) {
    p.pack_bin(static_cast<uint32_t>(s.size()));
    p.pack_bin_body(s.data(), static_cast<uint32_t>(s.size()));
  }
  Agent& header(uint64_t seq, const std::string& error = "") {
    p.pack_map(2);
    str("Error");
    str(error);
    str("Seq");
    p.pack_uint64(seq);
    return *this;
  }
  Agent& user_event(const std::string& name, uint64_t ltime) {
    p.pack_map(5);
    str("Coalesce");
    p.pack_true();
    str("Event");
    str("user");
    str("LTime");
    p.pack_uint64(ltime);
    str("Name");
    str(name);
    str("Payload");
    bin("x");
    return *this;
  }
  Agent& query_record(const std::string& type, const std::string& from) {
    p.pack_map(3);
    str("From");
    str(from);
    str("Payload");
    if (type == "response") bin("pong");
    else p.pack_nil();
    str("Type");
    str(type);
    return *this;
  }
  Agent& num(int64_t n) {
    p.pack_map(1);
    str("Num");
    p.pack_int64(n);
    return *this;
  }
  std::string bytes() const { return std::string(buf.data(), buf.size()); }
};

struct Seen {
  std::vector<std::string> events;  // "seq:error:body?"
  Session::Deliver call(bool finish = true) {
    return [this, finish](const proto::Header& h, const msgpack::object* body) {
      events.push_back(std::to_string(h.seq) + ":" + h.error + ":" + (body ? "body" : "-"));
      return finish;
    };
  }
};

// --- encoding ---

void request_bytes(void**) {
  // §2: the handshake request, byte for byte.
  assert_str(hex(proto::header("handshake", 1) + proto::body_handshake(1)),
             hex(unhex("82 a7 43 6f 6d 6d 61 6e 64 a9 68 61 6e 64 73 68 61 6b 65 a3 53 65 71 01 81 a7 56 65 72 73 69 6f 6e 01")));
  // §13: event, with Payload as bin8 (keys in our order: the agent does not care).
  assert_str(hex(proto::header("event", 2)), "82a7436f6d6d616e64a56576656e74a353657102");
  const auto ev = unpack(proto::body_event("deploy", "9c45b87", true));
  const auto& o = ev.get();
  assert_int_equal(o.type, msgpack::type::MAP);
  assert_int_equal(o.via.map.size, 3);
  bool payload_bin = false, coalesce = false;
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const auto& kv = o.via.map.ptr[i];
    assert_int_equal(kv.key.type, msgpack::type::STR);  // never bin: the agent would drop us
    const std::string k(kv.key.via.str.ptr, kv.key.via.str.size);
    if (k == "Payload") payload_bin = kv.val.type == msgpack::type::BIN && kv.val.via.bin.size == 7;
    if (k == "Coalesce") coalesce = kv.val.type == msgpack::type::BOOLEAN && kv.val.via.boolean;
  }
  assert_true(payload_bin && coalesce);
  // A Seq of 2^32 and more is an unsigned 64-bit integer.
  assert_true(hex(proto::header("stats", 1ull << 40)).find("cf0000010000000000") != std::string::npos);
}

void query_body(void**) {
  QueryParams q;
  q.name = "ping";
  q.payload = "hi";
  q.request_ack = true;
  q.timeout = std::chrono::seconds(1);
  q.relay_factor = 2;
  q.filter_tags = {{"role", "web.*"}};
  const auto h = unpack(proto::body_query(q));
  const auto& o = h.get();
  std::map<std::string, msgpack::type::object_type> types;
  for (uint32_t i = 0; i < o.via.map.size; ++i)
    types[std::string(o.via.map.ptr[i].key.via.str.ptr, o.via.map.ptr[i].key.via.str.size)] = o.via.map.ptr[i].val.type;
  assert_int_equal(types.size(), 7);
  assert_int_equal(types["Timeout"], msgpack::type::POSITIVE_INTEGER);  // integer ns: a float kills the connection
  assert_int_equal(types["Payload"], msgpack::type::BIN);
  assert_int_equal(types["Name"], msgpack::type::STR);
  assert_int_equal(types["FilterNodes"], msgpack::type::NIL);  // as the Go CLI sends it
  assert_int_equal(types["FilterTags"], msgpack::type::MAP);
  assert_int_equal(types["RelayFactor"], msgpack::type::POSITIVE_INTEGER);
  assert_int_equal(types["RequestAck"], msgpack::type::BOOLEAN);
  for (uint32_t i = 0; i < o.via.map.size; ++i)
    if (std::string(o.via.map.ptr[i].key.via.str.ptr, 7) == "Timeout") assert_int_equal(o.via.map.ptr[i].val.via.u64, 1000000000ull);
}

// --- checks ---

void checks(void**) {
  assert_true(proto::check_event_filter("").has_value());
  assert_true(proto::check_event_filter("*").has_value());
  assert_true(proto::check_event_filter("member-join,user:deploy,query:load,member-reap").has_value());
  for (const char* bad : {"members", "user:", "user,", "member-join, user", "query:"}) {
    auto r = proto::check_event_filter(bad);
    assert_false(r.has_value());
    assert_int_equal(r.error().code, static_cast<int>(Errc::invalid_argument));
  }
  assert_str(*proto::check_log_level("debug"), "DEBUG");
  assert_str(*proto::check_log_level("Err"), "ERR");
  assert_false(proto::check_log_level("warning").has_value());
  assert_true(proto::check_key("QHOYjmYlxSCBhdfiolhtDQ==").has_value());            // 16 bytes
  assert_true(proto::check_key("5K9OtfP7efFrNKe5WCQvXvnaXJ5cWP0SvXiwe0kkjM4=").has_value());  // 32 bytes
  assert_false(proto::check_key("c2hvcnQ=").has_value());                             // 5 bytes
  assert_false(proto::check_key("not base64!").has_value());
  assert_false(proto::check_key("").has_value());
  assert_true(proto::check_event_size("deploy", std::string(506, 'x')).has_value());
  auto big = proto::check_event_size("deploy", std::string(507, 'x'));
  assert_false(big.has_value());
  assert_int_equal(big.error().code, static_cast<int>(Errc::too_large));
  QueryParams q;
  assert_false(proto::check_query(q).has_value());  // no name
}

void agent_errors(void**) {
  auto code = [](const char* cmd, const char* m) { return proto::agent_error(cmd, m).code; };
  assert_int_equal(code("members", "Authentication required"), static_cast<int>(Errc::auth));
  assert_int_equal(code("auth", "Invalid authentication token"), static_cast<int>(Errc::auth));
  assert_int_equal(code("respond", "No pending queries matching ID"), static_cast<int>(Errc::no_pending_query));
  assert_int_equal(code("respond", "failed to respond to key query: response already sent"),
                   static_cast<int>(Errc::response_already_sent));
  assert_int_equal(code("respond", "failed to respond to key query: response exceeds limit of 1024 bytes"),
                   static_cast<int>(Errc::response_too_large));
  assert_int_equal(code("respond", "failed to respond to key query: response is past the deadline"),
                   static_cast<int>(Errc::response_past_deadline));
  assert_int_equal(code("event", "user event exceeds configured limit of 512 bytes before encoding"),
                   static_cast<int>(Errc::too_large));
  assert_int_equal(code("query", "query exceeds limit of 1024 bytes"), static_cast<int>(Errc::too_large));
  assert_int_equal(code("stream", "Invalid event filter"), static_cast<int>(Errc::invalid_argument));
  assert_int_equal(code("join", "1 error occurred:\n\t* Failed to join 127.0.0.1\n\n"), static_cast<int>(Errc::remote));
  // The join error's trailing newlines are trimmed; the command is named.
  assert_str(proto::agent_error("join", "1 error occurred:\n\t* x\n\n").message, "join: 1 error occurred:\n\t* x");
}

// --- decoding ---

void addresses(void**) {
  assert_str(proto::addr_to_string(unhex("7f000001")), "127.0.0.1");
  assert_str(proto::addr_to_string(unhex("00000000000000000000000000000001")), "::1");
  assert_str(proto::addr_to_string(unhex("00000000000000000000ffff0a000203")), "10.0.2.3");  // v4-mapped
  assert_str(proto::addr_to_string(unhex("20010db8000000000000000000000001")), "2001:db8::1");
  assert_str(proto::addr_to_string(unhex("fe800000000000000202b3fffe1e8329")), "fe80::202:b3ff:fe1e:8329");
  assert_str(proto::addr_to_string(unhex("20010db8000100000001000000000001")), "2001:db8:1:0:1::1");
  assert_str(proto::addr_to_string(""), "");
}

void members_reply(void**) {
  // §5.1's example member.
  Agent a;
  a.p.pack_map(1);
  a.str("Members");
  a.p.pack_array(1);
  a.p.pack_map(11);
  a.str("Addr");
  a.bin(unhex("7f000001"));
  for (auto [k, v] : {std::pair{"DelegateCur", 5}, {"DelegateMax", 5}, {"DelegateMin", 2}}) {
    a.str(k);
    a.p.pack_uint8(static_cast<uint8_t>(v));
  }
  a.str("Name");
  a.str("b");
  a.str("Port");
  a.p.pack_uint16(7947);
  for (auto [k, v] : {std::pair{"ProtocolCur", 2}, {"ProtocolMax", 5}, {"ProtocolMin", 1}}) {
    a.str(k);
    a.p.pack_uint8(static_cast<uint8_t>(v));
  }
  a.str("Status");
  a.str("alive");
  a.str("Tags");
  a.p.pack_map(2);
  a.str("dc");
  a.str("x");
  a.str("role");
  a.str("web");
  const auto h = unpack(a.bytes());
  auto m = proto::decode_members(h.get());
  assert_true(m.has_value());
  assert_int_equal(m->size(), 1);
  const Member& b = (*m)[0];
  assert_str(b.name, "b");
  assert_str(b.addr, "127.0.0.1");
  assert_int_equal(b.port, 7947);
  assert_str(b.status, "alive");
  assert_str(b.tags.at("role"), "web");
  assert_int_equal(b.protocol_min, 1);
  assert_int_equal(b.protocol_max, 5);
  assert_int_equal(b.delegate_cur, 5);

  // A Port that is a string is a protocol error, not a crash or a zero.
  Agent bad;
  bad.p.pack_map(1);
  bad.str("Members");
  bad.p.pack_array(1);
  bad.p.pack_map(1);
  bad.str("Port");
  bad.str("7946");
  const auto hb = unpack(bad.bytes());
  auto e = proto::decode_members(hb.get());
  assert_false(e.has_value());
  assert_int_equal(e.error().code, static_cast<int>(Errc::protocol));
  assert_true(e.error().message.find("Port") != std::string::npos);
}

void records(void**) {
  // §6.3's user event record, byte for byte.
  const auto u = unpack(unhex("85 a8 436f616c65736365 c3 a5 4576656e74 a4 75736572 a5 4c54696d65 0d a4 4e616d65 a6 6465706c6f79"
                              " a7 5061796c6f6164 c4 07 39633435623837"));
  auto r = proto::decode_stream_record(u.get());
  assert_true(r.has_value());
  const auto& ev = std::get<UserEvent>(*r);
  assert_str(ev.name, "deploy");
  assert_str(ev.payload, "9c45b87");
  assert_int_equal(ev.ltime, 13);
  assert_true(ev.coalesce);
  assert_str(record_type(*r), "user");
  // §13's query event record (no Coalesce key).
  const auto q = unpack(unhex("85a54576656e74a57175657279a2494401a54c54696d6513a44e616d65a470696e67a75061796c6f6164c4026869"));
  auto qr = proto::decode_stream_record(q.get());
  assert_true(qr.has_value());
  assert_int_equal(std::get<QueryEvent>(*qr).id, 1);
  assert_str(std::get<QueryEvent>(*qr).payload, "hi");
  // §7.1's query records: ack (nil payload), response, done.
  auto ack = proto::decode_query_record(unpack(unhex("83a446726f6da161a75061796c6f6164c0a454797065a361636b")).get());
  assert_true(ack.has_value() && !ack->done && ack->record.type == QueryRecord::Type::ack && ack->record.from == "a");
  assert_true(ack->record.payload.empty());
  auto resp = proto::decode_query_record(
      unpack(unhex("83a446726f6da162a75061796c6f6164c407706f6e673a6869a454797065a8726573706f6e7365")).get());
  assert_true(resp.has_value() && resp->record.type == QueryRecord::Type::response);
  assert_str(resp->record.payload, "pong:hi");
  auto done = proto::decode_query_record(unpack(unhex("83a446726f6da0a75061796c6f6164c0a454797065a4646f6e65")).get());
  assert_true(done.has_value() && done->done);
  // An unknown record type is refused rather than guessed at.
  Agent x;
  x.p.pack_map(1);
  x.str("Event");
  x.str("member-explode");
  assert_true(proto::decode_stream_record(unpack(x.bytes()).get()).has_value());  // member-*: a member event
  Agent y;
  y.p.pack_map(1);
  y.str("Event");
  y.str("gossip");
  assert_false(proto::decode_stream_record(unpack(y.bytes()).get()).has_value());
}

void coordinates_keys_stats(void**) {
  // §13: get-coordinate of an unknown node: Ok false, Vec nil.
  auto none = proto::decode_coordinate(unpack(unhex("82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a54572726f72cb0000000000000000"
                                                    "a6486569676874cb0000000000000000a3566563c0a24f6bc2")).get());
  assert_true(none.has_value());
  assert_false(none->has_value());
  Coordinate a{{0.001, 0, 0, 0, 0, 0, 0, 0}, 0.5, 0.0001, 0.00002};
  Coordinate b{{0, 0, 0, 0, 0, 0, 0, 0}, 0.5, -0.0002, 0.00002};
  // dist = 0.001 + 0.00004 = 0.00104; adjusted = 0.00104 - 0.0001 = 0.00094
  assert_true(std::fabs(rtt_seconds(a, b) - 0.00094) < 1e-9);
  b.adjustment = -0.01;  // an adjusted distance <= 0 falls back to the raw one
  assert_true(std::fabs(rtt_seconds(a, b) - 0.00104) < 1e-9);

  Agent k;
  k.p.pack_map(5);
  k.str("Keys");
  k.p.pack_nil();  // install/use/remove-key
  k.str("Messages");
  k.p.pack_map(1);
  k.str("a");
  k.str("No keyring to modify (encryption not enabled)");
  k.str("NumErr");
  k.p.pack_uint8(1);
  k.str("NumNodes");
  k.p.pack_uint8(1);
  k.str("NumResp");
  k.p.pack_uint8(1);
  auto kr = proto::decode_key_response(unpack(k.bytes()).get());
  assert_true(kr.has_value());
  assert_true(kr->keys.empty());
  assert_int_equal(kr->num_err, 1);
  assert_str(kr->messages.at("a"), "No keyring to modify (encryption not enabled)");

  Agent s;
  s.p.pack_map(2);
  s.str("agent");
  s.p.pack_map(1);
  s.str("name");
  s.str("a");
  s.str("serf");
  s.p.pack_map(1);
  s.str("members");
  s.str("2");
  auto st = proto::decode_stats(unpack(s.bytes()).get());
  assert_true(st.has_value());
  assert_str(st->at("agent").at("name"), "a");
  assert_str(st->at("serf").at("members"), "2");
}

// --- the session ---

void header_only_reply_is_delivered_at_once(void**) {
  Session s;
  Seen seen;
  s.expect(s.next_seq(), Session::Kind::call, seen.call());
  const auto b = Agent().header(1).bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  // Delivered without waiting for another object (the bug of clients that wait for a body).
  assert_int_equal(seen.events.size(), 1);
  assert_str(seen.events[0], "1::-");
  assert_int_equal(s.entries(), 0);
}

void body_split_across_reads(void**) {
  Session s;
  Seen seen;
  const uint64_t seq = s.next_seq();
  s.expect(seq, Session::Kind::call_with_body, seen.call());
  const auto b = Agent().header(seq).num(3).bytes();
  for (char c : b) assert_true(s.feed(&c, 1).has_value());  // one byte per read
  assert_int_equal(seen.events.size(), 1);
  assert_str(seen.events[0], "1::body");
}

void refusal_without_body(void**) {
  // "Authentication required" to a command that always has a body: header only, and the
  // agent's duplicate of it (§3.2) is counted and dropped.
  Session s;
  Seen seen;
  const uint64_t members = s.next_seq();
  s.expect(members, Session::Kind::call_with_body, seen.call());
  const uint64_t stats = s.next_seq();
  s.expect(stats, Session::Kind::call_with_body, seen.call());
  Agent a;
  a.header(members, "Authentication required").header(members, "Authentication required").header(stats).num(1);
  const auto b = a.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(seen.events.size(), 2);
  assert_str(seen.events[0], "1:Authentication required:-");
  assert_str(seen.events[1], "2::body");
  assert_int_equal(s.counters().duplicates, 1);
}

void records_after_stop_are_dropped(void**) {
  Session s;
  Seen stream, later;
  const uint64_t st = s.next_seq();
  s.expect(st, Session::Kind::subscription, stream.call(false));
  Agent ack;
  ack.header(st).header(st).user_event("deploy", 1);
  auto b = ack.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(stream.events.size(), 2);  // ack, record
  s.forget(st);  // stop sent
  const uint64_t m = s.next_seq();
  s.expect(m, Session::Kind::call_with_body, later.call());
  // Records already on the way, then the stop's reply... the members reply must still be matched.
  Agent after;
  after.header(st).user_event("deploy", 2).header(st).user_event("deploy", 3).header(m).num(2);
  b = after.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(stream.events.size(), 2);
  assert_int_equal(later.events.size(), 1);
  assert_str(later.events[0], "2::body");
  assert_int_equal(s.counters().late, 2);
}

void unknown_seq_with_body(void**) {
  Session s;
  Seen seen;
  const uint64_t seq = s.next_seq();
  s.expect(seq, Session::Kind::call, seen.call());
  Agent a;
  a.header(99).num(1).header(seq);  // a stranger's frame with a body, then ours
  const auto b = a.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(seen.events.size(), 1);
  assert_str(seen.events[0], "1::-");
  assert_int_equal(s.counters().late, 1);
}

void query_ends_at_done(void**) {
  Session s;
  std::vector<std::string> got;
  const uint64_t q = s.next_seq();
  s.expect(q, Session::Kind::query, [&](const proto::Header& h, const msgpack::object* body) {
    if (!body) {
      got.push_back("ack:" + h.error);
      return false;
    }
    auto f = proto::decode_query_record(*body);
    assert_true(f.has_value());
    got.push_back(f->done ? "done" : f->record.from);
    return f->done;
  });
  Agent a;
  a.header(q).header(q).query_record("ack", "a").header(q).query_record("response", "b").header(q).query_record("done", "");
  a.header(q).query_record("response", "late");  // nothing after done is delivered
  const auto b = a.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(got.size(), 4);
  assert_str(got[0], "ack:");
  assert_str(got[1], "a");
  assert_str(got[2], "b");
  assert_str(got[3], "done");
  assert_int_equal(s.entries(), 0);
  assert_int_equal(s.counters().late, 1);
}

void refused_subscription_and_query(void**) {
  Session s;
  Seen st, q, after;
  const uint64_t a = s.next_seq();
  s.expect(a, Session::Kind::subscription, st.call(false));
  const uint64_t b = s.next_seq();
  s.expect(b, Session::Kind::query, q.call(false));
  const uint64_t c = s.next_seq();
  s.expect(c, Session::Kind::call, after.call());
  Agent x;
  x.header(a, "Invalid event filter").header(b, "query exceeds limit of 1024 bytes").header(c);
  const auto bytes = x.bytes();
  assert_true(s.feed(bytes.data(), bytes.size()).has_value());
  assert_int_equal(st.events.size(), 1);
  assert_int_equal(q.events.size(), 1);
  assert_int_equal(after.events.size(), 1);
  assert_int_equal(s.entries(), 0);  // refused: nothing more is waited for
}

void garbage_is_a_protocol_error(void**) {
  {
    Session s;
    const std::string b = "\xc1";  // never valid msgpack
    auto r = s.feed(b.data(), b.size());
    assert_false(r.has_value());
    assert_int_equal(r.error().code, static_cast<int>(Errc::protocol));
  }
  {
    Session s;  // a body before any header
    const auto b = Agent().num(1).bytes();
    assert_false(s.feed(b.data(), b.size()).has_value());
  }
  {
    Session s;  // a header whose Seq is a string
    Agent a;
    a.p.pack_map(2);
    a.str("Error");
    a.str("");
    a.str("Seq");
    a.str("1");
    const auto b = a.bytes();
    assert_false(s.feed(b.data(), b.size()).has_value());
  }
  {
    // A 4 GiB string announced: msgpack-c checks its limits only once the bytes are there, so
    // the session stops buffering at its own bound instead of waiting for 4 GiB.
    Session s(1024);
    std::string b = unhex("db ff ff ff ff");
    assert_true(s.feed(b.data(), b.size()).has_value());
    b.assign(2000, 'x');
    auto r = s.feed(b.data(), b.size());
    assert_false(r.has_value());
    assert_int_equal(r.error().code, static_cast<int>(Errc::protocol));
  }
  {
    Session s;  // 100 levels of nesting
    std::string b(100, '\x91');
    b += '\xc0';
    assert_false(s.feed(b.data(), b.size()).has_value());
  }
}

void reset_from_a_callback(void**) {
  // A callback that drops the connection (close(), a handshake refusal) while bytes are being
  // fed: the rest of those bytes are discarded and the session is fresh afterwards.
  Session s;
  int calls = 0;
  const uint64_t a = s.next_seq();
  s.expect(a, Session::Kind::call, [&](const proto::Header&, const msgpack::object*) {
    ++calls;
    s.reset();
    return true;
  });
  const uint64_t b = s.next_seq();
  s.expect(b, Session::Kind::call, [&](const proto::Header&, const msgpack::object*) {
    ++calls;
    return true;
  });
  Agent x;
  x.header(a).header(b);
  const auto bytes = x.bytes();
  assert_true(s.feed(bytes.data(), bytes.size()).has_value());
  assert_int_equal(calls, 1);
  assert_int_equal(s.entries(), 0);
  Seen fresh;
  const uint64_t c = s.next_seq();
  s.expect(c, Session::Kind::call, fresh.call());
  const auto again = Agent().header(c).bytes();
  assert_true(s.feed(again.data(), again.size()).has_value());
  assert_int_equal(fresh.events.size(), 1);
}

void forget_from_a_callback(void**) {
  // A query whose callback finishes it itself (the client's finish_query) must not be erased twice.
  Session s;
  const uint64_t q = s.next_seq();
  int n = 0;
  s.expect(q, Session::Kind::query, [&](const proto::Header&, const msgpack::object* body) {
    ++n;
    if (body) s.forget(q);
    return body != nullptr;
  });
  Agent a;
  a.header(q).header(q).query_record("done", "");
  const auto b = a.bytes();
  assert_true(s.feed(b.data(), b.size()).has_value());
  assert_int_equal(n, 2);
  assert_int_equal(s.entries(), 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(request_bytes),
      cmocka_unit_test(query_body),
      cmocka_unit_test(checks),
      cmocka_unit_test(agent_errors),
      cmocka_unit_test(addresses),
      cmocka_unit_test(members_reply),
      cmocka_unit_test(records),
      cmocka_unit_test(coordinates_keys_stats),
      cmocka_unit_test(header_only_reply_is_delivered_at_once),
      cmocka_unit_test(body_split_across_reads),
      cmocka_unit_test(refusal_without_body),
      cmocka_unit_test(records_after_stop_are_dropped),
      cmocka_unit_test(unknown_seq_with_body),
      cmocka_unit_test(query_ends_at_done),
      cmocka_unit_test(refused_subscription_and_query),
      cmocka_unit_test(garbage_is_a_protocol_error),
      cmocka_unit_test(reset_from_a_callback),
      cmocka_unit_test(forget_from_a_callback),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
