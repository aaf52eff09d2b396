#include "hw/control_protocol.hpp"

namespace rig::hw {

using json = nlohmann::ordered_json;

Expected<ControlRequest> parse_control_request(std::string_view text) {
  if (text.size() > kMaxControlLine) return make_error("request longer than " + std::to_string(kMaxControlLine) + " bytes");
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::exception&) {
    return make_error("not a JSON object");
  }
  if (!j.is_object()) return make_error("not a JSON object");
  ControlRequest r;
  auto op = j.find("op");
  if (op == j.end() || !op->is_string()) return make_error("missing \"op\" (get, set or pulse)");
  const auto& name = op->get_ref<const std::string&>();
  if (name == "get") r.op = ControlRequest::Op::get;
  else if (name == "set") r.op = ControlRequest::Op::set;
  else if (name == "pulse") r.op = ControlRequest::Op::pulse;
  else return make_error("unknown op (get, set or pulse)");
  if (auto l = j.find("line"); l != j.end()) {
    if (!l->is_string() || l->get_ref<const std::string&>().empty() || l->get_ref<const std::string&>().size() > 64)
      return make_error("\"line\" must be a line name");
    r.line = l->get<std::string>();
  }
  if (r.op != ControlRequest::Op::get && r.line.empty()) return make_error("\"line\" is missing");
  if (r.op == ControlRequest::Op::set) {
    auto v = j.find("level");
    if (v == j.end() || !v->is_number_integer() || (v->get<int64_t>() != 0 && v->get<int64_t>() != 1))
      return make_error("\"level\" must be 0 or 1");
    r.level = v->get<int>();
  }
  if (r.op == ControlRequest::Op::pulse) {
    auto v = j.find("ms");
    if (v == j.end() || !v->is_number_integer() || v->get<int64_t>() < 1 || v->get<int64_t>() > kMaxPulseMs)
      return make_error("\"ms\" must be an integer from 1 to " + std::to_string(kMaxPulseMs));
    r.ms = v->get<int64_t>();
  }
  return r;
}

std::string encode_control_request(const ControlRequest& r) {
  json j;
  j["op"] = r.op == ControlRequest::Op::get ? "get" : r.op == ControlRequest::Op::set ? "set" : "pulse";
  if (!r.line.empty()) j["line"] = r.line;
  if (r.op == ControlRequest::Op::set) j["level"] = r.level;
  if (r.op == ControlRequest::Op::pulse) j["ms"] = r.ms;
  return j.dump() + "\n";
}

std::string control_error(const std::string& message) {
  return json{{"ok", false}, {"error", message}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace rig::hw
