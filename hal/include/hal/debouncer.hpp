// Debouncing as pure logic over timestamps, so it is tested without a clock. A backend feeds it
// raw edges and calls on_timer() at deadline(); it says which transitions to report.
#pragma once

#include <cstdint>
#include <optional>

namespace rig::hal {

struct Transition {
  bool active;
  uint64_t timestamp_ns;  // when the line reached that value
};

class Debouncer {
 public:
  enum class Mode {
    leading,   // report the first edge at once, then ignore the line for the window; at the
               // window's end report the line's level if it differs (a short press is never lost)
    trailing,  // report a level once it has held for the window (what the kernel's debounce does)
  };
  Debouncer(Mode mode, uint64_t window_ns, bool initial_active);

  // Call first for every raw edge: if the deadline passed before this edge was seen (edges read
  // in a batch, a busy thread), reports what on_timer() would have reported at the deadline.
  std::optional<Transition> catch_up(uint64_t now_ns);
  // A raw edge: the line now reads `active` (time `now_ns`). May report a transition at once.
  std::optional<Transition> on_edge(bool active, uint64_t now_ns);
  // When on_timer() must be called next, if at all.
  std::optional<uint64_t> deadline() const { return deadline_; }
  std::optional<Transition> on_timer(uint64_t now_ns);

  bool reported() const { return reported_; }  // the debounced value
  bool raw() const { return raw_; }
  uint64_t suppressed() const { return suppressed_; }  // raw edges that were bounce

 private:
  Mode mode_;
  uint64_t window_ns_;
  bool reported_;
  bool raw_;
  uint64_t raw_ts_ = 0;
  std::optional<uint64_t> deadline_;
  uint64_t suppressed_ = 0;
};

}  // namespace rig::hal
