#include "upstream/serf/session.hpp"

#include <algorithm>

namespace rig::serf {

namespace {
Error protocol_error(std::string m) { return Error{std::move(m), static_cast<int>(Errc::protocol)}; }
constexpr size_t kRememberDone = 4096;
}  // namespace

Session::Session(size_t max_object_bytes) : max_object_bytes_(max_object_bytes) { reset(); }

void Session::reset() {
  entries_.clear();
  done_.clear();
  after_ = After::nothing;
  seen_header_ = false;
  if (in_feed_) {
    reset_pending_ = true;  // the unpacker is in use up the stack: replaced when feed() returns
    return;
  }
  const auto n = static_cast<std::size_t>(max_object_bytes_);
  // Bounds on what one object may declare, so a hostile or broken peer cannot make us allocate
  // gigabytes or recurse without end: arrays/maps (a members list of a large cluster fits),
  // str/bin sizes, no ext types (the agent never sends them), nesting depth.
  msgpack::unpack_limit limit(1 << 20, 1 << 20, n, n, 0, 64);
  unpacker_ = std::make_unique<msgpack::unpacker>(nullptr, nullptr, MSGPACK_UNPACKER_INIT_BUFFER_SIZE, limit);
}

void Session::expect(uint64_t seq, Kind kind, Deliver deliver) {
  entries_[seq] = Entry{kind, std::make_shared<Deliver>(std::move(deliver)), false};
}

void Session::dispatch(uint64_t seq, const proto::Header& h, const msgpack::object* body, bool ack) {
  auto it = entries_.find(seq);
  if (it == entries_.end()) return;
  auto deliver = it->second.deliver;
  bool finished = (*deliver)(h, body);
  it = entries_.find(seq);  // the callback may have forgotten it, or reset everything
  if (it == entries_.end()) return;
  if (ack) {
    it->second.acked = true;
    if (!h.error.empty()) finished = true;  // refused (bad filter, query too large): nothing follows
  }
  if (finished) {
    entries_.erase(it);
    remember_done(seq);
  }
}

void Session::forget(uint64_t seq) {
  if (entries_.erase(seq)) remember_done(seq);
}

void Session::remember_done(uint64_t seq) {
  done_.push_back(seq);
  if (done_.size() > kRememberDone) done_.pop_front();
}

Expected<void> Session::feed(const char* data, size_t size) {
  struct Guard {
    Session& s;
    explicit Guard(Session& x) : s(x) { s.in_feed_ = true; }
    ~Guard() {
      s.in_feed_ = false;
      if (s.reset_pending_) {
        s.reset_pending_ = false;
        s.reset();
      }
    }
  } guard(*this);
  try {
    while (size > 0) {
      // Copy in slices, so one read cannot make the buffer grow beyond what objects need.
      const size_t chunk = std::min<size_t>(size, 64 * 1024);
      unpacker_->reserve_buffer(chunk);
      std::copy(data, data + chunk, unpacker_->buffer());
      unpacker_->buffer_consumed(chunk);
      data += chunk;
      size -= chunk;
      msgpack::object_handle oh;
      while (unpacker_->next(oh)) {
        if (auto ok = on_object(oh.get()); !ok) return ok;
        if (reset_pending_) return {};  // the connection was dropped by a callback
      }
      if (unpacker_->nonparsed_size() > max_object_bytes_ + 64)
        return protocol_error("an object from the agent is larger than " + std::to_string(max_object_bytes_) + " bytes");
    }
  } catch (const msgpack::unpack_error& e) {
    return protocol_error(std::string("undecodable msgpack from the agent (") + e.what() + ")");
  } catch (const std::bad_alloc&) {
    return protocol_error("an object from the agent needs more memory than allowed");
  }
  return {};
}

void Session::finish_pending_without_body() {
  // A header that could have had a body but the next object was another header: deliver it bare.
  if (after_ != After::body_for_entry) return;
  after_ = After::nothing;
  const proto::Header h = pending_;
  dispatch(h.seq, h, nullptr, false);
}

Expected<void> Session::on_object(const msgpack::object& o) {
  if (!proto::is_header(o)) {
    // A body: it belongs to the header just before it.
    const After after = after_;
    after_ = After::nothing;
    if (after == After::body_for_entry) {
      ++counters_.frames;
      const proto::Header h = pending_;
      dispatch(h.seq, h, &o, false);
      return {};
    }
    if (!seen_header_) return protocol_error("the agent sent an object that is not a response header");
    // The body of a header nobody waits for (counted with its header), or a body where none
    // belongs: dropped either way.
    if (after == After::nothing) ++counters_.late;
    return {};
  }
  finish_pending_without_body();
  auto h = proto::decode_header(o);
  if (!h) return h.error();
  seen_header_ = true;
  ++counters_.frames;
  auto it = entries_.find(h->seq);
  if (it == entries_.end()) {
    const bool recent = std::find(done_.begin(), done_.end(), h->seq) != done_.end();
    if (recent && h->error == "Authentication required") ++counters_.duplicates;
    else ++counters_.late;
    after_ = After::stray;
    return {};
  }
  Entry& e = it->second;
  bool body_follows = false;
  switch (e.kind) {
    case Kind::call: break;
    case Kind::call_with_body: body_follows = !proto::error_without_body(h->error); break;
    case Kind::subscription:
    case Kind::query:
      body_follows = e.acked;  // the ack is header-only; every record after it has a body
      break;
  }
  if (body_follows) {
    pending_ = std::move(*h);
    after_ = After::body_for_entry;
    return {};
  }
  const bool ack = (e.kind == Kind::subscription || e.kind == Kind::query);
  after_ = After::stray;  // nothing more is expected for this frame; a body here is stray
  dispatch(h->seq, *h, nullptr, ack);
  return {};
}
}  // namespace rig::serf
