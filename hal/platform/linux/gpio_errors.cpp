#include "platform/linux/gpio_errors.hpp"

#include <cerrno>
#include <cstring>

namespace rig::hal::cdev {

namespace {

// Some drivers leak the kernel-internal ENOTSUPP (524) for bias they cannot set.
constexpr int kKernelEnotsupp = 524;

const std::string kPermissionAdvice =
    "run rigagent as a user in the 'gpio' group (sudo usermod -aG gpio $USER, then log in again) or add a udev rule";
const std::string kNoChipsAtAll =
    "this machine has no GPIO chips at all (is this the right board? `--board sim` runs without hardware)";

std::string errno_text(int err) { return std::string(std::strerror(err)) + " (errno " + std::to_string(err) + ")"; }

// Where the board's text is. Built-in boards live in the binary: they are changed by passing an
// edited copy, which the message says, since editing the source file changes nothing installed.
std::string board_file(const LinePlace& at) {
  if (at.board_source.empty()) return "the board file";
  if (at.board_source.rfind("built-in ", 0) == 0)
    return at.board_source + "; to change a built-in board, pass an edited copy of its board.json to --board";
  return "board file " + at.board_source;
}

std::string fix_hint(const LinePlace& at, const char* key) { return std::string("check \"") + key + "\" in " + board_file(at); }

std::string summary_text(const ChipSummary& c) {
  if (c.open_errno) return c.path + " [unreadable: " + std::strerror(c.open_errno) + "]";
  return c.path + " [" + c.label + ", " + std::to_string(c.lines) + " lines]";
}

// " (this machine has: A [l, n lines], B [...]) — hint", or the no-chips-at-all sentence.
std::string what_machine_has(const LinePlace& at, const std::vector<ChipSummary>& found) {
  if (found.empty()) return "; " + kNoChipsAtAll;
  std::string t = " (this machine has: ";
  bool denied = false;
  for (size_t i = 0; i < found.size(); ++i) {
    t += (i ? ", " : "") + summary_text(found[i]);
    denied |= found[i].open_errno == EACCES || found[i].open_errno == EPERM;
  }
  t += ") — " + fix_hint(at, "chip");
  // An unreadable chip may be the one asked for: its label cannot be checked.
  if (denied) t += "; some chips could not be opened: " + kPermissionAdvice;
  return t;
}

const char* step_verb(GpioStep step) {
  switch (step) {
    case GpioStep::open_chip: return "cannot open";
    case GpioStep::chip_info: return "cannot read the chip info of";
    case GpioStep::line_info: return "cannot read the line info of";
    case GpioStep::request: return "cannot request";
    case GpioStep::get_value: return "cannot read the value of";
    case GpioStep::set_value: return "cannot set the value of";
    case GpioStep::read_events: return "cannot read the edge events of";
  }
  return "failed on";
}

}  // namespace

std::string who_for_input(const Board& b, size_t input) {
  return "board " + b.name + ", input '" + (input < b.inputs.size() ? b.inputs[input].name : "?") + "'";
}

std::string who_for_output(const Board& b, size_t output) {
  return "board " + b.name + ", output '" + (output < b.outputs.size() ? b.outputs[output].name : "?") + "'";
}

std::string chip_text(const LinePlace& at) {
  return at.chip_label.empty() ? at.chip_path : at.chip_path + " [" + at.chip_label + "]";
}

std::string line_text(const LinePlace& at) {
  std::string t = at.chip_path + " line";
  if (at.offset) t += " " + std::to_string(*at.offset);
  if (!at.line_name.empty()) t += " '" + at.line_name + "'";
  return t;
}

std::string place_text(const LinePlace& at) {
  std::string t = chip_text(at) + " line";
  if (at.offset) t += " " + std::to_string(*at.offset);
  if (!at.line_name.empty()) t += " '" + at.line_name + "'";
  return t;
}

std::string gpio_errno_message(GpioStep step, int err, const LinePlace& at, const std::string& consumer, RequestAsked asked) {
  const std::string who = at.who + ": ";
  const bool on_chip = step == GpioStep::open_chip || step == GpioStep::chip_info;
  const std::string what = on_chip ? at.chip_path : line_text(at);
  if (err == EACCES || err == EPERM) return who + "permission denied opening " + at.chip_path + ": " + kPermissionAdvice;
  if (on_chip && (err == ENOTTY || err == EISDIR || err == EINVAL))
    return who + at.chip_path + " is not a GPIO character device — " + fix_hint(at, "chip");
  if (step == GpioStep::open_chip && err == ENOENT) return who + at.chip_path + ": no such GPIO chip — " + fix_hint(at, "chip");
  if (err == ENODEV || err == ENXIO)
    return who + what + ": the GPIO chip has gone (its driver was unbound or the device removed) — " + errno_text(err);
  if (step == GpioStep::request && err == EBUSY) {
    const std::string holder = consumer.empty() ? "in use (by the kernel or a program that gave no name)"
                                                : "in use by '" + consumer + "'";
    return who + what + " is " + holder + " — stop the program holding it (gpioinfo shows which) or choose another line";
  }
  if (step == GpioStep::request && (err == EINVAL || err == kKernelEnotsupp || err == EOPNOTSUPP)) {
    if (asked.bias != Bias::as_is) {
      const std::string resistor = asked.bias == Bias::pull_down ? "pull-down" : "pull-up";
      return who + what + ": this kernel cannot set bias (" + to_string(asked.bias) +
             ") on GPIO lines (pull-up/pull-down through the GPIO character device needs Linux 5.5 or later, and a "
             "driver that supports it) — fit an external " + resistor + " resistor and set \"bias\": \"as-is\" "
             "for this line in " + board_file(at);
    }
    return who + what + ": the kernel rejected the line's configuration" +
           (asked.debounce_us ? " (" + std::to_string(asked.debounce_us / 1000) + " ms debounce)" : std::string()) +
           ": " + errno_text(err);
  }
  return who + step_verb(step) + " " + what + ": " + errno_text(err);
}

std::string missing_chip_message(const LinePlace& at, const std::vector<ChipSummary>& found) {
  return at.who + ": " + at.chip_path + ": no such GPIO chip" + what_machine_has(at, found);
}

std::string unknown_label_message(const LinePlace& at, const std::string& label, const std::vector<ChipSummary>& found) {
  return at.who + ": no GPIO chip labelled '" + label + "'" + what_machine_has(at, found);
}

std::string offset_out_of_range_message(const LinePlace& at, uint32_t offset) {
  const std::string size = at.chip_lines == 0 ? "has no lines"
                                              : "has " + std::to_string(at.chip_lines) + " lines (0-" +
                                                    std::to_string(at.chip_lines - 1) + ")";
  return at.who + ": line " + std::to_string(offset) + " is out of range: " + chip_text(at) + " " + size + " — " +
         fix_hint(at, "line");
}

std::string unknown_line_name_message(const LinePlace& at, const std::string& name, const std::vector<std::string>& some_names) {
  std::string t = at.who + ": no line named '" + name + "' on " + chip_text(at);
  if (some_names.empty()) {
    t += " (its lines have no names: give the line's offset instead)";
  } else {
    t += " (its lines are named ";
    for (size_t i = 0; i < some_names.size(); ++i) t += (i ? ", '" : "'") + some_names[i] + "'";
    t += ", ...; `gpioinfo` lists them all)";
  }
  return t + " — " + fix_hint(at, "line");
}

namespace {
std::string line_lost(const LinePlace& at, const std::string& doing, const std::string& why) {
  return at.who + ": " + doing + " " + line_text(at) + " failed: " + why + "; the input is no longer watched";
}
}  // namespace

std::string line_lost_message(const LinePlace& at, const std::string& doing, int err) {
  // ENODEV: the chip's driver was unbound (or the device removed) while the line was held.
  const bool gone = err == ENODEV || err == ENXIO || err == ESHUTDOWN;
  return line_lost(at, doing, std::string(std::strerror(err)) + (gone ? " (the GPIO driver went away?)" : " (errno " + std::to_string(err) + ")"));
}

std::string line_lost_message(const LinePlace& at, const std::string& doing, const std::error_code& ec) {
  if (ec.category() == std::system_category() || ec.category() == std::generic_category())
    return line_lost_message(at, doing, ec.value());
  return line_lost(at, doing, ec.message());
}

}  // namespace rig::hal::cdev
