// The simulated board: every input is a level held in memory that `drive()` changes, debounced
// exactly as the Linux backend would (software, or the kernel's trailing debounce emulated), and
// outputs that remember what they were set to. The whole test suite runs on it.
#pragma once

#include <memory>
#include <vector>

#include <asio/steady_timer.hpp>

#include "hal/debouncer.hpp"
#include "hal/gpio.hpp"

namespace rig::hal {

class SimGpio final : public Gpio {
 public:
  SimGpio(asio::io_context& io, Board board);

  void start(EdgeHandler handler, FaultHandler on_fault) override;
  void stop() override;
  Expected<InputState> input_state(size_t input) override;
  Expected<void> set_output(size_t output, bool active) override;
  bool output_active(size_t output) const override;
  std::string describe_input(size_t input) const override;
  std::string describe_output(size_t output) const override;
  const char* backend_name() const override { return "sim"; }

  // Sets an input's physical level (0 or 1), as a wire would; on the io thread.
  Expected<void> drive(size_t input, int level);

 private:
  struct Line {
    int level = 0;
    std::unique_ptr<Debouncer> debouncer;
    std::unique_ptr<asio::steady_timer> timer;
    uint64_t edges = 0;
  };
  void arm(size_t input);
  void deliver(size_t input, bool active, uint64_t ts, bool resync = false);

  asio::io_context& io_;
  std::vector<Line> lines_;
  std::vector<bool> outputs_;
  EdgeHandler handler_;
  bool started_ = false;
};

}  // namespace rig::hal
