// The Serf RPC decoder as the client uses it: arbitrary agent bytes, split into reads at
// positions the input chooses, fed to a Session that waits on one entry of every kind (a
// header-only call, calls with bodies, a stream, the monitor, a query); every body delivered is
// decoded by the decoder its command uses. Properties: no crash, no UB, no leak, no unbounded
// buffering, and what is delivered is consistent (a call is delivered once, nothing after an
// entry finished, body-less records are tolerated).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "upstream/serf/protocol.hpp"
#include "upstream/serf/session.hpp"

using namespace rig::serf;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t split = 1 + data[0] % 64;  // read size
  data += 1;
  size -= 1;
  Session s(64 * 1024);
  int delivered[8] = {};
  bool finished[8] = {};
  auto entry = [&](int i, Session::Kind kind, auto decode) {
    s.expect(s.next_seq(), kind, [&, i, kind, decode](const proto::Header& h, const msgpack::object* body) {
      FUZZ_CHECK(!finished[i]);
      ++delivered[i];
      if (body) decode(*body);
      (void)h.error.size();
      if (kind == Session::Kind::call || kind == Session::Kind::call_with_body) {
        finished[i] = true;
        return true;
      }
      if (kind == Session::Kind::query && body) {
        auto f = proto::decode_query_record(*body);
        if (f && f->done) {
          finished[i] = true;
          return true;
        }
      }
      return false;
    });
  };
  auto none = [](const msgpack::object&) {};
  entry(0, Session::Kind::call, none);                                                                        // seq 1
  entry(1, Session::Kind::call_with_body, [](const msgpack::object& o) { (void)proto::decode_members(o); });  // 2
  entry(2, Session::Kind::call_with_body, [](const msgpack::object& o) { (void)proto::decode_key_response(o); });
  entry(3, Session::Kind::call_with_body, [](const msgpack::object& o) { (void)proto::decode_stats(o); });
  entry(4, Session::Kind::call_with_body, [](const msgpack::object& o) { (void)proto::decode_coordinate(o); });
  entry(5, Session::Kind::subscription, [](const msgpack::object& o) {
    auto r = proto::decode_stream_record(o);
    if (r) (void)record_type(*r);
  });
  entry(6, Session::Kind::subscription, [](const msgpack::object& o) { (void)proto::decode_log_record(o); });
  entry(7, Session::Kind::query, [](const msgpack::object& o) { (void)proto::decode_join(o); });

  const char* p = reinterpret_cast<const char*>(data);
  while (size > 0) {
    const size_t n = size < split ? size : split;
    if (!s.feed(p, n)) break;  // a protocol error: the client would drop the connection here
    p += n;
    size -= n;
  }
  for (int i = 0; i < 8; ++i) FUZZ_CHECK(!finished[i] || delivered[i] >= 1);
  FUZZ_CHECK(delivered[0] <= 1 && delivered[1] <= 1 && delivered[2] <= 1);
  return 0;
}
