// A board is data (boards/<vendor>/<board>/board.json): which GPIO chip and lines carry the
// e-stop, the alarms and the outputs, with their polarity, bias and debounce, and the toolchain
// the board builds with. Parsed and validated like the configuration.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.hpp"

namespace rig::hal {

enum class Backend { sim, linux_gpio };
enum class Bias { as_is, disabled, pull_up, pull_down };
enum class InputRole { estop, alarm };
enum class OutputRole { estop_relay, status_led };
enum class Severity { info, warning, critical };
// automatic: the kernel's debounce where the v2 uAPI has it (trailing: waits for the line to
//   settle), software otherwise. software: leading edge, reported at once, then the line is
//   ignored for the window; a press shorter than the window is still reported. E-stop lines
//   default to software: no added latency and no press is ever filtered out.
enum class DebounceMode { automatic, kernel, software };
// resume: releasing the e-stop clears the latch (unless something else holds it).
// manual: releasing is reported but the rig stays stopped until EMERGENCY_RESUME (ISO 13850).
enum class ReleasePolicy { resume, manual };

// Where a line is: a chip ("/dev/gpiochip0", "gpiochip0" or a chip label such as
// "pinctrl-bcm2711") and either an offset or a line name ("GPIO17").
struct LineRef {
  std::string chip;
  std::optional<uint32_t> offset;
  std::string name;
  std::string text() const;  // "pinctrl-bcm2711 line GPIO17", "gpiochip0 line 3"
};

struct InputSpec {
  std::string name;  // logical name, used by `rigagent hal` and in events
  std::string description;
  InputRole role = InputRole::alarm;
  Severity severity = Severity::warning;  // alarms
  ReleasePolicy release = ReleasePolicy::resume;  // e-stops
  LineRef line;
  bool active_low = false;
  Bias bias = Bias::as_is;
  uint32_t debounce_ms = 0;
  DebounceMode debounce = DebounceMode::automatic;
  std::optional<int> sim_level;  // sim boards: the physical level at start (default: inactive)
};

struct OutputSpec {
  std::string name;
  std::string description;
  OutputRole role = OutputRole::status_led;
  LineRef line;
  bool active_low = false;
};

struct Board {
  std::string name;
  std::string description;
  std::string vendor;
  std::string toolchain;  // toolchains/<toolchain>.cmake, or "native"
  Backend backend = Backend::sim;
  std::vector<InputSpec> inputs;
  std::vector<OutputSpec> outputs;
  std::string source;  // where it was read from: "built-in rpi4" or a path

  std::optional<size_t> input_index(std::string_view name) const;
  std::optional<size_t> output_index(std::string_view name) const;
};

struct BuiltinBoard {
  const char* name;
  const char* path;  // boards/... in the source tree
  const char* text;
};
const std::vector<BuiltinBoard>& builtin_boards();

Expected<Board> parse_board(std::string_view text, std::string_view source);
// A built-in board's name, or a path to a board file (anything with a '/' or ending in .json).
Expected<Board> load_board(const std::string& name_or_path);
bool looks_like_board_path(std::string_view s);

const char* to_string(Backend b);
const char* to_string(Bias b);
const char* to_string(InputRole r);
const char* to_string(OutputRole r);
const char* to_string(Severity s);
const char* to_string(DebounceMode m);
const char* to_string(ReleasePolicy p);

}  // namespace rig::hal
