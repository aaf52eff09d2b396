#include "hal/debouncer.hpp"

namespace rig::hal {

Debouncer::Debouncer(Mode mode, uint64_t window_ns, bool initial_active)
    : mode_(mode), window_ns_(window_ns), reported_(initial_active), raw_(initial_active) {}

std::optional<Transition> Debouncer::catch_up(uint64_t now_ns) {
  if (!deadline_ || now_ns < *deadline_) return std::nullopt;
  return on_timer(*deadline_);
}

std::optional<Transition> Debouncer::on_edge(bool active, uint64_t now_ns) {
  // Two edges of the same direction in a row mean a short pulse went by unseen (a v1 kernel,
  // or an overflowed queue): the level is what counts.
  if (active != raw_) raw_ts_ = now_ns;
  raw_ = active;
  if (window_ns_ == 0) {
    if (active == reported_) return std::nullopt;
    reported_ = active;
    return Transition{active, now_ns};
  }
  if (mode_ == Mode::trailing) {
    if (deadline_) ++suppressed_;
    deadline_ = now_ns + window_ns_;
    return std::nullopt;
  }
  if (deadline_ && now_ns < *deadline_) {  // inside the lockout window: bounce
    ++suppressed_;
    return std::nullopt;
  }
  deadline_.reset();  // a window that ended unobserved (the caller skipped catch_up)
  if (active == reported_) return std::nullopt;
  reported_ = active;
  deadline_ = now_ns + window_ns_;
  return Transition{active, now_ns};
}

std::optional<Transition> Debouncer::on_timer(uint64_t now_ns) {
  if (!deadline_ || now_ns < *deadline_) return std::nullopt;
  deadline_.reset();
  if (raw_ == reported_) return std::nullopt;
  reported_ = raw_;
  if (mode_ == Mode::leading) {
    // The line settled on the other level during the lockout: report it, and lock out again
    // so bounce on this edge is ignored too.
    deadline_ = now_ns + window_ns_;
    return Transition{raw_, raw_ts_};
  }
  return Transition{raw_, now_ns};
}

}  // namespace rig::hal
