// The Linux GPIO character device backend (/dev/gpiochipN), written against the kernel uAPI
// directly: the v2 uAPI (5.10+: bias, kernel debounce, edge timestamps, sequence numbers) with a
// fallback to v1 for older kernels (Jetson's 4.9). See hal/README.md for why not libgpiod 1.6.
#pragma once

#include <memory>

#include "hal/gpio.hpp"

namespace rig::hal {

Expected<std::unique_ptr<Gpio>> open_linux_gpio(asio::io_context& io, const Board& board);

}  // namespace rig::hal
