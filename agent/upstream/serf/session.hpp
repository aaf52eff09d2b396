// The bookkeeping of one Serf RPC connection, without the socket (serf-rpc.md §2, §12): which
// Seq is waiting for what, and which object in the incoming byte stream belongs to which Seq.
// Bytes go in through feed(); every complete frame (a header, with its body when one follows)
// is handed to the callback registered for its Seq.
//
// Bodies are recognised structurally: a map whose keys are exactly {Seq, Error} is a header,
// anything else is the body of the header before it. A header-only reply is delivered as soon as
// it is read when its entry does not expect a body, so nothing waits for a body that never comes;
// a record for a Seq nobody waits for any more (a stopped stream, a timed-out call, the agent's
// duplicate "Authentication required") is dropped with its body and counted.
#pragma once

#include <deque>
#include <functional>
#include <unordered_map>

#include <msgpack.hpp>

#include "core/expected.hpp"
#include "upstream/serf/protocol.hpp"

namespace rig::serf {

class Session {
 public:
  enum class Kind {
    call,            // one header-only reply
    call_with_body,  // one reply with a body (unless the agent refuses before reading the request)
    subscription,    // an ack, then records with bodies until forget() (stream, monitor)
    query,           // an ack, then records until the callback reports the end ("done")
  };
  // body is null for a header-only frame. Returns true when the entry is finished.
  using Deliver = std::function<bool(const proto::Header&, const msgpack::object* body)>;

  struct Counters {
    uint64_t frames = 0, late = 0, duplicates = 0;
  };

  explicit Session(size_t max_object_bytes = 8 * 1024 * 1024);

  uint64_t next_seq() { return next_seq_++; }
  void expect(uint64_t seq, Kind kind, Deliver deliver);
  // No longer interested (stopped, timed out): later frames for seq are dropped quietly.
  void forget(uint64_t seq);
  bool waiting(uint64_t seq) const { return entries_.count(seq) != 0; }
  size_t entries() const { return entries_.size(); }

  // An error means the byte stream cannot be trusted any more: drop the connection.
  Expected<void> feed(const char* data, size_t size);
  // A new connection: the unpacker and every entry are dropped (the caller fails its own). Safe
  // from inside a callback: the rest of the bytes being fed are then discarded.
  void reset();
  const Counters& counters() const { return counters_; }

 private:
  struct Entry {
    Kind kind;
    // Shared so a callback may forget() or reset() its own entry while it runs.
    std::shared_ptr<Deliver> deliver;
    bool acked = false;
  };
  // Calls the entry's callback; afterwards the entry is finished (erased) if asked to be.
  void dispatch(uint64_t seq, const proto::Header& h, const msgpack::object* body, bool ack);
  Expected<void> on_object(const msgpack::object& o);
  void finish_pending_without_body();
  void remember_done(uint64_t seq);

  size_t max_object_bytes_;
  std::unique_ptr<msgpack::unpacker> unpacker_;
  uint64_t next_seq_ = 1;
  std::unordered_map<uint64_t, Entry> entries_;
  std::deque<uint64_t> done_;  // recently finished Seqs: tells late records from unknown ones
  // The header just read whose body, if any, comes next.
  enum class After { nothing, body_for_entry, stray } after_ = After::nothing;
  proto::Header pending_;
  bool seen_header_ = false;
  bool in_feed_ = false, reset_pending_ = false;
  Counters counters_;
};

}  // namespace rig::serf
