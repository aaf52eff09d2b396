// The narrow hardware interface (ArduPilot's AP_HAL in spirit): the board's digital inputs, with
// debounced edges and timestamps, and its outputs. Backends: platform/linux (GPIO character
// device) and platform/sim (in-process, driven by `rigagent hal`). Everything runs on one
// asio::io_context thread: no locks inside the HAL.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <asio/io_context.hpp>

#include "core/expected.hpp"
#include "hal/board.hpp"

namespace rig::hal {

// A debounced transition of one input, in logical terms (active = asserted, after active_low).
struct Edge {
  size_t input = 0;           // index into Board::inputs
  bool active = false;
  uint64_t timestamp_ns = 0;  // CLOCK_MONOTONIC: when the line changed (the kernel's stamp where it has one)
  bool resync = false;        // not seen as an edge: found by reading the line after lost events
};

struct InputState {
  bool active = false;  // debounced logical value: what the agent has been told
  int level = 0;        // physical level now (0 or 1), read from the line
  uint64_t edges = 0;   // debounced transitions reported
  uint64_t bounces = 0; // raw edges suppressed as bounce
};

// An input that can no longer be watched (its device went away, a read failed). The agent
// treats a lost e-stop line as pressed: it fails safe.
struct LineFault {
  size_t input = 0;
  std::string message;
};

class Gpio {
 public:
  using EdgeHandler = std::function<void(const Edge&)>;
  using FaultHandler = std::function<void(const LineFault&)>;
  virtual ~Gpio() = default;

  // Starts watching the inputs; edges and faults arrive on the io_context's thread. Before
  // start(), input_state() already holds the levels read when the lines were requested.
  virtual void start(EdgeHandler on_edge, FaultHandler on_fault) = 0;
  // Cancels everything pending; call from the io thread, or once it has stopped.
  virtual void stop() = 0;

  virtual Expected<InputState> input_state(size_t input) = 0;
  virtual Expected<void> set_output(size_t output, bool active) = 0;
  virtual bool output_active(size_t output) const = 0;

  // For messages and `rigagent hal get`: where the line is and how it is debounced.
  virtual std::string describe_input(size_t input) const = 0;
  virtual std::string describe_output(size_t output) const = 0;
  virtual const char* backend_name() const = 0;

  const Board& board() const { return board_; }

 protected:
  explicit Gpio(Board board) : board_(std::move(board)) {}
  Board board_;
};

// Requests every line of the board; the error names the device and what to do about it.
// Call on the thread that will run `io` (or before it runs).
Expected<std::unique_ptr<Gpio>> open_gpio(asio::io_context& io, const Board& board);

}  // namespace rig::hal
