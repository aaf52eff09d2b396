// The debouncer on synthetic timestamps: leading mode (report the first edge at once, lock out for
// the window, then report the settled level if it differs) and trailing mode (report a level once
// it has held for the window, as the kernel's debounce does).
#include "support/cmocka.hpp"

#include <optional>

#include "hal/debouncer.hpp"

using rig::hal::Debouncer;
using rig::hal::Transition;

static constexpr uint64_t kMs = 1'000'000;
static constexpr uint64_t kWindow = 10 * kMs;
static constexpr uint64_t kT0 = 1'000 * kMs;  // an arbitrary, non-zero start time

static void expect_transition(const std::optional<Transition>& t, bool active, uint64_t ts) {
  if (!t) fail_msg("expected a transition to %d at %llu, got none", active, (unsigned long long)ts);
  if (t->active != active || t->timestamp_ns != ts)
    fail_msg("expected a transition to %d at %llu, got %d at %llu", active, (unsigned long long)ts, t->active,
             (unsigned long long)t->timestamp_ns);
}

static void expect_none(const std::optional<Transition>& t) {
  if (t) fail_msg("expected no transition, got %d at %llu", t->active, (unsigned long long)t->timestamp_ns);
}

static void expect_deadline(const Debouncer& d, uint64_t ts) {
  if (!d.deadline()) fail_msg("expected a deadline at %llu, got none", (unsigned long long)ts);
  if (*d.deadline() != ts)
    fail_msg("expected a deadline at %llu, got %llu", (unsigned long long)ts, (unsigned long long)*d.deadline());
}

// ---- leading mode ----

static void leading_reports_first_edge_at_once(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  assert_false(d.reported());
  assert_false(d.deadline().has_value());
  expect_transition(d.on_edge(true, kT0), true, kT0);
  assert_true(d.reported());
  assert_true(d.raw());
  expect_deadline(d, kT0 + kWindow);
  assert_int_equal(d.suppressed(), 0);
}

static void leading_chatter_gives_one_transition(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  int transitions = 0;
  if (d.on_edge(true, kT0)) ++transitions;
  // 50 toggles inside the window, ending on the pressed level (an even count).
  bool level = true;
  for (int i = 1; i <= 50; ++i) {
    level = !level;
    if (d.on_edge(level, kT0 + uint64_t(i) * 100'000)) ++transitions;
  }
  assert_true(level);
  assert_int_equal(d.suppressed(), 50);
  assert_true(d.reported());
  // The window ends on the level already reported: nothing more, and the lockout is over.
  if (d.on_timer(kT0 + kWindow)) ++transitions;
  assert_int_equal(transitions, 1);
  assert_false(d.deadline().has_value());
  assert_true(d.reported());
}

static void leading_reports_settled_level_at_window_end(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  expect_transition(d.on_edge(true, kT0), true, kT0);
  // 49 toggles: the line ends released; the last raw edge is at kT0 + 49 * 0.1 ms.
  bool level = true;
  uint64_t last = 0;
  for (int i = 1; i <= 49; ++i) {
    level = !level;
    last = kT0 + uint64_t(i) * 100'000;
    expect_none(d.on_edge(level, last));
  }
  assert_false(level);
  assert_false(d.raw());
  assert_true(d.reported());
  assert_int_equal(d.suppressed(), 49);
  // Not before the deadline.
  expect_none(d.on_timer(kT0 + kWindow - 1));
  expect_deadline(d, kT0 + kWindow);
  // At the deadline: the settled level, stamped with the last raw edge, and a new lockout.
  expect_transition(d.on_timer(kT0 + kWindow), false, last);
  assert_false(d.reported());
  expect_deadline(d, kT0 + 2 * kWindow);
  // The new lockout ends on the same level: nothing.
  expect_none(d.on_timer(kT0 + 2 * kWindow));
  assert_false(d.deadline().has_value());
  assert_int_equal(d.suppressed(), 49);
}

static void leading_short_press_is_not_lost(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  // Pressed for 2 ms, far shorter than the 10 ms window.
  expect_transition(d.on_edge(true, kT0), true, kT0);
  expect_none(d.on_edge(false, kT0 + 2 * kMs));
  assert_int_equal(d.suppressed(), 1);
  assert_true(d.reported());
  // The release is reported when the window ends, with the time it really happened.
  expect_transition(d.on_timer(kT0 + kWindow), false, kT0 + 2 * kMs);
  assert_false(d.reported());
  // A second press after both windows is reported at once again.
  expect_none(d.on_timer(kT0 + 2 * kWindow));
  expect_transition(d.on_edge(true, kT0 + 25 * kMs), true, kT0 + 25 * kMs);
  assert_int_equal(d.suppressed(), 1);
}

static void leading_edge_after_window_is_reported(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, true);
  expect_transition(d.on_edge(false, kT0), false, kT0);
  expect_none(d.on_timer(kT0 + kWindow));
  // Outside any window: an edge to the reported level is no change and not bounce.
  expect_none(d.on_edge(false, kT0 + 11 * kMs));
  assert_int_equal(d.suppressed(), 0);
  expect_transition(d.on_edge(true, kT0 + 12 * kMs), true, kT0 + 12 * kMs);
  expect_deadline(d, kT0 + 12 * kMs + kWindow);
}

static void window_zero_reports_every_change(void**) {
  for (auto mode : {Debouncer::Mode::leading, Debouncer::Mode::trailing}) {
    Debouncer d(mode, 0, false);
    expect_transition(d.on_edge(true, kT0), true, kT0);
    expect_transition(d.on_edge(false, kT0 + 1), false, kT0 + 1);
    expect_transition(d.on_edge(true, kT0 + 2), true, kT0 + 2);
    // The same level twice (a lost edge): no change to report.
    expect_none(d.on_edge(true, kT0 + 3));
    assert_true(d.reported());
    assert_false(d.deadline().has_value());
    expect_none(d.on_timer(kT0 + 4));
    assert_int_equal(d.suppressed(), 0);
  }
}

static void leading_suppressed_counts_bounces(void**) {
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  assert_int_equal(d.suppressed(), 0);
  expect_transition(d.on_edge(true, kT0), true, kT0);
  expect_none(d.on_edge(false, kT0 + 1 * kMs));
  expect_none(d.on_edge(true, kT0 + 2 * kMs));
  expect_none(d.on_edge(false, kT0 + 3 * kMs));
  assert_int_equal(d.suppressed(), 3);
  expect_transition(d.on_timer(kT0 + kWindow), false, kT0 + 3 * kMs);
  // Bounce inside the second lockout counts too.
  expect_none(d.on_edge(true, kT0 + 11 * kMs));
  expect_none(d.on_edge(false, kT0 + 12 * kMs));
  assert_int_equal(d.suppressed(), 5);
  expect_none(d.on_timer(kT0 + 2 * kWindow));
  assert_false(d.reported());
}

static void leading_lost_edge_keeps_level(void**) {
  // Pressed, then (the release between lost) pressed again inside the window: still pressed,
  // and nothing more to report when the window ends.
  Debouncer d(Debouncer::Mode::leading, kWindow, false);
  expect_transition(d.on_edge(true, kT0), true, kT0);
  expect_none(d.on_edge(true, kT0 + 3 * kMs));
  assert_true(d.raw());
  expect_none(d.on_timer(kT0 + kWindow));
  assert_true(d.reported());
  // Released; inside the lockout a press, then two releases (a press between them lost): the
  // line settles released, which was already reported.
  expect_transition(d.on_edge(false, kT0 + 20 * kMs), false, kT0 + 20 * kMs);
  expect_none(d.on_edge(true, kT0 + 21 * kMs));
  expect_none(d.on_edge(false, kT0 + 22 * kMs));
  expect_none(d.on_edge(false, kT0 + 23 * kMs));
  assert_false(d.raw());
  expect_none(d.on_timer(kT0 + 30 * kMs));
  assert_false(d.reported());
  // Pressed; inside the lockout two releases in a row (the press between them lost): the
  // settled release is stamped with the first of them.
  expect_transition(d.on_edge(true, kT0 + 40 * kMs), true, kT0 + 40 * kMs);
  expect_none(d.on_edge(false, kT0 + 41 * kMs));
  expect_none(d.on_edge(false, kT0 + 43 * kMs));
  expect_transition(d.on_timer(kT0 + 50 * kMs), false, kT0 + 41 * kMs);
  assert_int_equal(d.suppressed(), 6);
  // Outside any window, the same level again is nothing.
  expect_none(d.on_timer(kT0 + 60 * kMs));
  expect_none(d.on_edge(false, kT0 + 70 * kMs));
  assert_false(d.deadline().has_value());
  assert_false(d.reported());
}

// ---- trailing mode ----

static void trailing_waits_for_the_window(void**) {
  Debouncer d(Debouncer::Mode::trailing, kWindow, false);
  expect_none(d.on_edge(true, kT0));
  assert_false(d.reported());
  assert_true(d.raw());
  expect_deadline(d, kT0 + kWindow);
  expect_none(d.on_timer(kT0 + kWindow - 1));
  assert_false(d.reported());
  expect_transition(d.on_timer(kT0 + kWindow), true, kT0 + kWindow);
  assert_true(d.reported());
  assert_false(d.deadline().has_value());
  assert_int_equal(d.suppressed(), 0);
}

static void trailing_chatter_restarts_the_window(void**) {
  Debouncer d(Debouncer::Mode::trailing, kWindow, false);
  expect_none(d.on_edge(true, kT0));
  expect_none(d.on_edge(false, kT0 + 3 * kMs));
  expect_none(d.on_edge(true, kT0 + 6 * kMs));
  expect_deadline(d, kT0 + 16 * kMs);
  assert_int_equal(d.suppressed(), 2);
  // The first window's end has passed, but the line has not held for a whole window yet.
  expect_none(d.on_timer(kT0 + kWindow));
  expect_deadline(d, kT0 + 16 * kMs);
  expect_transition(d.on_timer(kT0 + 16 * kMs), true, kT0 + 16 * kMs);
  assert_true(d.reported());
}

static void trailing_filters_a_short_glitch(void**) {
  Debouncer d(Debouncer::Mode::trailing, kWindow, false);
  expect_none(d.on_edge(true, kT0));
  expect_none(d.on_edge(false, kT0 + 2 * kMs));
  assert_int_equal(d.suppressed(), 1);
  expect_deadline(d, kT0 + 12 * kMs);
  expect_none(d.on_timer(kT0 + 12 * kMs));
  assert_false(d.reported());
  assert_false(d.raw());
  assert_false(d.deadline().has_value());
}

static void trailing_deadline_semantics(void**) {
  Debouncer d(Debouncer::Mode::trailing, kWindow, true);
  // No edge yet: no deadline, and a timer call does nothing.
  assert_false(d.deadline().has_value());
  expect_none(d.on_timer(kT0));
  // Each edge moves the deadline to a window after it.
  expect_none(d.on_edge(false, kT0));
  expect_deadline(d, kT0 + kWindow);
  expect_none(d.on_edge(true, kT0 + 4 * kMs));
  expect_deadline(d, kT0 + 14 * kMs);
  expect_none(d.on_edge(false, kT0 + 5 * kMs));
  expect_deadline(d, kT0 + 15 * kMs);
  // An early timer leaves it; a late one fires, stamped with the time it ran, and clears it.
  expect_none(d.on_timer(kT0 + 14 * kMs));
  expect_deadline(d, kT0 + 15 * kMs);
  expect_transition(d.on_timer(kT0 + 17 * kMs), false, kT0 + 17 * kMs);
  assert_false(d.deadline().has_value());
  expect_none(d.on_timer(kT0 + 30 * kMs));
  assert_false(d.reported());
  assert_int_equal(d.suppressed(), 2);
}

static void trailing_lost_edge_keeps_level(void**) {
  // Two presses in a row (the release between was lost): the line is pressed.
  Debouncer d(Debouncer::Mode::trailing, kWindow, false);
  expect_none(d.on_edge(true, kT0));
  expect_none(d.on_edge(true, kT0 + 4 * kMs));
  assert_true(d.raw());
  expect_deadline(d, kT0 + 14 * kMs);
  expect_transition(d.on_timer(kT0 + 14 * kMs), true, kT0 + 14 * kMs);
  // Pressed again while already pressed: a window runs, but the level does not change.
  expect_none(d.on_edge(true, kT0 + 20 * kMs));
  expect_none(d.on_timer(kT0 + 30 * kMs));
  assert_true(d.reported());
  assert_true(d.raw());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(leading_reports_first_edge_at_once),
      cmocka_unit_test(leading_chatter_gives_one_transition),
      cmocka_unit_test(leading_reports_settled_level_at_window_end),
      cmocka_unit_test(leading_short_press_is_not_lost),
      cmocka_unit_test(leading_edge_after_window_is_reported),
      cmocka_unit_test(window_zero_reports_every_change),
      cmocka_unit_test(leading_suppressed_counts_bounces),
      cmocka_unit_test(leading_lost_edge_keeps_level),
      cmocka_unit_test(trailing_waits_for_the_window),
      cmocka_unit_test(trailing_chatter_restarts_the_window),
      cmocka_unit_test(trailing_filters_a_short_glitch),
      cmocka_unit_test(trailing_deadline_semantics),
      cmocka_unit_test(trailing_lost_edge_keeps_level),
  };
  return cmocka_run_group_tests_name("debouncer", tests, nullptr, nullptr);
}
