#include "hal/board.hpp"

#include <algorithm>
#include <set>

#include "core/json_reader.hpp"

namespace rig::hal {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxLines = 64;
constexpr int64_t kMaxDebounceMs = 1000;

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
  });
}

template <typename E>
E from_name(const std::string& s, std::initializer_list<std::pair<const char*, E>> table, E fallback) {
  for (const auto& [n, v] : table)
    if (s == n) return v;
  return fallback;
}

// The line of an input or output: "line" (offset or name) and "chip" (or the board's default).
LineRef read_line(JsonReader& r, const std::string& default_chip, bool needs_line) {
  LineRef ref;
  ref.chip = default_chip;
  r.string("chip", ref.chip, false);
  if (const json* v = r.raw("line")) {
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() < 0)
      r.fail("line", "a line offset is 0 or more");
    else if (v->is_number_integer() && v->get<uint64_t>() <= 1023)
      ref.offset = v->get<uint32_t>();
    else if (v->is_number_integer())
      r.fail("line", "a line offset is at most 1023");
    else if (v->is_string() && !v->get_ref<const std::string&>().empty())
      ref.name = v->get<std::string>();
    else
      r.fail("line", std::string("expected a line offset (integer) or a line name (string), got ") + json_type_name(*v));
  } else if (needs_line) {
    r.fail("line", "missing: give the line's offset on its chip (e.g. 17) or its name (e.g. \"GPIO17\")");
  }
  if (needs_line && ref.chip.empty())
    r.fail("chip", "missing: give the GPIO chip (\"gpiochip0\", \"/dev/gpiochip0\" or its label), here or for the whole board");
  return ref;
}

void read_name(JsonReader& r, std::string& name) {
  r.string("name", name, false);
  if (!r.has("name")) r.fail("name", "missing: the line's name, as `rigagent hal` and the events give it");
}

void read_input(JsonReader& r, InputSpec& in, const std::string& chip, bool linux_backend) {
  read_name(r, in.name);
  r.string("description", in.description);
  std::string role, severity, bias, debounce, release;
  r.choice("role", role, {"estop", "alarm"});
  if (role.empty() && !r.has("role")) r.fail("role", "missing: \"estop\" or \"alarm\"");
  in.role = role == "estop" ? InputRole::estop : InputRole::alarm;
  r.choice("severity", severity, {"info", "warning", "critical"});
  if (!severity.empty() && in.role != InputRole::alarm) r.fail("severity", "only alarm inputs have a severity");
  in.severity = from_name<Severity>(severity, {{"info", Severity::info}, {"critical", Severity::critical}}, Severity::warning);
  r.choice("release", release, {"resume", "manual"});
  if (!release.empty() && in.role != InputRole::estop) r.fail("release", "only e-stop inputs have a release policy");
  in.release = release == "manual" ? ReleasePolicy::manual : ReleasePolicy::resume;
  in.line = read_line(r, chip, linux_backend);
  r.boolean("active_low", in.active_low);
  r.choice("bias", bias, {"as-is", "disabled", "pull-up", "pull-down"});
  in.bias = from_name<Bias>(bias, {{"disabled", Bias::disabled}, {"pull-up", Bias::pull_up}, {"pull-down", Bias::pull_down}},
                            Bias::as_is);
  int64_t ms = 0;
  r.integer("debounce_ms", ms, 0, kMaxDebounceMs);
  in.debounce_ms = static_cast<uint32_t>(ms);
  r.choice("debounce", debounce, {"auto", "kernel", "software"});
  // E-stops lead by default: no added latency, and a press shorter than the window still counts.
  in.debounce = debounce.empty() ? (in.role == InputRole::estop ? DebounceMode::software : DebounceMode::automatic)
                                 : from_name<DebounceMode>(debounce, {{"kernel", DebounceMode::kernel}, {"software", DebounceMode::software}},
                                                           DebounceMode::automatic);
  if (const json* v = r.raw("sim_level")) {
    if (linux_backend) r.fail("sim_level", "only simulated boards (\"gpio\": \"sim\") have a starting level");
    else if (!v->is_number_integer() || (v->get<int64_t>() != 0 && v->get<int64_t>() != 1)) r.fail("sim_level", "must be 0 or 1");
    else in.sim_level = v->get<int>();
  }
  r.finish();
}

void read_output(JsonReader& r, OutputSpec& out, const std::string& chip, bool linux_backend) {
  read_name(r, out.name);
  r.string("description", out.description);
  std::string role;
  r.choice("role", role, {"estop-relay", "status-led"});
  if (role.empty() && !r.has("role")) r.fail("role", "missing: \"estop-relay\" or \"status-led\"");
  out.role = role == "estop-relay" ? OutputRole::estop_relay : OutputRole::status_led;
  out.line = read_line(r, chip, linux_backend);
  r.boolean("active_low", out.active_low);
  r.finish();
}

}  // namespace

std::string LineRef::text() const {
  std::string t = chip.empty() ? "line" : chip + " line";
  if (!name.empty()) return t + " '" + name + "'";
  if (offset) return t + " " + std::to_string(*offset);
  return t + " (unset)";
}

std::optional<size_t> Board::input_index(std::string_view n) const {
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].name == n) return i;
  return std::nullopt;
}

std::optional<size_t> Board::output_index(std::string_view n) const {
  for (size_t i = 0; i < outputs.size(); ++i)
    if (outputs[i].name == n) return i;
  return std::nullopt;
}

Expected<Board> parse_board(std::string_view text, std::string_view source) {
  auto parsed = parse_json_document(text, source);
  if (!parsed) return parsed.error();
  const json& doc = *parsed;
  if (!doc.is_object()) return make_error(std::string(source) + ": a board file is a JSON object");

  Board b;
  b.source = std::string(source);
  std::vector<std::string> errors;
  JsonReader top(&doc, "", errors);
  top.string("name", b.name, false);
  if (!top.has("name")) top.fail("name", "missing: the board's name, as `--board` takes it");
  else if (!b.name.empty() && !valid_name(b.name)) top.fail("name", "use letters, digits, '-', '_' or '.', at most 32");
  top.string("description", b.description);
  top.string("vendor", b.vendor);
  b.toolchain = "native";
  top.choice("toolchain", b.toolchain, {"native", "aarch64-linux-gnu", "arm-linux-gnueabihf"});
  std::string gpio;
  top.choice("gpio", gpio, {"sim", "linux"});
  if (!top.has("gpio")) top.fail("gpio", "missing: \"linux\" (GPIO character device) or \"sim\"");
  b.backend = gpio == "linux" ? Backend::linux_gpio : Backend::sim;
  const bool linux_backend = b.backend == Backend::linux_gpio;
  std::string chip;
  top.string("chip", chip, false);

  auto read_list = [&](const char* key, auto&& read_one, auto& out) {
    const json* list = top.raw(key);
    if (!list) return;
    if (!list->is_array()) return top.fail(key, std::string("expected an array of objects, got ") + json_type_name(*list));
    if (list->size() > kMaxLines) return top.fail(key, "at most " + std::to_string(kMaxLines) + " lines");
    for (size_t i = 0; i < list->size(); ++i) {
      const std::string path = std::string(key) + "[" + std::to_string(i) + "]";
      if (!(*list)[i].is_object()) {
        top.fail(path, std::string("expected an object, got ") + json_type_name((*list)[i]));
        continue;
      }
      JsonReader r(&(*list)[i], top.join(path), errors);
      out.emplace_back();
      read_one(r, out.back(), chip, linux_backend);
    }
  };
  read_list("inputs", read_input, b.inputs);
  read_list("outputs", read_output, b.outputs);
  top.finish();

  std::set<std::string> names;
  std::set<std::pair<std::string, std::string>> lines;
  auto check_unique = [&](const std::string& name, const LineRef& ref, const std::string& path) {
    if (!name.empty() && !valid_name(name)) errors.push_back(path + ".name: use letters, digits, '-', '_' or '.', at most 32");
    if (!name.empty() && !names.insert(name).second) errors.push_back(path + ".name: \"" + name + "\" is used twice");
    if (!linux_backend) return;
    const std::string where = ref.name.empty() ? (ref.offset ? std::to_string(*ref.offset) : "") : ref.name;
    if (!where.empty() && !lines.insert({ref.chip, where}).second)
      errors.push_back(path + ".line: " + ref.text() + " is used twice");
  };
  for (size_t i = 0; i < b.inputs.size(); ++i) check_unique(b.inputs[i].name, b.inputs[i].line, "inputs[" + std::to_string(i) + "]");
  for (size_t i = 0; i < b.outputs.size(); ++i) check_unique(b.outputs[i].name, b.outputs[i].line, "outputs[" + std::to_string(i) + "]");
  if (errors.empty() && std::none_of(b.inputs.begin(), b.inputs.end(), [](const InputSpec& in) { return in.role == InputRole::estop; }))
    errors.push_back("inputs: a board needs at least one input with \"role\": \"estop\"");

  if (auto ok = collected_errors(errors, source, "board file"); !ok) return ok.error();
  return b;
}

bool looks_like_board_path(std::string_view s) {
  return s.find('/') != std::string_view::npos || (s.size() > 5 && s.substr(s.size() - 5) == ".json");
}

Expected<Board> load_board(const std::string& name_or_path) {
  if (looks_like_board_path(name_or_path)) {
    auto text = read_text_file(name_or_path, 256 * 1024, "board file");
    if (!text) return text.error();
    return parse_board(*text, name_or_path);
  }
  std::string known;
  for (const auto& b : builtin_boards()) {
    if (name_or_path == b.name) return parse_board(b.text, std::string("built-in board ") + b.name + " (" + b.path + ")");
    known += (known.empty() ? "" : ", ") + std::string(b.name);
  }
  return make_error("unknown board '" + name_or_path + "' (built in: " + known +
                    "; or give the path to a board file; `rigagent boards` lists them)");
}

const char* to_string(Backend b) { return b == Backend::sim ? "sim" : "linux"; }
const char* to_string(Bias b) {
  switch (b) {
    case Bias::disabled: return "disabled";
    case Bias::pull_up: return "pull-up";
    case Bias::pull_down: return "pull-down";
    default: return "as-is";
  }
}
const char* to_string(InputRole r) { return r == InputRole::estop ? "estop" : "alarm"; }
const char* to_string(OutputRole r) { return r == OutputRole::estop_relay ? "estop-relay" : "status-led"; }
const char* to_string(Severity s) {
  switch (s) {
    case Severity::info: return "info";
    case Severity::critical: return "critical";
    default: return "warning";
  }
}
const char* to_string(DebounceMode m) {
  switch (m) {
    case DebounceMode::kernel: return "kernel";
    case DebounceMode::software: return "software";
    default: return "auto";
  }
}
const char* to_string(ReleasePolicy p) { return p == ReleasePolicy::manual ? "manual" : "resume"; }

}  // namespace rig::hal
