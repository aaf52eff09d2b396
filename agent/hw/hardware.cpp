#include "hw/hardware.hpp"

#include <asio/steady_timer.hpp>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "platform/sim/sim_gpio.hpp"

namespace rig::hw {

using json = nlohmann::ordered_json;

Hardware::Hardware(IoThread& io, hal::Board board, std::string control_socket)
    : io_(io), board_(std::move(board)), control_path_(std::move(control_socket)) {}

Hardware::~Hardware() { stop(); }

Expected<void> Hardware::open() {
  auto gpio = hal::open_gpio(io_.context(), board_);
  if (!gpio) return gpio.error();
  gpio_ = std::move(*gpio);
  if (!control_path_.empty()) {
    control_ = std::make_unique<ControlServer>(io_.context(), control_path_,
                                               [this](const ControlRequest& r, ControlServer::Reply reply) { handle(r, std::move(reply)); });
    if (auto ok = control_->open(); !ok) {
      control_.reset();
      return ok.error();
    }
  }
  return {};
}

void Hardware::start(Handlers handlers) {
  handlers_ = std::move(handlers);
  // Never lose a press that happened before we looked: an input already active is reported now.
  for (size_t i = 0; i < board_.inputs.size(); ++i) {
    auto s = gpio_->input_state(i);
    if (s && s->active) {
      const auto& in = board_.inputs[i];
      auto& h = in.role == hal::InputRole::estop ? handlers_.on_estop : handlers_.on_alarm;
      if (h) h(in, hal::Edge{i, true, monotonic_ns(), false}, true);
    }
  }
  gpio_->start([this](const hal::Edge& e) { on_edge(e); },
               [this](const hal::LineFault& f) {
                 if (handlers_.on_fault) handlers_.on_fault(board_.inputs.at(f.input), f.message);
               });
  if (control_) control_->start();
  set_role_outputs(hal::OutputRole::status_led, true);
}

void Hardware::stop() {
  for (auto& t : pulses_) t->cancel();  // their clients get "pulse cancelled"
  pulses_.clear();
  if (control_) control_->close();
  if (gpio_) {
    set_role_outputs(hal::OutputRole::status_led, false);
    gpio_->stop();
  }
}

void Hardware::on_edge(const hal::Edge& e) {
  const auto& in = board_.inputs.at(e.input);
  auto& h = in.role == hal::InputRole::estop ? handlers_.on_estop : handlers_.on_alarm;
  if (h) h(in, e, false);
}

void Hardware::show_emergency(bool latched) {
  io_.post([this, latched] { set_role_outputs(hal::OutputRole::estop_relay, latched); });
}

void Hardware::set_role_outputs(hal::OutputRole role, bool active) {
  if (!gpio_) return;
  for (size_t i = 0; i < board_.outputs.size(); ++i) {
    if (board_.outputs[i].role != role) continue;
    if (auto ok = gpio_->set_output(i, active); !ok)
      log::error("hal", "output '" + board_.outputs[i].name + "': " + ok.error().message);
  }
}

json Hardware::lines_json(const std::string& line) {
  json inputs = json::array(), outputs = json::array();
  for (size_t i = 0; i < board_.inputs.size(); ++i) {
    const auto& in = board_.inputs[i];
    if (!line.empty() && in.name != line) continue;
    json j{{"name", in.name}, {"direction", "input"}, {"role", hal::to_string(in.role)}};
    if (in.role == hal::InputRole::alarm) j["severity"] = hal::to_string(in.severity);
    j["activeLow"] = in.active_low;
    if (auto s = gpio_->input_state(i)) {
      j["level"] = s->level;
      j["active"] = s->active;
      j["edges"] = s->edges;
      j["bounces"] = s->bounces;
    } else {
      j["error"] = s.error().message;
    }
    j["where"] = gpio_->describe_input(i);
    j["description"] = in.description;
    inputs.push_back(std::move(j));
  }
  for (size_t i = 0; i < board_.outputs.size(); ++i) {
    const auto& out = board_.outputs[i];
    if (!line.empty() && out.name != line) continue;
    outputs.push_back(json{{"name", out.name},
                           {"direction", "output"},
                           {"role", hal::to_string(out.role)},
                           {"activeLow", out.active_low},
                           {"active", gpio_->output_active(i)},
                           {"where", gpio_->describe_output(i)},
                           {"description", out.description}});
  }
  return json{{"ok", true}, {"board", board_.name}, {"backend", gpio_->backend_name()}, {"inputs", inputs}, {"outputs", outputs}};
}

void Hardware::handle(const ControlRequest& r, ControlServer::Reply reply) {
  auto names = [this] {
    std::string s;
    for (const auto& in : board_.inputs) s += (s.empty() ? "" : ", ") + in.name;
    for (const auto& out : board_.outputs) s += (s.empty() ? "" : ", ") + out.name;
    return s;
  };
  const auto input = board_.input_index(r.line);
  if (!r.line.empty() && !input && !board_.output_index(r.line))
    return reply(control_error("board " + board_.name + " has no line '" + r.line + "' (lines: " + names() + ")"));
  // Line names and descriptions may come from the kernel: never let bad UTF-8 throw.
  auto text = [](const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); };
  if (r.op == ControlRequest::Op::get) return reply(text(lines_json(r.line)));

  auto* sim = dynamic_cast<hal::SimGpio*>(gpio_.get());
  if (!sim)
    return reply(control_error("board " + board_.name + " has real GPIO lines: only the simulated board's inputs can be set or pulsed"));
  if (!input)
    return reply(control_error("'" + r.line + "' is an output: the agent drives it (`rigagent hal get` shows it)"));
  const auto& spec = board_.inputs[*input];
  const int active_level = spec.active_low ? 0 : 1;
  const size_t index = *input;
  if (r.op == ControlRequest::Op::set) {
    if (auto ok = sim->drive(index, r.level); !ok) return reply(control_error(ok.error().message));
    return reply(text(lines_json(r.line)));
  }
  // pulse: active for `ms`, then inactive, answered when the line is back.
  if (auto ok = sim->drive(index, active_level); !ok) return reply(control_error(ok.error().message));
  auto timer = std::make_shared<asio::steady_timer>(io_.context(), std::chrono::milliseconds(r.ms));
  pulses_.push_back(timer);
  timer->async_wait([this, timer, sim, index, active_level, line = r.line, reply](const std::error_code& ec) {
    if (ec) return reply(control_error("pulse cancelled: the agent is stopping"));
    std::erase(pulses_, timer);
    (void)sim->drive(index, 1 - active_level);
    reply(lines_json(line).dump(-1, ' ', false, json::error_handler_t::replace));
  });
}

}  // namespace rig::hw
