// The agent's side of the HAL: opens the board's GPIO, turns debounced edges into e-stop and
// alarm callbacks, drives the e-stop relay and status LED, and answers `rigagent hal` requests.
// Lives on the io thread; the Agent calls in through post().
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <asio/steady_timer.hpp>

#include "core/expected.hpp"
#include "core/io_thread.hpp"
#include "hal/gpio.hpp"
#include "hw/control_server.hpp"

namespace rig::hw {

class Hardware {
 public:
  // On the io thread. `at_startup` marks the state found when the lines were requested.
  using LineHandler = std::function<void(const hal::InputSpec&, const hal::Edge&, bool at_startup)>;
  struct Handlers {
    LineHandler on_estop;
    LineHandler on_alarm;
    std::function<void(const hal::InputSpec&, const std::string& message)> on_fault;  // a line lost
  };

  Hardware(IoThread& io, hal::Board board, std::string control_socket);
  ~Hardware();

  // Requests the lines and binds the control socket; before the io thread runs.
  Expected<void> open();
  // Reports inputs already active, then watches for edges; before the io thread runs.
  void start(Handlers handlers);
  // On the io thread, or once it has stopped.
  void stop();

  // Any thread: the e-stop relay outputs follow the latch (posted, in call order).
  void show_emergency(bool latched);

  const hal::Board& board() const { return board_; }
  hal::Gpio* gpio() { return gpio_.get(); }
  // The `get` reply for one line or all (io thread).
  nlohmann::ordered_json lines_json(const std::string& line);

 private:
  void on_edge(const hal::Edge& edge);
  void handle(const ControlRequest& request, ControlServer::Reply reply);
  void set_role_outputs(hal::OutputRole role, bool active);
  std::vector<std::shared_ptr<asio::steady_timer>> pulses_;  // cancelled by stop()

  IoThread& io_;
  hal::Board board_;
  std::string control_path_;
  std::unique_ptr<hal::Gpio> gpio_;
  std::unique_ptr<ControlServer> control_;
  Handlers handlers_;
};

}  // namespace rig::hw
