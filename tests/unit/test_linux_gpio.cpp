// The Linux GPIO backend without GPIO hardware: its error paths for real (a missing chip,
// /dev/null, a regular file, an unknown label), the errno -> message functions for what
// only a board can produce (EACCES, EBUSY, EINVAL on bias, an offset out of range), and what a
// line's events mean (line_events.hpp: lost events, a failed line, debounce deadlines).
#include "support/cmocka.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <linux/gpio.h>
#include <unistd.h>

#include "hal/board.hpp"
#include "platform/linux/gpio_chip.hpp"
#include "platform/linux/gpio_errors.hpp"
#include "platform/linux/line_events.hpp"
#include "platform/linux/linux_gpio.hpp"
#include "core/clock.hpp"

using namespace rig;
using namespace rig::hal;
using namespace rig::hal::cdev;

static void contains(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) == std::string::npos) fail_msg("'%s' not in:\n%s", needle.c_str(), hay.c_str());
}

static void lacks(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) != std::string::npos) fail_msg("'%s' unexpectedly in:\n%s", needle.c_str(), hay.c_str());
}

// A board with an input 'estop' and an output 'relay' on `chip`.
static Board board_on(const std::string& chip) {
  const std::string text = R"({"name": "testboard", "gpio": "linux", "chip": ")" + chip + R"(",
    "inputs": [{"name": "estop", "role": "estop", "line": 17, "debounce_ms": 10}],
    "outputs": [{"name": "relay", "role": "estop-relay", "line": 3}]})";
  auto b = parse_board(text, "/etc/rigagent/test-board.json");
  if (!b) fail_msg("board does not parse: %s", b.error().message.c_str());
  return *b;
}

// Opening must fail: returns the message.
static std::string open_error(const Board& b) {
  asio::io_context io;
  auto g = open_linux_gpio(io, b);
  if (g) fail_msg("opening board %s succeeded", b.name.c_str());
  return g.error().message;
}

static bool machine_has_chips() { return !list_chips().empty(); }

static void missing_chip_path_is_named(void**) {
  const std::string e = open_error(board_on("/dev/gpiochip97"));
  contains(e, "board testboard, input 'estop': ");
  contains(e, "/dev/gpiochip97: no such GPIO chip");
  if (!machine_has_chips()) contains(e, "this machine has no GPIO chips at all");
  if (!machine_has_chips()) contains(e, "--board sim");
}

static void short_chip_name_means_dev_path(void**) {
  const std::string e = open_error(board_on("gpiochip97"));
  contains(e, "/dev/gpiochip97: no such GPIO chip");
  contains(e, "'estop'");
}

static void dev_null_is_not_a_gpio_chip(void**) {
  const std::string e = open_error(board_on("/dev/null"));
  contains(e, "board testboard, input 'estop': /dev/null is not a GPIO character device");
  contains(e, "check \"chip\" in board file /etc/rigagent/test-board.json");
}

static void regular_file_is_not_a_gpio_chip(void**) {
  char path[] = "/tmp/rigagent-not-a-chip-XXXXXX";
  const int fd = mkstemp(path);
  assert_true(fd >= 0);
  close(fd);
  const std::string e = open_error(board_on(path));
  unlink(path);
  contains(e, std::string(path) + " is not a GPIO character device");
  contains(e, "'estop'");
}

static void outputs_are_named_too(void**) {
  // Inputs are opened first; without them (no hardware to open them on) the output is reached.
  Board b = board_on("/dev/null");
  b.inputs.clear();
  const std::string e = open_error(b);
  contains(e, "board testboard, output 'relay': /dev/null is not a GPIO character device");
}

static void unknown_label_lists_what_there_is(void**) {
  const std::string e = open_error(board_on("no-such-chip-label"));
  contains(e, "board testboard, input 'estop': no GPIO chip labelled 'no-such-chip-label'");
  if (machine_has_chips()) contains(e, "this machine has: /dev/gpiochip");
  else contains(e, "this machine has no GPIO chips at all");
}

static void bad_uapi_override_is_an_error(void**) {
  setenv("RIGAGENT_GPIO_UAPI", "v3", 1);
  const std::string e = open_error(board_on("/dev/null"));
  unsetenv("RIGAGENT_GPIO_UAPI");
  contains(e, "RIGAGENT_GPIO_UAPI='v3'");
  auto v1 = uapi_from_env("v1");
  assert_true(v1.has_value() && *v1 == Uapi::v1);
  auto v2 = uapi_from_env("v2");
  assert_true(v2.has_value() && *v2 == Uapi::v2);
  auto none = uapi_from_env(nullptr);
  assert_true(none.has_value() && !none->has_value());
}

static void chip_names_resolve(void**) {
  assert_str(chip_path_of("gpiochip3").value_or("label"), "/dev/gpiochip3");
  assert_str(chip_path_of("/dev/gpiochip0").value_or("label"), "/dev/gpiochip0");
  assert_str(chip_path_of("/tmp/x").value_or("label"), "/tmp/x");
  assert_false(chip_path_of("pinctrl-bcm2711").has_value());
  assert_false(chip_path_of("gpiochip").has_value());
  assert_false(chip_path_of("gpiochipA").has_value());
}

// Edge records through a non-blocking pipe, as a line fd would give them: more than one read's
// batch, so draining must loop; v2 keeps the kernel's fields, v1 is stamped with our clock.
static void events_are_read_until_drained(void**) {
  int p[2];
  assert_int_equal(pipe2(p, O_NONBLOCK), 0);
  for (uint32_t i = 1; i <= 40; ++i) {
    gpio_v2_line_event ev{};
    ev.timestamp_ns = 1000 * i;
    ev.id = i % 2 ? GPIO_V2_LINE_EVENT_RISING_EDGE : GPIO_V2_LINE_EVENT_FALLING_EDGE;
    ev.line_seqno = i;
    assert_int_equal(write(p[1], &ev, sizeof ev), sizeof ev);
  }
  std::vector<RawEvent> got;
  assert_int_equal(read_events(Uapi::v2, p[0], got), 0);
  assert_int_equal(got.size(), 40);
  for (uint32_t i = 1; i <= 40; ++i) {
    assert_int_equal(got[i - 1].line_seqno, i);
    assert_int_equal(got[i - 1].timestamp_ns, 1000 * i);
    assert_int_equal(got[i - 1].active, i % 2 == 1);
  }
  got.clear();
  assert_int_equal(read_events(Uapi::v2, p[0], got), 0);  // empty queue: EAGAIN is not an error
  assert_int_equal(got.size(), 0);

  gpioevent_data v1{};
  v1.timestamp = 5;  // ignored: v1's clock differs between kernels
  v1.id = GPIOEVENT_EVENT_FALLING_EDGE;
  assert_int_equal(write(p[1], &v1, sizeof v1), sizeof v1);
  const uint64_t before = monotonic_ns();
  assert_int_equal(read_events(Uapi::v1, p[0], got), 0);
  assert_int_equal(got.size(), 1);
  assert_false(got[0].active);
  assert_true(got[0].timestamp_ns >= before);
  close(p[0]);
  close(p[1]);
  assert_int_equal(read_events(Uapi::v2, p[0], got), EBADF);  // a broken fd is reported, not looped on
}

// A line as the messages would see it on a Raspberry Pi 4.
static LinePlace rpi_line() {
  LinePlace at;
  at.who = "board rpi4, input 'estop'";
  at.board_source = "/etc/rigagent/rpi4.json";
  at.chip_path = "/dev/gpiochip0";
  at.chip_label = "pinctrl-bcm2711";
  at.chip_lines = 58;
  at.offset = 17;
  at.line_name = "GPIO17";
  return at;
}

static void permission_denied_says_what_to_do(void**) {
  for (int err : {EACCES, EPERM}) {
    const std::string e = gpio_errno_message(GpioStep::open_chip, err, rpi_line());
    contains(e, "board rpi4, input 'estop': permission denied opening /dev/gpiochip0");
    contains(e, "'gpio' group (sudo usermod -aG gpio $USER, then log in again) or add a udev rule");
  }
}

static void busy_line_names_its_holder(void**) {
  const std::string e = gpio_errno_message(GpioStep::request, EBUSY, rpi_line(), "gpio-keys");
  contains(e, "board rpi4, input 'estop': /dev/gpiochip0 line 17 'GPIO17' is in use by 'gpio-keys'");
  contains(e, "gpioinfo");
  contains(gpio_errno_message(GpioStep::request, EBUSY, rpi_line()), "is in use (by the kernel");
}

static void einval_with_bias_means_no_bias_support(void**) {
  const std::string e = gpio_errno_message(GpioStep::request, EINVAL, rpi_line(), "", {Bias::pull_up, 0});
  contains(e, "'estop'");
  contains(e, "this kernel cannot set bias");
  contains(e, "\"bias\": \"as-is\"");
  contains(e, "/etc/rigagent/rpi4.json");
  contains(e, "external pull-up resistor");
  contains(gpio_errno_message(GpioStep::request, EINVAL, rpi_line(), "", {Bias::pull_down, 0}), "external pull-down");
  // Without bias asked, EINVAL is something else: no advice about bias.
  lacks(gpio_errno_message(GpioStep::request, EINVAL, rpi_line()), "bias");
}

static void offset_out_of_range_gives_the_range(void**) {
  const std::string e = offset_out_of_range_message(rpi_line(), 99);
  contains(e, "board rpi4, input 'estop': line 99 is out of range: /dev/gpiochip0 [pinctrl-bcm2711] has 58 lines (0-57)");
  contains(e, "check \"line\"");
}

static void unknown_line_name_lists_some(void**) {
  const std::string e = unknown_line_name_message(rpi_line(), "GPIO99", {"ID_SDA", "ID_SCL", "GPIO2"});
  contains(e, "'estop'");
  contains(e, "no line named 'GPIO99' on /dev/gpiochip0 [pinctrl-bcm2711]");
  contains(e, "'ID_SDA', 'ID_SCL', 'GPIO2'");
}

static void missing_chip_lists_the_machines_chips(void**) {
  LinePlace at = rpi_line();
  at.chip_path = "/dev/gpiochip9";
  const std::string e = missing_chip_message(at, {{"/dev/gpiochip0", "pinctrl-bcm2711", 58, 0}});
  contains(e, "board rpi4, input 'estop': /dev/gpiochip9: no such GPIO chip (this machine has: /dev/gpiochip0 "
              "[pinctrl-bcm2711, 58 lines]) — check \"chip\" in board file /etc/rigagent/rpi4.json");
  at.board_source = "built-in rpi4";
  contains(missing_chip_message(at, {{"/dev/gpiochip0", "pinctrl-bcm2711", 58, 0}}),
           "check \"chip\" in built-in rpi4; to change a built-in board, pass an edited copy");
  const std::string none = missing_chip_message(at, {});
  contains(none, "this machine has no GPIO chips at all (is this the right board? `--board sim` runs without hardware)");
  // A chip that could not be read may be the one wanted: say why it could not.
  const std::string label = unknown_label_message(at, "pinctrl-bcm2711", {{"/dev/gpiochip0", "", 0, EACCES}});
  contains(label, "no GPIO chip labelled 'pinctrl-bcm2711'");
  contains(label, "/dev/gpiochip0 [unreadable");
  contains(label, "'gpio' group");
}

// --- line_events.hpp: what a line's events mean ---

constexpr uint64_t kMs = 1000000;

// The line's level as the backend would read it, counting the reads; a nonzero `err` fails them.
struct FakeLine {
  bool active = false;
  int err = 0;
  int reads = 0;
  auto reader() {
    return [this](bool& a) {
      ++reads;
      a = active;
      return err;
    };
  }
};

static LineEvents line_of(Uapi uapi, Debouncer::Mode mode, uint64_t window_ns, bool initial_active) {
  return LineEvents(uapi, rpi_line(), mode, window_ns, initial_active);
}

static void expect_reports(const LineUpdate& u, const std::vector<LineReport>& want) {
  std::string got_text, want_text;
  auto text = [](const LineReport& r) {
    return std::string(r.transition.active ? "pressed" : "released") + "@" + std::to_string(r.transition.timestamp_ns) +
           (r.resync ? " (resync)" : "") + "; ";
  };
  for (const auto& r : u.reports) got_text += text(r);
  for (const auto& r : want) want_text += text(r);
  if (got_text != want_text) fail_msg("reported: %s\nexpected: %s", got_text.c_str(), want_text.c_str());
}

// v2 numbers each line's events: a gap is an overflowed queue, so the line is read and a level
// that differs from the last edge seen is reported, once, as a resync. Without a gap the line is
// not read at all.
static void v2_seqno_gap_resyncs_the_level(void**) {
  LineEvents line = line_of(Uapi::v2, Debouncer::Mode::trailing, 0, false);
  FakeLine level;
  LineUpdate u;
  line.on_events({{true, 1000, 1}, {false, 2000, 2}}, 0, level.reader(), 5000, u);
  expect_reports(u, {{{true, 1000}, false}, {{false, 2000}, false}});
  assert_int_equal(level.reads, 0);

  u.clear();
  level.active = true;  // s5 (a press) was lost: the last edge read says released
  line.on_events({{true, 6000, 3}, {false, 7000, 4}}, 0, level.reader(), 9000, u);
  assert_int_equal(level.reads, 0);
  u.clear();
  line.on_events({{false, 8000, 6}}, 0, level.reader(), 9500, u);  // (a lone release: dedup'd)
  assert_int_equal(level.reads, 1);
  expect_reports(u, {{{true, 9500}, true}});
  assert_false(u.fault.has_value());
  assert_true(line.debouncer().reported());

  // A gap with the level as the last edge said: nothing to resync.
  u.clear();
  line.on_events({{false, 10000, 8}, {true, 11000, 9}}, 0, level.reader(), 12000, u);
  assert_int_equal(level.reads, 2);
  expect_reports(u, {{{false, 10000}, false}, {{true, 11000}, false}});
}

// v1's queue drops the newest events when full, and has no sequence numbers: the level is read
// after every batch. A batch ending on a stale "released" while the line reads pressed reports
// pressed.
static void v1_stale_release_is_reconciled(void**) {
  LineEvents line = line_of(Uapi::v1, Debouncer::Mode::trailing, 0, false);
  FakeLine level;
  level.active = true;
  LineUpdate u;
  line.on_events({{true, 1000, 0}, {false, 1000, 0}}, 0, level.reader(), 1000, u);
  assert_int_equal(level.reads, 1);
  expect_reports(u, {{{true, 1000}, false}, {{false, 1000}, false}, {{true, 1000}, true}});
  assert_true(line.debouncer().reported());

  // With v1's emulated (trailing) kernel debounce: the window ends on the level the line has.
  LineEvents slow = line_of(Uapi::v1, Debouncer::Mode::trailing, 10 * kMs, false);
  u.clear();
  slow.on_events({{true, 1 * kMs, 0}, {false, 1 * kMs, 0}}, 0, level.reader(), 1 * kMs, u);
  expect_reports(u, {});
  assert_true(slow.debouncer().deadline().has_value());
  slow.on_deadline({}, 0, level.reader(), *slow.debouncer().deadline(), u);
  expect_reports(u, {{{true, 11 * kMs}, false}});
  assert_true(slow.debouncer().reported());

  // The level read back as the last edge said is no edge: the window is not restarted, and no
  // bounce is counted.
  LineEvents same = line_of(Uapi::v1, Debouncer::Mode::trailing, 10 * kMs, false);
  u.clear();
  same.on_events({{true, 1 * kMs, 0}}, 0, level.reader(), 5 * kMs, u);
  assert_int_equal(same.debouncer().deadline().value_or(0), 11 * kMs);
  assert_int_equal(same.debouncer().suppressed(), 0);
}

// At a debounce deadline the line is read: what the window ends on is the line's level, not the
// last edge read (whose successor may have been dropped).
static void deadline_reads_the_line(void**) {
  // Leading (e-stop) debounce on v1: a press, then a release inside the lockout, read together.
  LineEvents line = line_of(Uapi::v1, Debouncer::Mode::leading, 10 * kMs, false);
  FakeLine level;
  LineUpdate u;
  line.on_events({{true, 1 * kMs, 0}, {false, 1 * kMs, 0}}, 0, level.reader(), 1 * kMs, u);
  expect_reports(u, {{{true, 1 * kMs}, false}});
  // Pressed again, its edge dropped: the window's end must not leave "released" standing.
  level.active = true;
  u.clear();
  line.on_deadline({}, 0, level.reader(), 11 * kMs, u);
  line.on_deadline({}, 0, level.reader(), *line.debouncer().deadline(), u);
  // The release seen in the window is reported at its end, then the press found there (stamped
  // when it was found), once the lockout that the release started is over.
  expect_reports(u, {{{false, 1 * kMs}, false}, {{true, 11 * kMs}, false}});
  assert_true(line.debouncer().reported());
}

// A failed read (ENODEV: the driver was unbound) is a fault, reported once, naming the line;
// the edges read before it still count, and nothing comes after it.
static void read_error_is_a_fault_once(void**) {
  LineEvents line = line_of(Uapi::v2, Debouncer::Mode::trailing, 0, false);
  FakeLine level;
  LineUpdate u;
  line.on_events({{true, 1000, 1}}, ENODEV, level.reader(), 2000, u);
  expect_reports(u, {{{true, 1000}, false}});
  assert_true(u.fault.has_value());
  assert_str(*u.fault,
             "board rpi4, input 'estop': reading /dev/gpiochip0 line 17 'GPIO17' failed: No such device (the GPIO "
             "driver went away?); the input is no longer watched");
  assert_true(line.failed());
  assert_str(line.fault(), *u.fault);

  u.clear();
  line.on_events({{false, 3000, 2}}, 0, level.reader(), 4000, u);
  line.on_deadline({}, 0, level.reader(), 5000, u);
  line.on_wait_error(std::make_error_code(std::errc::bad_file_descriptor), u);
  assert_false(u.fault.has_value());
  expect_reports(u, {});
  assert_int_equal(level.reads, 0);

  // Reading the level fails (v1 reads it after every batch).
  LineEvents v1 = line_of(Uapi::v1, Debouncer::Mode::trailing, 0, false);
  level.err = EIO;
  u.clear();
  v1.on_events({}, 0, level.reader(), 1000, u);
  assert_true(u.fault.has_value());
  contains(*u.fault, "board rpi4, input 'estop': reading the level of /dev/gpiochip0 line 17 'GPIO17' failed: ");
  contains(*u.fault, "(errno 5)");
  u.clear();
  v1.on_events({}, 0, level.reader(), 2000, u);
  assert_false(u.fault.has_value());

  // The wait on the fd fails.
  LineEvents waited = line_of(Uapi::v2, Debouncer::Mode::trailing, 0, false);
  u.clear();
  waited.on_wait_error(std::error_code(ENODEV, std::system_category()), u);
  assert_true(u.fault.has_value());
  contains(*u.fault, "watching /dev/gpiochip0 line 17 'GPIO17' failed: No such device (the GPIO driver went away?)");
}

// Edges read after a deadline passed (a busy thread, a batch): what the timer would have
// reported at the deadline comes first, then the edge.
static void edges_after_a_passed_deadline_catch_up(void**) {
  FakeLine level;
  LineUpdate u;
  // Leading: a press, a release inside the lockout, and a press read only after the window
  // ended. The release is reported at the window's end (a short press is never lost), then the
  // new press.
  LineEvents lead = line_of(Uapi::v2, Debouncer::Mode::leading, 10 * kMs, false);
  level.active = true;
  lead.on_events({{true, 1 * kMs, 1}, {false, 3 * kMs, 2}, {true, 25 * kMs, 3}}, 0, level.reader(), 26 * kMs, u);
  expect_reports(u, {{{true, 1 * kMs}, false}, {{false, 3 * kMs}, false}, {{true, 25 * kMs}, false}});

  // Trailing: a press that held for its window, then a release read late.
  LineEvents trail = line_of(Uapi::v2, Debouncer::Mode::trailing, 10 * kMs, false);
  level.active = false;
  u.clear();
  trail.on_events({{true, 1 * kMs, 1}, {false, 30 * kMs, 2}}, 0, level.reader(), 31 * kMs, u);
  expect_reports(u, {{{true, 11 * kMs}, false}});
  trail.on_deadline({}, 0, level.reader(), 40 * kMs, u);
  expect_reports(u, {{{true, 11 * kMs}, false}, {{false, 40 * kMs}, false}});
}

// "kernel" and "auto" on a v1 kernel emulate the kernel's (trailing) debounce in software;
// "software" leads everywhere.
static void v1_kernel_debounce_is_software_trailing(void**) {
  InputSpec spec;
  spec.debounce_ms = 10;
  for (auto mode : {DebounceMode::automatic, DebounceMode::kernel}) {
    spec.debounce = mode;
    const DebouncePlan v1 = plan_debounce(spec, Uapi::v1);
    assert_true(v1.mode == Debouncer::Mode::trailing);
    assert_int_equal(v1.window_ns, 10 * kMs);
    assert_int_equal(v1.kernel_us, 0);
    assert_str(v1.text, "10 ms software trailing debounce (v1 uAPI has no kernel debounce)");
    const DebouncePlan v2 = plan_debounce(spec, Uapi::v2);
    assert_int_equal(v2.kernel_us, 10000);
    assert_int_equal(v2.window_ns, 0);
    assert_str(v2.text, "10 ms kernel debounce");
  }
  spec.debounce = DebounceMode::software;
  for (auto uapi : {Uapi::v1, Uapi::v2}) {
    const DebouncePlan p = plan_debounce(spec, uapi);
    assert_true(p.mode == Debouncer::Mode::leading);
    assert_int_equal(p.window_ns, 10 * kMs);
    assert_int_equal(p.kernel_us, 0);
    assert_str(p.text, "10 ms software (leading-edge) debounce");
  }
  spec.debounce_ms = 0;
  assert_str(plan_debounce(spec, Uapi::v1).text, "no debounce");
  assert_int_equal(plan_debounce(spec, Uapi::v1).window_ns, 0);
}

int main() {
  unsetenv("RIGAGENT_GPIO_UAPI");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(missing_chip_path_is_named),
      cmocka_unit_test(short_chip_name_means_dev_path),
      cmocka_unit_test(dev_null_is_not_a_gpio_chip),
      cmocka_unit_test(regular_file_is_not_a_gpio_chip),
      cmocka_unit_test(outputs_are_named_too),
      cmocka_unit_test(unknown_label_lists_what_there_is),
      cmocka_unit_test(bad_uapi_override_is_an_error),
      cmocka_unit_test(chip_names_resolve),
      cmocka_unit_test(events_are_read_until_drained),
      cmocka_unit_test(permission_denied_says_what_to_do),
      cmocka_unit_test(busy_line_names_its_holder),
      cmocka_unit_test(einval_with_bias_means_no_bias_support),
      cmocka_unit_test(offset_out_of_range_gives_the_range),
      cmocka_unit_test(unknown_line_name_lists_some),
      cmocka_unit_test(missing_chip_lists_the_machines_chips),
      cmocka_unit_test(v2_seqno_gap_resyncs_the_level),
      cmocka_unit_test(v1_stale_release_is_reconciled),
      cmocka_unit_test(deadline_reads_the_line),
      cmocka_unit_test(read_error_is_a_fault_once),
      cmocka_unit_test(edges_after_a_passed_deadline_catch_up),
      cmocka_unit_test(v1_kernel_debounce_is_software_trailing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
