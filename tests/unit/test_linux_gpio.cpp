// The Linux GPIO backend without GPIO hardware: its error paths for real (a missing chip,
// /dev/null, a regular file, an unknown label), and the errno -> message functions for what
// only a board can produce (EACCES, EBUSY, EINVAL on bias, an offset out of range).
#include "support/cmocka.hpp"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <linux/gpio.h>
#include <unistd.h>

#include "hal/board.hpp"
#include "platform/linux/gpio_chip.hpp"
#include "platform/linux/gpio_errors.hpp"
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
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
