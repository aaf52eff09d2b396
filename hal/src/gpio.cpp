#include "hal/gpio.hpp"

#include "platform/linux/linux_gpio.hpp"
#include "platform/sim/sim_gpio.hpp"

namespace rig::hal {

Expected<std::unique_ptr<Gpio>> open_gpio(asio::io_context& io, const Board& board) {
  switch (board.backend) {
    case Backend::sim: return std::unique_ptr<Gpio>(std::make_unique<SimGpio>(io, board));
    case Backend::linux_gpio: return open_linux_gpio(io, board);
  }
  return make_error("unknown GPIO backend");
}

}  // namespace rig::hal
