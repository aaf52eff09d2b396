#include "platform/linux/linux_gpio.hpp"

#include <cstdlib>

#include <asio/post.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include "core/clock.hpp"
#include "hal/debouncer.hpp"
#include "platform/linux/gpio_chip.hpp"
#include "platform/linux/line_events.hpp"

namespace rig::hal {

namespace {

using namespace cdev;

// One line request per input, each its own fd watched on the io_context; what its events mean
// (debounce, lost events, a failed line) is LineEvents' business (line_events.hpp), tested
// without hardware. Its Debouncer is a real one for software debounce, a zero-window one
// otherwise (it still dedups and holds the reported value). Structure as in sim_gpio.cpp.
class LinuxGpio final : public Gpio {
 public:
  LinuxGpio(asio::io_context& io, Board board) : Gpio(std::move(board)), io_(io) {}
  Expected<void> open(std::optional<Uapi> forced);

  void start(EdgeHandler on_edge, FaultHandler on_fault) override;
  void stop() override;
  Expected<InputState> input_state(size_t input) override;
  Expected<void> set_output(size_t output, bool active) override;
  bool output_active(size_t output) const override { return output < outputs_.size() && outputs_[output].active; }
  std::string describe_input(size_t input) const override;
  std::string describe_output(size_t output) const override;
  const char* backend_name() const override { return "linux"; }

 private:
  struct Input {
    std::string debounce;  // for describe_input
    std::unique_ptr<asio::posix::stream_descriptor> stream;  // owns the request's fd
    std::unique_ptr<LineEvents> events;
    std::unique_ptr<asio::steady_timer> timer;
    uint64_t edges = 0;
    bool watching = false;
    bool fault_reported = false;  // a failed line is reported once, at start() if it failed before
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
  void on_readable(size_t i, const std::error_code& ec);
  void drain(size_t i);  // reads what the fd holds and delivers what it means
  void on_deadline(size_t i);
  void arm(size_t i);
  void deliver(size_t i);  // what update_ holds, then re-arms or, for a failed line, stops
  void report_fault(size_t i);
  // A completion may already be queued when stop() or the destructor runs: handlers hold this
  // token and the generation they were started in, and do nothing if either is gone, or if they
  // were cancelled. Any other error goes to the handler: a failed wait is a line to report.
  template <typename F>
  auto guarded(F f) {
    return [w = std::weak_ptr<int>(alive_), gen = generation_, f](const std::error_code& ec) {
      auto alive = w.lock();
      if (!alive || *alive != gen || ec == asio::error::operation_aborted) return;
      f(ec);
    };
  }

  asio::io_context& io_;
  std::vector<Input> inputs_;
  std::vector<Output> outputs_;
  std::vector<RawEvent> events_;  // reused: no allocation per edge
  LineUpdate update_;             // likewise
  EdgeHandler on_edge_;
  FaultHandler on_fault_;
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
  LinePlace at;
  at.who = who_for_input(board_, i);
  at.board_source = board_.source;
  auto chip = chips.get(spec.line.chip, at);
  if (!chip) return chip.error();
  auto offset = find_line(**chip, spec.line, at);
  if (!offset) return offset.error();
  const Uapi uapi = (*chip)->uapi;

  const DebouncePlan plan = plan_debounce(spec, uapi);
  in.debounce = plan.text;
  const InputRequest how{spec.active_low, spec.bias, plan.kernel_us};
  auto fd = request_input(**chip, *offset, how, at);
  if (!fd) return fd.error();
  // The level now is the starting state: an e-stop already pressed at startup must be seen.
  bool active = false;
  if (int err = get_value(uapi, fd->get(), active))
    return make_error(gpio_errno_message(GpioStep::get_value, err, at), err);
  in.timer = std::make_unique<asio::steady_timer>(io_);
  in.stream = std::make_unique<asio::posix::stream_descriptor>(io_);
  std::error_code ec;
  in.stream->assign(fd->get(), ec);
  if (ec) return make_error(at.who + ": cannot watch " + line_text(at) + " for edges: " + ec.message());
  in.events = std::make_unique<LineEvents>(uapi, std::move(at), plan.mode, plan.window_ns, active);
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

void LinuxGpio::start(EdgeHandler on_edge, FaultHandler on_fault) {
  on_edge_ = std::move(on_edge);
  on_fault_ = std::move(on_fault);
  started_ = true;
  stopped_ = false;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    if (inputs_[i].events->failed()) {
      report_fault(i);  // it failed before start(): reported now
      continue;
    }
    if (!inputs_[i].watching) {
      watch(i);
      // Edges that came while stopped made the fd readable with nobody waiting, and a wait only
      // wakes on the next change: read them now (posted: handlers never run inside start()).
      asio::post(io_, [g = guarded([this, i](const std::error_code&) { drain(i); })] { g(std::error_code()); });
    }
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
  if (inputs_[i].watching || inputs_[i].events->failed()) return;  // the edge handler may have restarted us
  inputs_[i].watching = true;
  inputs_[i].stream->async_wait(asio::posix::stream_descriptor::wait_read,
                                guarded([this, i](const std::error_code& ec) { on_readable(i, ec); }));
}

// Reads the line's logical level through its request fd: 0 or errno.
auto level_reader(LineEvents& line, int fd) {
  return [&line, fd](bool& active) { return get_value(line.uapi(), fd, active); };
}

void LinuxGpio::on_readable(size_t i, const std::error_code& ec) {
  inputs_[i].watching = false;
  if (!ec) return drain(i);
  update_.clear();
  inputs_[i].events->on_wait_error(ec, update_);
  deliver(i);
}

void LinuxGpio::drain(size_t i) {
  Input& in = inputs_[i];
  update_.clear();
  events_.clear();
  const int fd = in.stream->native_handle();
  const int err = read_events(in.events->uapi(), fd, events_);
  in.events->on_events(events_, err, level_reader(*in.events, fd), monotonic_ns(), update_);
  deliver(i);
}

void LinuxGpio::on_deadline(size_t i) {
  Input& in = inputs_[i];
  update_.clear();
  events_.clear();
  const int fd = in.stream->native_handle();
  const int err = read_events(in.events->uapi(), fd, events_);
  in.events->on_deadline(events_, err, level_reader(*in.events, fd), monotonic_ns(), update_);
  deliver(i);
}

void LinuxGpio::deliver(size_t i) {
  // A handler may call stop(), start() or input_state(): none of them touches update_.
  for (const LineReport& r : update_.reports) {
    ++inputs_[i].edges;
    if (started_ && on_edge_) on_edge_(Edge{i, r.transition.active, r.transition.timestamp_ns, r.resync});
  }
  if (update_.fault) {
    // Re-watching a broken fd would spin (it stays readable): the line is reported and dropped.
    Input& in = inputs_[i];
    std::error_code ignored;
    in.stream->cancel(ignored);
    in.watching = false;
    in.timer->cancel();
    report_fault(i);
    return;
  }
  arm(i);
  if (!stopped_) watch(i);
}

void LinuxGpio::report_fault(size_t i) {
  Input& in = inputs_[i];
  if (in.fault_reported || !started_ || !on_fault_) return;  // before start(): start() reports it
  in.fault_reported = true;
  on_fault_(LineFault{i, in.events->fault()});
}

void LinuxGpio::arm(size_t i) {
  Input& in = inputs_[i];
  const auto deadline = in.events->debouncer().deadline();
  if (!deadline || stopped_ || in.events->failed()) return;
  const uint64_t now = monotonic_ns();
  in.timer->expires_after(std::chrono::nanoseconds(*deadline > now ? *deadline - now : 0));
  in.timer->async_wait(guarded([this, i](const std::error_code& ec) {
    if (!ec) on_deadline(i);  // a timer fails only by being cancelled
  }));
}

Expected<InputState> LinuxGpio::input_state(size_t input) {
  if (input >= inputs_.size()) return make_error("no input number " + std::to_string(input));
  Input& in = inputs_[input];
  const LineEvents& line = *in.events;
  if (line.failed()) return make_error(line.fault());
  bool active = false;
  if (int err = get_value(line.uapi(), in.stream->native_handle(), active))
    return make_error(gpio_errno_message(GpioStep::get_value, err, line.at()), err);
  const int level = active != board_.inputs[input].active_low ? 1 : 0;  // undo the kernel's active-low
  return InputState{line.debouncer().reported(), level, in.edges, line.debouncer().suppressed()};
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
  std::string d = place_text(in.events->at()) + ", " + to_string(in.events->uapi()) + " uAPI";
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
