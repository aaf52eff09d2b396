// One input line's event logic, apart from its fd and the io_context so that it is unit-tested
// without hardware: raw edges through the debouncer (catching up on a deadline that passed before
// an edge was read), lost events found by reading the line and reconciled, and a line that fails.
// linux_gpio.cpp does the I/O: it reads the events and the level, and delivers what comes out.
//
// Lost events: v2 numbers each line's events, so a gap in line_seqno shows that its queue
// overflowed. v1 has no numbers, and its queue (16 events) drops the newest when full, so the
// last edge, the one that says where the line is now, may be the one lost: on v1 the level is
// read after every batch. Either way, a level that differs from the last edge seen is fed to the
// debouncer as an edge (a resync). At a debounce deadline the level is read too, so what a window
// ends on is the line's real level, not the last edge that happened to be read.
//
// Header-only: it is small, and it keeps the HAL's source list as it was.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "hal/board.hpp"
#include "hal/debouncer.hpp"
#include "platform/linux/gpio_chip.hpp"
#include "platform/linux/gpio_errors.hpp"

namespace rig::hal::cdev {

// How an input is debounced. Kernel debounce trails (waits for the line to settle); "software"
// leads (reports at once). v1 has no kernel debounce: where the kernel's was asked for ("kernel"
// or "auto"), software emulates it, trailing too, and the description says so.
struct DebouncePlan {
  uint32_t kernel_us = 0;  // asked of the kernel (v2)
  Debouncer::Mode mode = Debouncer::Mode::trailing;
  uint64_t window_ns = 0;  // done in software; 0: none
  std::string text;        // for describe_input: "10 ms kernel debounce"
};

inline DebouncePlan plan_debounce(const InputSpec& spec, Uapi uapi) {
  DebouncePlan p;
  const std::string ms = std::to_string(spec.debounce_ms) + " ms ";
  p.mode = spec.debounce == DebounceMode::software ? Debouncer::Mode::leading : Debouncer::Mode::trailing;
  if (spec.debounce_ms == 0) {
    p.text = "no debounce";
  } else if (uapi == Uapi::v2 && spec.debounce != DebounceMode::software) {
    p.kernel_us = spec.debounce_ms * 1000;
    p.text = ms + "kernel debounce";
  } else {
    p.window_ns = uint64_t(spec.debounce_ms) * 1000000ull;
    p.text = p.mode == Debouncer::Mode::leading ? ms + "software (leading-edge) debounce"
                                                : ms + "software trailing debounce (v1 uAPI has no kernel debounce)";
  }
  return p;
}

struct LineReport {
  Transition transition;
  bool resync = false;  // found by reading the line, not seen as an edge
};

// What one call found: the transitions to report, in order, and a fault if the line has just
// failed. A fault comes once: the line is then no longer watched, and later calls do nothing.
struct LineUpdate {
  std::vector<LineReport> reports;
  std::optional<std::string> fault;
  void clear() {
    reports.clear();
    fault.reset();
  }
};

class LineEvents {
 public:
  LineEvents(Uapi uapi, LinePlace at, Debouncer::Mode mode, uint64_t window_ns, bool initial_active)
      : uapi_(uapi), at_(std::move(at)), debouncer_(mode, window_ns, initial_active) {}

  // A batch of events drained from the line's fd; `read_err` is what read_events() returned (0:
  // drained). `read_level(bool& active)` reads the line's logical level now: 0 or an errno.
  // `now_ns`: when the batch was read (CLOCK_MONOTONIC).
  template <typename ReadLevel>
  void on_events(const std::vector<RawEvent>& batch, int read_err, ReadLevel&& read_level, uint64_t now_ns,
                 LineUpdate& out) {
    if (failed()) return;
    const bool lost = feed_batch(batch, out);
    if (read_err) return lose_line("reading", read_err, out);  // the edges read before it still count
    if (lost || uapi_ == Uapi::v1) reconcile(read_level, now_ns, out);
  }

  // The debouncer's deadline came. The fd is drained first (`batch`, `read_err` as above), so
  // edges already queued count at their own times; then the level is read, and a difference fed
  // as an edge now; then the window ends.
  template <typename ReadLevel>
  void on_deadline(const std::vector<RawEvent>& batch, int read_err, ReadLevel&& read_level, uint64_t now_ns,
                   LineUpdate& out) {
    if (failed()) return;
    feed_batch(batch, out);
    if (read_err) return lose_line("reading", read_err, out);
    reconcile(read_level, now_ns, out);
    if (failed()) return;
    if (auto t = debouncer_.on_timer(std::max(now_ns, last_ns_))) out.reports.push_back({*t, false});
  }

  // Waiting for the fd to become readable failed (not a cancellation).
  void on_wait_error(const std::error_code& ec, LineUpdate& out) {
    if (failed()) return;
    fault_ = line_lost_message(at_, "watching", ec);
    out.fault = fault_;
  }

  const Debouncer& debouncer() const { return debouncer_; }
  Uapi uapi() const { return uapi_; }
  const LinePlace& at() const { return at_; }
  bool failed() const { return !fault_.empty(); }
  const std::string& fault() const { return fault_; }  // why the line is no longer watched

 private:
  // Returns whether v2's sequence numbers show events lost before or inside the batch.
  bool feed_batch(const std::vector<RawEvent>& batch, LineUpdate& out) {
    bool lost = false;
    for (const RawEvent& e : batch) {
      if (uapi_ == Uapi::v2) lost |= e.line_seqno != last_seqno_ + 1;
      last_seqno_ = e.line_seqno;
      feed(e.active, e.timestamp_ns, false, out);
    }
    return lost;
  }

  // Every edge goes through here: a deadline that passed before the edge is reported first.
  void feed(bool active, uint64_t ts, bool resync, LineUpdate& out) {
    // The debouncer needs time to run forward; a kernel stamp can be older than the read time
    // of a resync that came before it.
    ts = std::max(ts, last_ns_);
    last_ns_ = ts;
    if (auto t = debouncer_.catch_up(ts)) out.reports.push_back({*t, false});
    if (auto t = debouncer_.on_edge(active, ts)) out.reports.push_back({*t, resync});
  }

  template <typename ReadLevel>
  void reconcile(ReadLevel&& read_level, uint64_t now_ns, LineUpdate& out) {
    bool active = false;
    if (int err = read_level(active)) return lose_line("reading the level of", err, out);
    // Only a difference is an edge: the same level again would restart a trailing window.
    if (active != debouncer_.raw()) feed(active, now_ns, true, out);
  }

  void lose_line(const char* doing, int err, LineUpdate& out) {
    fault_ = line_lost_message(at_, doing, err);
    out.fault = fault_;
  }

  Uapi uapi_;
  LinePlace at_;
  Debouncer debouncer_;
  uint32_t last_seqno_ = 0;
  uint64_t last_ns_ = 0;
  std::string fault_;
};

}  // namespace rig::hal::cdev
