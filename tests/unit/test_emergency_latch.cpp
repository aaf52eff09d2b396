// Who holds the emergency stop: commands, the application and hardware e-stop lines; a resume is
// refused while a line is asserted; a line with the manual release policy holds until resumed.
#include "support/cmocka.hpp"

#include "core/emergency_latch.hpp"

using rig::EmergencyLatch;
using Change = EmergencyLatch::Change;
using Names = std::vector<std::string>;

static const char* name(Change c) {
  switch (c) {
    case Change::stopped: return "stopped";
    case Change::resumed: return "resumed";
    default: return "none";
  }
}

static void expect(Change got, Change want) {
  if (got != want) fail_msg("expected %s, got %s", name(want), name(got));
}

static std::string join(const Names& v) {
  std::string s;
  for (const auto& n : v) s += (s.empty() ? "" : ",") + n;
  return s;
}

static void expect_names(const Names& got, const Names& want) {
  if (got != want) fail_msg("expected [%s], got [%s]", join(want).c_str(), join(got).c_str());
}

static void command_hold_and_resume(void**) {
  EmergencyLatch l;
  assert_false(l.latched());
  expect_names(l.holders(), {});
  expect(l.hold("command"), Change::stopped);
  assert_true(l.latched());
  expect(l.hold("command"), Change::none);
  expect(l.hold("application"), Change::none);
  expect_names(l.holders(), {"application", "command"});
  expect(l.resume(), Change::resumed);
  assert_false(l.latched());
  expect_names(l.holders(), {});
  // Nothing to resume.
  expect(l.resume(), Change::none);
  assert_false(l.latched());
}

static void line_while_held_by_command(void**) {
  EmergencyLatch l;
  expect(l.hold("command"), Change::stopped);
  expect(l.line_asserted("estop"), Change::none);
  expect_names(l.holders(), {"command", "line:estop"});
  expect_names(l.asserted_lines(), {"estop"});
  // Released: the command still holds.
  expect(l.line_released("estop", false), Change::none);
  assert_true(l.latched());
  expect_names(l.holders(), {"command"});
  expect_names(l.asserted_lines(), {});
  expect(l.resume(), Change::resumed);
  assert_false(l.latched());
}

static void line_alone_resumes_on_release(void**) {
  EmergencyLatch l;
  expect(l.line_asserted("estop"), Change::stopped);
  expect(l.line_asserted("estop"), Change::none);
  expect(l.line_released("estop", false), Change::resumed);
  assert_false(l.latched());
  // A release of a line that was not asserted changes nothing, even with the manual policy.
  expect(l.line_released("ghost", true), Change::none);
  assert_false(l.latched());
  expect_names(l.holders(), {});
}

static void resume_refused_while_asserted(void**) {
  EmergencyLatch l;
  expect(l.hold("application"), Change::stopped);
  expect(l.line_asserted("estop"), Change::none);
  Names blocking;
  expect(l.resume(&blocking), Change::none);
  expect_names(blocking, {"estop"});
  // Nothing changed: the application still holds too.
  assert_true(l.latched());
  expect_names(l.holders(), {"application", "line:estop"});
  expect_names(l.asserted_lines(), {"estop"});
  // Without a vector to fill, still refused.
  expect(l.resume(), Change::none);
  expect_names(l.holders(), {"application", "line:estop"});
  // Released: the application's hold survived the refused resume.
  expect(l.line_released("estop", false), Change::none);
  expect_names(l.holders(), {"application"});
  blocking = {"stale"};
  expect(l.resume(&blocking), Change::resumed);
  expect_names(blocking, {"stale"});  // only filled when refused
}

static void manual_release_holds_until_resume(void**) {
  EmergencyLatch l;
  expect(l.line_asserted("estop"), Change::stopped);
  expect(l.line_released("estop", true), Change::none);
  assert_true(l.latched());
  expect_names(l.holders(), {"line:estop"});
  expect_names(l.asserted_lines(), {});
  // Pressed again while manually held: one holder, not two.
  expect(l.line_asserted("estop"), Change::none);
  expect_names(l.holders(), {"line:estop"});
  Names blocking;
  expect(l.resume(&blocking), Change::none);
  expect_names(blocking, {"estop"});
  expect(l.line_released("estop", true), Change::none);
  expect_names(l.holders(), {"line:estop"});
  expect(l.resume(), Change::resumed);
  assert_false(l.latched());
  expect_names(l.holders(), {});
}

static void two_lines(void**) {
  EmergencyLatch l;
  expect(l.line_asserted("estop_a"), Change::stopped);
  expect(l.line_asserted("estop_b"), Change::none);
  expect_names(l.holders(), {"line:estop_a", "line:estop_b"});
  Names blocking;
  expect(l.resume(&blocking), Change::none);
  expect_names(blocking, {"estop_a", "estop_b"});
  expect(l.line_released("estop_a", false), Change::none);
  blocking.clear();
  expect(l.resume(&blocking), Change::none);
  expect_names(blocking, {"estop_b"});
  // b with the manual policy: released, it keeps holding.
  expect(l.line_released("estop_b", true), Change::none);
  expect_names(l.holders(), {"line:estop_b"});
  expect(l.resume(), Change::resumed);
}

static void holders_without_duplicates(void**) {
  EmergencyLatch l;
  expect(l.hold("command"), Change::stopped);
  expect(l.hold("command"), Change::none);
  expect(l.line_asserted("estop"), Change::none);
  expect(l.line_released("estop", true), Change::none);
  expect(l.line_asserted("estop"), Change::none);
  expect(l.line_asserted("estop"), Change::none);
  expect_names(l.holders(), {"command", "line:estop"});
  expect_names(l.asserted_lines(), {"estop"});
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(command_hold_and_resume),        cmocka_unit_test(line_while_held_by_command),
      cmocka_unit_test(line_alone_resumes_on_release),  cmocka_unit_test(resume_refused_while_asserted),
      cmocka_unit_test(manual_release_holds_until_resume), cmocka_unit_test(two_lines),
      cmocka_unit_test(holders_without_duplicates),
  };
  return cmocka_run_group_tests_name("emergency_latch", tests, nullptr, nullptr);
}
