#include "platform/sim/sim_gpio.hpp"

#include "core/clock.hpp"

namespace rig::hal {

namespace {
// An idle input sits at its inactive level: high for active-low lines (a pull-up), low otherwise.
int idle_level(const InputSpec& in) { return in.active_low ? 1 : 0; }
bool logical(const InputSpec& in, int level) { return (level != 0) != in.active_low; }
}  // namespace

SimGpio::SimGpio(asio::io_context& io, Board board) : Gpio(std::move(board)), io_(io) {
  lines_.resize(board_.inputs.size());
  for (size_t i = 0; i < board_.inputs.size(); ++i) {
    const auto& in = board_.inputs[i];
    Line& l = lines_[i];
    l.level = in.sim_level.value_or(idle_level(in));
    // The sim emulates what the Linux backend does on a v2 kernel: "automatic" and "kernel"
    // debounce trail, "software" leads.
    const auto mode = in.debounce == DebounceMode::software ? Debouncer::Mode::leading : Debouncer::Mode::trailing;
    l.debouncer = std::make_unique<Debouncer>(mode, uint64_t(in.debounce_ms) * 1000000ull, logical(in, l.level));
    l.timer = std::make_unique<asio::steady_timer>(io_);
  }
  outputs_.assign(board_.outputs.size(), false);
}

void SimGpio::start(EdgeHandler handler, FaultHandler) {  // a simulated line never faults
  handler_ = std::move(handler);
  started_ = true;
}

void SimGpio::stop() {
  started_ = false;
  for (auto& l : lines_) l.timer->cancel();
}

Expected<InputState> SimGpio::input_state(size_t input) {
  if (input >= lines_.size()) return make_error("no input number " + std::to_string(input));
  const Line& l = lines_[input];
  return InputState{l.debouncer->reported(), l.level, l.edges, l.debouncer->suppressed()};
}

Expected<void> SimGpio::set_output(size_t output, bool active) {
  if (output >= outputs_.size()) return make_error("no output number " + std::to_string(output));
  outputs_[output] = active;
  return {};
}

bool SimGpio::output_active(size_t output) const { return output < outputs_.size() && outputs_[output]; }

std::string SimGpio::describe_input(size_t input) const {
  const auto& in = board_.inputs.at(input);
  std::string d = "sim line '" + in.name + "'" + (in.active_low ? ", active-low" : "");
  if (in.debounce_ms)
    d += ", " + std::to_string(in.debounce_ms) + " ms " +
         (in.debounce == DebounceMode::software ? "software (leading-edge)" : "kernel-style (trailing)") + " debounce";
  return d;
}

std::string SimGpio::describe_output(size_t output) const {
  const auto& out = board_.outputs.at(output);
  return "sim line '" + out.name + "'" + (out.active_low ? ", active-low" : "");
}

Expected<void> SimGpio::drive(size_t input, int level) {
  if (input >= lines_.size()) return make_error("no input number " + std::to_string(input));
  if (level != 0 && level != 1) return make_error("a level is 0 or 1");
  Line& l = lines_[input];
  if (level == l.level) return {};
  l.level = level;
  const uint64_t now = monotonic_ns();
  if (auto t = l.debouncer->catch_up(now)) deliver(input, t->active, t->timestamp_ns);
  if (auto t = l.debouncer->on_edge(logical(board_.inputs[input], level), now)) deliver(input, t->active, t->timestamp_ns);
  arm(input);
  return {};
}

void SimGpio::arm(size_t input) {
  Line& l = lines_[input];
  auto deadline = l.debouncer->deadline();
  if (!deadline) return;
  const uint64_t now = monotonic_ns();
  l.timer->expires_after(std::chrono::nanoseconds(*deadline > now ? *deadline - now : 0));
  l.timer->async_wait([this, input](const std::error_code& ec) {
    if (ec) return;  // re-armed or cancelled
    Line& line = lines_[input];
    if (auto t = line.debouncer->on_timer(monotonic_ns())) deliver(input, t->active, t->timestamp_ns);
    arm(input);
  });
}

void SimGpio::deliver(size_t input, bool active, uint64_t ts, bool resync) {
  ++lines_[input].edges;
  if (started_ && handler_) handler_(Edge{input, active, ts, resync});
}

}  // namespace rig::hal
