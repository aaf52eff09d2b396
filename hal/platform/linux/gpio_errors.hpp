// The Linux GPIO backend's error messages, as pure functions of what was found (no syscalls), so
// every one of them is unit-tested without hardware. Each message starts with who asked ("board
// rpi4, input 'estop'"), names the device, and says what to do about it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "hal/board.hpp"

namespace rig::hal::cdev {

// A chip found under /dev, to list what a machine has when the board asks for something else.
struct ChipSummary {
  std::string path;
  std::string label;
  uint32_t lines = 0;
  int open_errno = 0;  // nonzero: it could not be opened or queried
};

// A line as far as it is known when something fails (filled in as the lookup proceeds).
struct LinePlace {
  std::string who;           // "board rpi4, input 'estop'"
  std::string board_source;  // Board::source: where "chip" and "line" can be fixed
  std::string chip_path;
  std::string chip_label;
  uint32_t chip_lines = 0;
  std::optional<uint32_t> offset;
  std::string line_name;
};

// The same errno means different things at each step (ENOTTY on chip info: not a GPIO chip).
enum class GpioStep { open_chip, chip_info, line_info, request, get_value, set_value, read_events };

// What a failed request asked for: EINVAL means "no bias support" only if bias was asked.
struct RequestAsked {
  Bias bias = Bias::as_is;
  uint32_t debounce_us = 0;
};

std::string who_for_input(const Board& b, size_t input);
std::string who_for_output(const Board& b, size_t output);
std::string chip_text(const LinePlace& at);        // "/dev/gpiochip0 [pinctrl-bcm2711]"
std::string line_text(const LinePlace& at);        // "/dev/gpiochip0 line 17 'GPIO17'"
std::string place_text(const LinePlace& at);       // "/dev/gpiochip0 [pinctrl-bcm2711] line 17 'GPIO17'"

// errno -> message. `consumer` is the line's holder as line info reports it (for EBUSY).
std::string gpio_errno_message(GpioStep step, int err, const LinePlace& at, const std::string& consumer = {},
                               RequestAsked asked = {});
std::string missing_chip_message(const LinePlace& at, const std::vector<ChipSummary>& found);
std::string unknown_label_message(const LinePlace& at, const std::string& label, const std::vector<ChipSummary>& found);
std::string offset_out_of_range_message(const LinePlace& at, uint32_t offset);
std::string unknown_line_name_message(const LinePlace& at, const std::string& name, const std::vector<std::string>& some_names);
// An input that can no longer be watched: "board rpi4, input 'estop': reading /dev/gpiochip0 line
// 17 'GPIO17' failed: No such device (the GPIO driver went away?); the input is no longer watched".
// `doing` is what failed ("reading", "reading the level of", "watching"); `err` is an errno.
std::string line_lost_message(const LinePlace& at, const std::string& doing, int err);
std::string line_lost_message(const LinePlace& at, const std::string& doing, const std::error_code& ec);

}  // namespace rig::hal::cdev
