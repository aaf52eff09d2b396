// parse_board() on arbitrary text (hal/board.hpp): never throws, never crashes; an accepted board
// holds the validator's promises (a valid name, at least one e-stop input, unique non-empty line
// names, debounce within range, a chip and a line for every Linux line, no Linux line twice, a
// severity only on alarms and a release policy only on e-stops), and the board written back as
// JSON, every field explicit, parses to the same board.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_check.hpp"
#include "hal/board.hpp"

namespace {

using namespace rig::hal;
using json = nlohmann::ordered_json;

bool valid_name(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
      return false;
  return true;
}

void put_line(json& j, const LineRef& l) {
  if (!l.chip.empty()) j["chip"] = l.chip;
  if (!l.name.empty()) j["line"] = l.name;
  else if (l.offset) j["line"] = *l.offset;
}

// The board as a board file with every field spelled out (no board-wide chip: each line has its own).
json to_json(const Board& b) {
  json j{{"name", b.name}, {"description", b.description}, {"vendor", b.vendor},
         {"toolchain", b.toolchain}, {"gpio", to_string(b.backend)}};
  json inputs = json::array();
  for (const auto& in : b.inputs) {
    json i{{"name", in.name}, {"description", in.description}, {"role", to_string(in.role)}};
    if (in.role == InputRole::alarm) i["severity"] = to_string(in.severity);
    if (in.role == InputRole::estop) i["release"] = to_string(in.release);
    put_line(i, in.line);
    i["active_low"] = in.active_low;
    i["bias"] = to_string(in.bias);
    i["debounce_ms"] = in.debounce_ms;
    i["debounce"] = to_string(in.debounce);
    inputs.push_back(std::move(i));
  }
  j["inputs"] = std::move(inputs);
  json outputs = json::array();
  for (const auto& out : b.outputs) {
    json o{{"name", out.name}, {"description", out.description}, {"role", to_string(out.role)}};
    put_line(o, out.line);
    o["active_low"] = out.active_low;
    outputs.push_back(std::move(o));
  }
  j["outputs"] = std::move(outputs);
  return j;
}

bool same_line(const LineRef& a, const LineRef& b) { return a.chip == b.chip && a.offset == b.offset && a.name == b.name; }

void check_equal(const Board& a, const Board& b) {
  FUZZ_CHECK(a.name == b.name && a.description == b.description && a.vendor == b.vendor);
  FUZZ_CHECK(a.toolchain == b.toolchain && a.backend == b.backend);
  FUZZ_CHECK(a.inputs.size() == b.inputs.size() && a.outputs.size() == b.outputs.size());
  for (size_t i = 0; i < a.inputs.size(); ++i) {
    const InputSpec &x = a.inputs[i], &y = b.inputs[i];
    FUZZ_CHECK(x.name == y.name && x.description == y.description && x.role == y.role);
    FUZZ_CHECK(x.severity == y.severity && x.release == y.release && same_line(x.line, y.line));
    FUZZ_CHECK(x.active_low == y.active_low && x.bias == y.bias);
    FUZZ_CHECK(x.debounce_ms == y.debounce_ms && x.debounce == y.debounce);
  }
  for (size_t i = 0; i < a.outputs.size(); ++i) {
    const OutputSpec &x = a.outputs[i], &y = b.outputs[i];
    FUZZ_CHECK(x.name == y.name && x.description == y.description && x.role == y.role);
    FUZZ_CHECK(same_line(x.line, y.line) && x.active_low == y.active_low);
  }
}

void check_line(const Board& b, const LineRef& l, std::set<std::pair<std::string, std::string>>& used) {
  FUZZ_CHECK(!l.text().empty());
  if (l.offset) FUZZ_CHECK(*l.offset <= 1023);
  FUZZ_CHECK(!(l.offset && !l.name.empty()));
  if (b.backend != Backend::linux_gpio) return;
  FUZZ_CHECK(!l.chip.empty());
  FUZZ_CHECK(l.offset || !l.name.empty());
  const std::string where = l.name.empty() ? std::to_string(*l.offset) : l.name;
  FUZZ_CHECK(used.insert({l.chip, where}).second);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::as_text(data, size);
  auto parsed = parse_board(text, "fuzz.json");
  if (!parsed) {
    FUZZ_CHECK(parsed.error().message.rfind("fuzz.json: ", 0) == 0);
    FUZZ_CHECK(parsed.error().message.size() > 11);
    return 0;
  }
  const Board& b = *parsed;

  FUZZ_CHECK(b.source == "fuzz.json");
  FUZZ_CHECK(valid_name(b.name));
  FUZZ_CHECK(b.toolchain == "native" || b.toolchain == "aarch64-linux-gnu" || b.toolchain == "arm-linux-gnueabihf");
  FUZZ_CHECK(b.inputs.size() <= 64 && b.outputs.size() <= 64);

  size_t estops = 0;
  std::set<std::string> names;
  std::set<std::pair<std::string, std::string>> used;
  for (size_t i = 0; i < b.inputs.size(); ++i) {
    const InputSpec& in = b.inputs[i];
    FUZZ_CHECK(valid_name(in.name));
    FUZZ_CHECK(names.insert(in.name).second);
    FUZZ_CHECK(b.input_index(in.name) == i);
    FUZZ_CHECK(!b.output_index(in.name));
    FUZZ_CHECK(in.debounce_ms <= 1000);
    if (in.role == InputRole::estop) {
      ++estops;
      FUZZ_CHECK(in.severity == Severity::warning);  // the default: e-stops have no severity
    } else {
      FUZZ_CHECK(in.release == ReleasePolicy::resume);  // the default: alarms have no release policy
    }
    check_line(b, in.line, used);
  }
  FUZZ_CHECK(estops >= 1);
  for (size_t i = 0; i < b.outputs.size(); ++i) {
    const OutputSpec& out = b.outputs[i];
    FUZZ_CHECK(valid_name(out.name));
    FUZZ_CHECK(names.insert(out.name).second);
    FUZZ_CHECK(b.output_index(out.name) == i);
    FUZZ_CHECK(!b.input_index(out.name));
    check_line(b, out.line, used);
  }

  // Round trip: written back with every field explicit, the board reads back the same.
  std::string dumped;
  try {
    dumped = to_json(b).dump(2);
  } catch (const nlohmann::json::exception& e) {
    std::fprintf(stderr, "the board does not serialise: %s\n", e.what());
    std::abort();
  }
  auto again = parse_board(dumped, "round-trip");
  if (!again) {
    std::fprintf(stderr, "round trip rejected:\n%s\n%s\n", dumped.c_str(), again.error().message.c_str());
    std::abort();
  }
  check_equal(b, *again);
  return 0;
}
