#include "platform/linux/linux_gpio.hpp"

#include <cstdlib>

#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "core/clock.hpp"
#include "hal/debouncer.hpp"
#include "platform/linux/gpio_chip.hpp"

namespace rig::hal {

namespace {

using namespace cdev;

// One line request per input, each its own fd watched on the io_context; edges go through a
// Debouncer: a real one for software debounce, a zero-window one otherwise (it still dedups and
// holds the reported value). Structure as in sim_gpio.cpp.
class LinuxGpio final : public Gpio {
 public:
  LinuxGpio(asio::io_context& io, Board board) : Gpio(std::move(board)), io_(io) {}
  Expected<void> open(std::optional<Uapi> forced);

  void start(EdgeHandler handler) override;
  void stop() override;
  Expected<InputState> input_state(size_t input) override;
  Expected<void> set_output(size_t output, bool active) override;
  bool output_active(size_t output) const override { return output < outputs_.size() && outputs_[output].active; }
  std::string describe_input(size_t input) const override;
  std::string describe_output(size_t output) const override;
  const char* backend_name() const override { return "linux"; }

 private:
  struct Input {
    LinePlace at;
    Uapi uapi = Uapi::v2;
    std::string debounce;  // for describe_input
    std::unique_ptr<asio::posix::stream_descriptor> stream;  // owns the request's fd
    std::unique_ptr<Debouncer> debouncer;
    std::unique_ptr<asio::steady_timer> timer;
    uint32_t last_seqno = 0;
    uint64_t edges = 0;
    bool watching = false;
    int failure = 0;  // errno of a failed read: the line is no longer watched
  };
  struct Output {
    LinePlace at;
    Uapi uapi = Uapi::v2;
    Fd fd;
    bool active = false;
  };

  Expected<void> open_input(ChipSet& chips, size_t i);
  Expected<void> open_output(ChipSet& chips, size_t i);
  void watch(size_t i);
  void on_readable(size_t i);
  void resync(size_t i);
  void arm(size_t i);
  void deliver(size_t i, const Transition& t, bool resync);
  // A completion may already be queued when stop() or the destructor runs: handlers hold this
  // token and the generation they were started in, and do nothing if either is gone.
  template <typename F>
  auto guarded(F f) {
    return [w = std::weak_ptr<int>(alive_), gen = generation_, f](const std::error_code& ec) {
      auto alive = w.lock();
      if (ec || !alive || *alive != gen) return;
      f();
    };
  }

  asio::io_context& io_;
  std::vector<Input> inputs_;
  std::vector<Output> outputs_;
  std::vector<RawEvent> events_;  // reused: no allocation per edge
  EdgeHandler handler_;
  bool started_ = false;
  bool stopped_ = false;
  int generation_ = 0;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // holds the current generation
};

Expected<void> LinuxGpio::open(std::optional<Uapi> forced) {
  // Chips are only needed while requesting: each line request holds its own reference to the
  // device, so the ChipSet (and its fds) go when open() returns.
  ChipSet chips(forced);
  for (size_t i = 0; i < board_.inputs.size(); ++i)
    if (auto r = open_input(chips, i); !r) return r;
  for (size_t i = 0; i < board_.outputs.size(); ++i)
    if (auto r = open_output(chips, i); !r) return r;
  return {};
}

Expected<void> LinuxGpio::open_input(ChipSet& chips, size_t i) {
  const InputSpec& spec = board_.inputs[i];
  Input in;
  in.at.who = who_for_input(board_, i);
  in.at.board_source = board_.source;
  auto chip = chips.get(spec.line.chip, in.at);
  if (!chip) return chip.error();
  auto offset = find_line(**chip, spec.line, in.at);
  if (!offset) return offset.error();
  in.uapi = (*chip)->uapi;

  // Kernel debounce trails (waits for the line to settle); software debounce leads (reports
  // at once). v1 has no kernel debounce: software stands in, and describe_input says so.
  const bool kernel = spec.debounce_ms > 0 && in.uapi == Uapi::v2 && spec.debounce != DebounceMode::software;
  const bool software = spec.debounce_ms > 0 && !kernel;
  const std::string ms = std::to_string(spec.debounce_ms) + " ms ";
  in.debounce = spec.debounce_ms == 0 ? "no debounce"
                : kernel              ? ms + "kernel debounce"
                                      : ms + "software (leading-edge) debounce";
  if (software && spec.debounce != DebounceMode::software) in.debounce += " (the v1 uAPI has no kernel debounce)";

  const InputRequest how{spec.active_low, spec.bias, kernel ? spec.debounce_ms * 1000 : 0};
  auto fd = request_input(**chip, *offset, how, in.at);
  if (!fd) return fd.error();
  // The level now is the starting state: an e-stop already pressed at startup must be seen.
  bool active = false;
  if (int err = get_value(in.uapi, fd->get(), active))
    return make_error(gpio_errno_message(GpioStep::get_value, err, in.at), err);
  const uint64_t window_ns = software ? uint64_t(spec.debounce_ms) * 1000000ull : 0;
  in.debouncer = std::make_unique<Debouncer>(Debouncer::Mode::leading, window_ns, active);
  in.timer = std::make_unique<asio::steady_timer>(io_);
  in.stream = std::make_unique<asio::posix::stream_descriptor>(io_);
  std::error_code ec;
  in.stream->assign(fd->get(), ec);
  if (ec) return make_error(in.at.who + ": cannot watch " + line_text(in.at) + " for edges: " + ec.message());
  fd->release();  // the stream closes it now
  inputs_.push_back(std::move(in));
  // Watched from now on so state stays current; edges are delivered once start() is called.
  watch(inputs_.size() - 1);
  return {};
}

Expected<void> LinuxGpio::open_output(ChipSet& chips, size_t i) {
  const OutputSpec& spec = board_.outputs[i];
  Output out;
  out.at.who = who_for_output(board_, i);
  out.at.board_source = board_.source;
  auto chip = chips.get(spec.line.chip, out.at);
  if (!chip) return chip.error();
  auto offset = find_line(**chip, spec.line, out.at);
  if (!offset) return offset.error();
  out.uapi = (*chip)->uapi;
  auto fd = request_output(**chip, *offset, spec.active_low, out.at);
  if (!fd) return fd.error();
  out.fd = std::move(*fd);
  outputs_.push_back(std::move(out));
  return {};
}

void LinuxGpio::start(EdgeHandler handler) {
  handler_ = std::move(handler);
  started_ = true;
  stopped_ = false;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (!inputs_[i].watching && !inputs_[i].failure) watch(i);
    arm(i);  // a debounce window cut short by stop() still ends
  }
}

void LinuxGpio::stop() {
  started_ = false;
  stopped_ = true;
  *alive_ = ++generation_;  // completions already queued are now stale
  for (auto& in : inputs_) {
    std::error_code ec;
    in.stream->cancel(ec);
    in.timer->cancel();
    in.watching = false;
  }
}

void LinuxGpio::watch(size_t i) {
  if (inputs_[i].watching) return;  // the edge handler may have stopped and restarted us
  inputs_[i].watching = true;
  inputs_[i].stream->async_wait(asio::posix::stream_descriptor::wait_read, guarded([this, i] { on_readable(i); }));
}

void LinuxGpio::on_readable(size_t i) {
  Input& in = inputs_[i];
  in.watching = false;
  events_.clear();
  const int err = read_events(in.uapi, in.stream->native_handle(), events_);
  bool lost = false;
  for (const RawEvent& e : events_) {
    // v2 numbers each line's events 1, 2, ...: a gap is an overflowed kernel queue.
    if (in.uapi == Uapi::v2) lost |= e.line_seqno != in.last_seqno + 1;
    in.last_seqno = e.line_seqno;
    if (auto t = in.debouncer->on_edge(e.active, e.timestamp_ns)) deliver(i, *t, false);
  }
  if (lost) resync(i);
  arm(i);
  // Re-watching a broken fd would spin (it stays readable); input_state() reports it instead.
  if (err) in.failure = err;
  else if (!stopped_) watch(i);
}

// After lost events the last edge seen may not be the line's level: read it and report a
// difference as a resync edge. (Inside a software lockout, the window's end reports it.)
void LinuxGpio::resync(size_t i) {
  Input& in = inputs_[i];
  bool active = false;
  if (get_value(in.uapi, in.stream->native_handle(), active) != 0) return;
  if (auto t = in.debouncer->on_edge(active, monotonic_ns())) deliver(i, *t, true);
}

void LinuxGpio::arm(size_t i) {
  Input& in = inputs_[i];
  const auto deadline = in.debouncer->deadline();
  if (!deadline || stopped_) return;
  const uint64_t now = monotonic_ns();
  in.timer->expires_after(std::chrono::nanoseconds(*deadline > now ? *deadline - now : 0));
  in.timer->async_wait(guarded([this, i] {
    if (auto t = inputs_[i].debouncer->on_timer(monotonic_ns())) deliver(i, *t, false);
    arm(i);
  }));
}

void LinuxGpio::deliver(size_t i, const Transition& t, bool resync) {
  ++inputs_[i].edges;
  if (started_ && handler_) handler_(Edge{i, t.active, t.timestamp_ns, resync});
}

Expected<InputState> LinuxGpio::input_state(size_t input) {
  if (input >= inputs_.size()) return make_error("no input number " + std::to_string(input));
  Input& in = inputs_[input];
  if (in.failure) return make_error(gpio_errno_message(GpioStep::read_events, in.failure, in.at), in.failure);
  bool active = false;
  if (int err = get_value(in.uapi, in.stream->native_handle(), active))
    return make_error(gpio_errno_message(GpioStep::get_value, err, in.at), err);
  const int level = active != board_.inputs[input].active_low ? 1 : 0;  // undo the kernel's active-low
  return InputState{in.debouncer->reported(), level, in.edges, in.debouncer->suppressed()};
}

Expected<void> LinuxGpio::set_output(size_t output, bool active) {
  if (output >= outputs_.size()) return make_error("no output number " + std::to_string(output));
  Output& out = outputs_[output];
  if (int err = set_value(out.uapi, out.fd.get(), active))
    return make_error(gpio_errno_message(GpioStep::set_value, err, out.at), err);
  out.active = active;
  return {};
}

std::string LinuxGpio::describe_input(size_t input) const {
  if (input >= inputs_.size()) return "no input number " + std::to_string(input);
  const Input& in = inputs_[input];
  const InputSpec& spec = board_.inputs[input];
  std::string d = place_text(in.at) + ", " + to_string(in.uapi) + " uAPI";
  if (spec.active_low) d += ", active-low";
  if (spec.bias != Bias::as_is) d += std::string(", bias ") + to_string(spec.bias);
  return d + ", " + in.debounce;
}

std::string LinuxGpio::describe_output(size_t output) const {
  if (output >= outputs_.size()) return "no output number " + std::to_string(output);
  const Output& out = outputs_[output];
  return place_text(out.at) + ", " + to_string(out.uapi) + " uAPI" + (board_.outputs[output].active_low ? ", active-low" : "");
}

}  // namespace

Expected<std::unique_ptr<Gpio>> open_linux_gpio(asio::io_context& io, const Board& board) {
  auto forced = uapi_from_env(std::getenv("RIGAGENT_GPIO_UAPI"));
  if (!forced) return make_error("board " + board.name + ": " + forced.error().message);
  auto gpio = std::make_unique<LinuxGpio>(io, board);
  // On failure the partly opened gpio goes here: its fds close, its waits are cancelled.
  if (auto r = gpio->open(*forced); !r) return r.error();
  return std::unique_ptr<Gpio>(std::move(gpio));
}

}  // namespace rig::hal
