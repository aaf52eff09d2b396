// Board files: every built-in board parses; the sim board's lines are what its file says; defaults
// by role; and each kind of mistake is an error that names the key path.
#include "support/cmocka.hpp"

#include <cstdio>
#include <cstdlib>
#include <set>
#include <unistd.h>

#include "hal/board.hpp"

using namespace rig;
using namespace rig::hal;

static void contains(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) == std::string::npos) fail_msg("'%s' not in:\n%s", needle.c_str(), hay.c_str());
}

static void lacks(const std::string& hay, const std::string& needle) {
  if (hay.find(needle) != std::string::npos) fail_msg("'%s' unexpectedly in:\n%s", needle.c_str(), hay.c_str());
}

static Board board_of(const std::string& text) {
  auto b = parse_board(text, "board.json");
  if (!b) fail_msg("board does not parse: %s", b.error().message.c_str());
  return *b;
}

static std::string error_of(const std::string& text) {
  auto b = parse_board(text, "board.json");
  if (b) fail_msg("expected an error for %s", text.c_str());
  return b.error().message;
}

// A simulated board around the given input objects.
static std::string sim_board(const std::string& inputs, const std::string& outputs = "[]") {
  return R"({"name": "t", "gpio": "sim", "inputs": )" + inputs + R"(, "outputs": )" + outputs + "}";
}

// A Linux board on gpiochip0 (unless chip is empty) around the given input objects.
static std::string linux_board(const std::string& inputs, const std::string& chip = "gpiochip0") {
  std::string c = chip.empty() ? "" : R"("chip": ")" + chip + R"(", )";
  return R"({"name": "t", "gpio": "linux", )" + c + R"("inputs": )" + inputs + "}";
}

static void builtin_boards_parse(void**) {
  const auto& boards = builtin_boards();
  assert_true(boards.size() >= 5);
  std::set<std::string> names;
  for (const auto& bb : boards) {
    auto b = parse_board(bb.text, bb.path);
    if (!b) fail_msg("built-in board %s does not parse: %s", bb.name, b.error().message.c_str());
    assert_str(b->name, bb.name);
    assert_true(names.insert(bb.name).second);
    contains(bb.path, "boards/");
    contains(bb.path, "/board.json");
    size_t estops = 0;
    for (const auto& in : b->inputs) estops += in.role == InputRole::estop;
    if (estops < 1) fail_msg("built-in board %s has no e-stop input", bb.name);
    // load_board finds it by name and says where it came from.
    auto loaded = load_board(bb.name);
    if (!loaded) fail_msg("load_board(%s): %s", bb.name, loaded.error().message.c_str());
    assert_str(loaded->source, std::string("built-in board ") + bb.name + " (" + bb.path + ")");
    assert_int_equal(loaded->inputs.size(), b->inputs.size());
  }
  for (const char* n : {"sim", "rpi4", "rpi5", "jetson-orin-nano", "qemu-virt"})
    if (!names.count(n)) fail_msg("built-in board %s is missing", n);
  // The Linux boards name a chip for every line.
  auto rpi4 = load_board("rpi4");
  assert_true(rpi4.has_value());
  assert_int_equal(static_cast<int>(rpi4->backend), static_cast<int>(Backend::linux_gpio));
  assert_str(rpi4->toolchain, "aarch64-linux-gnu");
  assert_str(rpi4->inputs[0].line.chip, "pinctrl-bcm2711");
  assert_str(rpi4->inputs[0].line.name, "GPIO17");
  assert_false(rpi4->inputs[0].line.offset.has_value());
  assert_str(rpi4->inputs[0].line.text(), "pinctrl-bcm2711 line 'GPIO17'");
  auto qemu = load_board("qemu-virt");
  assert_true(qemu.has_value());
  assert_true(qemu->inputs[0].line.offset.has_value());
  assert_int_equal(*qemu->inputs[0].line.offset, 3);
  assert_str(qemu->inputs[0].line.text(), "9030000.pl061 line 3");
  // The alarm lines the system test holds through QEMU's qtest (tests/system/test_qemu.py ALARMS).
  assert_int_equal(qemu->inputs.size(), 3);
  assert_str(qemu->inputs[1].name, "door");
  assert_int_equal(static_cast<int>(qemu->inputs[1].role), static_cast<int>(InputRole::alarm));
  assert_int_equal(*qemu->inputs[1].line.offset, 4);
  assert_int_equal(static_cast<int>(qemu->inputs[1].severity), static_cast<int>(Severity::warning));
  assert_str(qemu->inputs[2].name, "overtemp");
  assert_int_equal(*qemu->inputs[2].line.offset, 5);
  assert_int_equal(static_cast<int>(qemu->inputs[2].severity), static_cast<int>(Severity::critical));
}

static void sim_board_lines(void**) {
  auto b = load_board("sim");
  if (!b) fail_msg("%s", b.error().message.c_str());
  assert_str(b->name, "sim");
  assert_str(b->toolchain, "native");
  assert_str(b->vendor, "rigagent");
  assert_int_equal(static_cast<int>(b->backend), static_cast<int>(Backend::sim));
  assert_int_equal(b->inputs.size(), 4);
  assert_int_equal(b->outputs.size(), 2);

  const InputSpec& estop = b->inputs[0];
  assert_str(estop.name, "estop");
  assert_int_equal(static_cast<int>(estop.role), static_cast<int>(InputRole::estop));
  assert_false(estop.active_low);
  assert_int_equal(static_cast<int>(estop.bias), static_cast<int>(Bias::as_is));
  assert_int_equal(estop.debounce_ms, 5);
  assert_int_equal(static_cast<int>(estop.debounce), static_cast<int>(DebounceMode::software));
  assert_int_equal(static_cast<int>(estop.release), static_cast<int>(ReleasePolicy::resume));
  assert_str(estop.line.chip, "");
  assert_false(estop.line.offset.has_value());
  assert_str(estop.line.text(), "line (unset)");

  auto door_i = b->input_index("door");
  assert_true(door_i.has_value());
  assert_int_equal(*door_i, 1);
  const InputSpec& door = b->inputs[*door_i];
  assert_int_equal(static_cast<int>(door.role), static_cast<int>(InputRole::alarm));
  assert_true(door.active_low);
  assert_int_equal(static_cast<int>(door.bias), static_cast<int>(Bias::pull_up));
  assert_int_equal(static_cast<int>(door.severity), static_cast<int>(Severity::warning));
  assert_int_equal(door.debounce_ms, 20);
  assert_int_equal(static_cast<int>(door.debounce), static_cast<int>(DebounceMode::automatic));
  assert_str(to_string(door.severity), "warning");
  assert_str(to_string(door.bias), "pull-up");

  assert_int_equal(static_cast<int>(b->inputs[2].severity), static_cast<int>(Severity::critical));
  assert_int_equal(static_cast<int>(b->inputs[3].severity), static_cast<int>(Severity::info));
  assert_int_equal(b->inputs[3].debounce_ms, 0);

  assert_int_equal(*b->output_index("estop_relay"), 0);
  assert_int_equal(*b->output_index("status_led"), 1);
  assert_int_equal(static_cast<int>(b->outputs[0].role), static_cast<int>(OutputRole::estop_relay));
  assert_int_equal(static_cast<int>(b->outputs[1].role), static_cast<int>(OutputRole::status_led));
  assert_false(b->input_index("estop_relay").has_value());
  assert_false(b->output_index("estop").has_value());
  assert_false(b->input_index("").has_value());
}

static void defaults_by_role(void**) {
  Board b = board_of(sim_board(R"([{"name": "e", "role": "estop"}, {"name": "a", "role": "alarm"},
    {"name": "k", "role": "estop", "debounce": "kernel", "release": "manual"},
    {"name": "s", "role": "alarm", "debounce": "software", "severity": "critical"}])"));
  assert_int_equal(static_cast<int>(b.inputs[0].debounce), static_cast<int>(DebounceMode::software));
  assert_int_equal(static_cast<int>(b.inputs[1].debounce), static_cast<int>(DebounceMode::automatic));
  assert_int_equal(static_cast<int>(b.inputs[1].severity), static_cast<int>(Severity::warning));
  assert_int_equal(static_cast<int>(b.inputs[2].debounce), static_cast<int>(DebounceMode::kernel));
  assert_int_equal(static_cast<int>(b.inputs[2].release), static_cast<int>(ReleasePolicy::manual));
  assert_int_equal(static_cast<int>(b.inputs[3].debounce), static_cast<int>(DebounceMode::software));
  assert_str(to_string(b.inputs[0].debounce), "software");
  assert_str(to_string(b.inputs[1].debounce), "auto");
  assert_str(to_string(b.inputs[2].release), "manual");
  assert_str(b.source, "board.json");
  assert_str(b.toolchain, "native");  // the default
}

static void unknown_keys_suggest(void**) {
  std::string e = error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_msec": 5}])"));
  contains(e, "board.json: invalid board file");
  contains(e, "inputs[0].debounce_msec: unknown key (did you mean \"debounce_ms\"?)");
  contains(error_of(R"({"name": "t", "gpio": "sim", "gpoi": "sim", "inputs": [{"name": "e", "role": "estop"}]})"),
           "gpoi: unknown key (did you mean \"gpio\"?)");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}])", R"([{"name": "l", "role": "status-led", "actve_low": true}])")),
           "outputs[0].actve_low: unknown key (did you mean \"active_low\"?)");
  // Nothing close: no suggestion.
  e = error_of(sim_board(R"([{"name": "e", "role": "estop", "colour": "red"}])"));
  contains(e, "inputs[0].colour: unknown key");
  lacks(e, "did you mean");
}

static void missing_name_and_gpio(void**) {
  std::string e = error_of(R"({"gpio": "sim", "inputs": [{"name": "e", "role": "estop"}]})");
  contains(e, "\n  name: missing: the board's name");
  e = error_of(R"({"name": "t", "inputs": [{"name": "e", "role": "estop"}]})");
  contains(e, "\n  gpio: missing: \"linux\" (GPIO character device) or \"sim\"");
  contains(error_of(R"({"name": "", "gpio": "sim", "inputs": [{"name": "e", "role": "estop"}]})"), "name: must not be empty");
  contains(error_of(R"({"name": "a b", "gpio": "sim", "inputs": [{"name": "e", "role": "estop"}]})"),
           "name: use letters, digits, '-', '_' or '.', at most 32");
  contains(error_of(R"({"name": "t", "gpio": "gpiod", "inputs": [{"name": "e", "role": "estop"}]})"),
           "gpio: \"gpiod\" is not one of \"sim\", \"linux\"");
  // Each line needs a name too: `rigagent hal` and the events refer to it by name.
  contains(error_of(sim_board(R"([{"role": "estop"}])")), "inputs[0].name: missing");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}])", R"([{"role": "status-led"}])")),
           "outputs[0].name: missing");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}, {"name": "bad name", "role": "alarm"}])")),
           "inputs[1].name: use letters, digits");
}

static void bad_roles(void**) {
  contains(error_of(sim_board(R"([{"name": "e", "role": "panic"}])")),
           "inputs[0].role: \"panic\" is not one of \"estop\", \"alarm\"");
  contains(error_of(sim_board(R"([{"name": "e"}])")), "inputs[0].role: missing: \"estop\" or \"alarm\"");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}])", R"([{"name": "l", "role": "lamp"}])")),
           "outputs[0].role: \"lamp\" is not one of \"estop-relay\", \"status-led\"");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}])", R"([{"name": "l"}])")),
           "outputs[0].role: missing: \"estop-relay\" or \"status-led\"");
}

static void severity_and_release_by_role(void**) {
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "severity": "critical"}])")),
           "inputs[0].severity: only alarm inputs have a severity");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}, {"name": "a", "role": "alarm", "release": "manual"}])")),
           "inputs[1].release: only e-stop inputs have a release policy");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "release": "later"}])")),
           "inputs[0].release: \"later\" is not one of \"resume\", \"manual\"");
}

static void debounce_range(void**) {
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_ms": 1001}])")),
           "inputs[0].debounce_ms: must be between 0 and 1000");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_ms": -1}])")),
           "inputs[0].debounce_ms: must be between 0 and 1000");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_ms": 2.5}])")),
           "inputs[0].debounce_ms: expected an integer, got a number with a fraction");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce": "hardware"}])")),
           "inputs[0].debounce: \"hardware\" is not one of \"auto\", \"kernel\", \"software\"");
  Board b = board_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_ms": 1000}, {"name": "a", "role": "alarm", "debounce_ms": 0}])"));
  assert_int_equal(b.inputs[0].debounce_ms, 1000);
  assert_int_equal(b.inputs[1].debounce_ms, 0);
}

static void duplicates(void**) {
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}, {"name": "e", "role": "alarm"}])")),
           "inputs[1].name: \"e\" is used twice");
  // Inputs and outputs share one namespace.
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}])", R"([{"name": "e", "role": "status-led"}])")),
           "outputs[0].name: \"e\" is used twice");
  // The same line twice on a chip, by offset and by name; also between an input and an output.
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": 3}, {"name": "a", "role": "alarm", "line": 3}])")),
           "inputs[1].line: gpiochip0 line 3 is used twice");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": "GPIO17"}, {"name": "a", "role": "alarm", "line": "GPIO17"}])")),
           "inputs[1].line: gpiochip0 line 'GPIO17' is used twice");
  contains(error_of(R"({"name": "t", "gpio": "linux", "chip": "gpiochip0", "inputs": [{"name": "e", "role": "estop", "line": 3}],
                      "outputs": [{"name": "r", "role": "estop-relay", "line": 3}]})"),
           "outputs[0].line: gpiochip0 line 3 is used twice");
  // The same offset on two chips is two lines; the simulated board has no lines to share.
  Board b = board_of(linux_board(R"([{"name": "e", "role": "estop", "line": 3}, {"name": "a", "role": "alarm", "line": 3, "chip": "gpiochip1"}])"));
  assert_str(b.inputs[0].line.chip, "gpiochip0");
  assert_str(b.inputs[1].line.chip, "gpiochip1");
  assert_int_equal(*b.inputs[1].line.offset, 3);
  board_of(sim_board(R"([{"name": "e", "role": "estop", "line": 3}, {"name": "a", "role": "alarm", "line": 3}])"));
}

static void linux_lines(void**) {
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": 3}])", "")),
           "inputs[0].chip: missing: give the GPIO chip");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop"}])")),
           "inputs[0].line: missing: give the line's offset on its chip");
  // A per-line chip is enough without a board-wide one.
  Board b = board_of(linux_board(R"([{"name": "e", "role": "estop", "line": 0, "chip": "/dev/gpiochip2"}])", ""));
  assert_str(b.inputs[0].line.chip, "/dev/gpiochip2");
  assert_int_equal(*b.inputs[0].line.offset, 0);
  assert_str(b.inputs[0].line.text(), "/dev/gpiochip2 line 0");
  // The simulated board needs neither.
  b = board_of(sim_board(R"([{"name": "e", "role": "estop"}])"));
  assert_false(b.inputs[0].line.offset.has_value());
  assert_str(b.inputs[0].line.name, "");
}

static void line_offsets(void**) {
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": -1}])")),
           "inputs[0].line: a line offset is 0 or more");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": 1024}])")),
           "inputs[0].line: a line offset is at most 1023");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": 18446744073709551615}])")),
           "inputs[0].line: a line offset is at most 1023");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": true}])")),
           "inputs[0].line: expected a line offset (integer) or a line name (string), got a boolean");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": 1.5}])")),
           "inputs[0].line: expected a line offset (integer) or a line name (string), got a number with a fraction");
  contains(error_of(linux_board(R"([{"name": "e", "role": "estop", "line": ""}])")),
           "inputs[0].line: expected a line offset (integer) or a line name (string), got a string");
  Board b = board_of(linux_board(R"([{"name": "e", "role": "estop", "line": 1023}])"));
  assert_int_equal(*b.inputs[0].line.offset, 1023);
}

static void no_estop(void**) {
  std::string e = error_of(sim_board(R"([{"name": "a", "role": "alarm"}])"));
  contains(e, "inputs: a board needs at least one input with \"role\": \"estop\"");
  contains(error_of(R"({"name": "t", "gpio": "sim"})"), "inputs: a board needs at least one input");
  contains(error_of(R"({"name": "t", "gpio": "sim", "inputs": {"name": "e"}})"), "inputs: expected an array of objects, got an object");
  contains(error_of(sim_board(R"([{"name": "e", "role": "estop"}, 5])")), "inputs[1]: expected an object, got a number");
}

static void too_many_lines(void**) {
  std::string list = "[";
  for (int i = 0; i < 65; ++i) list += std::string(i ? "," : "") + R"({"name": "l)" + std::to_string(i) + R"(", "role": "estop"})";
  list += "]";
  contains(error_of(sim_board(list)), "inputs: at most 64 lines");
}

static void not_json(void**) {
  std::string e = error_of(R"({"name": "t", )");
  contains(e, "board.json: not valid JSON");
  e = error_of(R"(["name", "t"])");
  assert_str(e, "board.json: a board file is a JSON object");
  contains(error_of("42"), "board.json: a board file is a JSON object");
  // Comments are allowed: the built-in boards start with one.
  Board b = board_of(R"(// a comment
    /* and a block comment */
    {"name": "t", // the name
     "gpio": "sim", "inputs": [{"name": "e", "role": "estop"}]})");
  assert_str(b.name, "t");
  assert_int_equal(b.inputs.size(), 1);
}

static void every_error_at_once(void**) {
  std::string e = error_of(sim_board(R"([{"name": "e", "role": "estop", "debounce_ms": 5000, "severity": "info"}, {"name": "a", "role": "x"}])"));
  contains(e, "inputs[0].debounce_ms");
  contains(e, "inputs[0].severity");
  contains(e, "inputs[1].role");
}

static void unknown_board_lists_builtins(void**) {
  auto b = load_board("rpi3");
  assert_false(b.has_value());
  std::string known;
  for (const auto& bb : builtin_boards()) known += (known.empty() ? "" : ", ") + std::string(bb.name);
  contains(b.error().message, "unknown board 'rpi3' (built in: " + known + "; or give the path to a board file");
  contains(b.error().message, "rpi4");
  contains(b.error().message, "sim");
}

static void board_from_a_file(void**) {
  char path[] = "/tmp/rigagent-test-board-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const std::string text = R"({"name": "from-file", "gpio": "linux", "chip": "gpiochip0",
    "inputs": [{"name": "estop", "role": "estop", "line": 4, "release": "manual", "active_low": true}]})";
  assert_int_equal(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  auto b = load_board(path);
  unlink(path);
  if (!b) fail_msg("%s", b.error().message.c_str());
  assert_str(b->name, "from-file");
  assert_str(b->source, path);
  assert_int_equal(static_cast<int>(b->inputs[0].release), static_cast<int>(ReleasePolicy::manual));
  assert_true(b->inputs[0].active_low);
  // Gone now: the error names the path.
  auto gone = load_board(path);
  assert_false(gone.has_value());
  contains(gone.error().message, std::string(path) + ": cannot read the board file");
}

static void board_paths(void**) {
  assert_false(looks_like_board_path("rpi4"));
  assert_false(looks_like_board_path("jetson-orin-nano"));
  assert_false(looks_like_board_path(""));
  assert_false(looks_like_board_path(".json"));
  assert_false(looks_like_board_path("board.jsonx"));
  assert_true(looks_like_board_path("x.json"));
  assert_true(looks_like_board_path("./rpi4"));
  assert_true(looks_like_board_path("/etc/rigagent/board"));
  assert_true(looks_like_board_path("boards/sim/sim/board.json"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(builtin_boards_parse), cmocka_unit_test(sim_board_lines),
      cmocka_unit_test(defaults_by_role),     cmocka_unit_test(unknown_keys_suggest),
      cmocka_unit_test(missing_name_and_gpio), cmocka_unit_test(bad_roles),
      cmocka_unit_test(severity_and_release_by_role), cmocka_unit_test(debounce_range),
      cmocka_unit_test(duplicates),           cmocka_unit_test(linux_lines),
      cmocka_unit_test(line_offsets),         cmocka_unit_test(no_estop),
      cmocka_unit_test(too_many_lines),       cmocka_unit_test(not_json),
      cmocka_unit_test(every_error_at_once),  cmocka_unit_test(unknown_board_lists_builtins),
      cmocka_unit_test(board_from_a_file),    cmocka_unit_test(board_paths),
  };
  return cmocka_run_group_tests_name("board", tests, nullptr, nullptr);
}
