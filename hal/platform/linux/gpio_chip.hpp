// The GPIO character device's uAPI (<linux/gpio.h>), v2 with a fallback to v1, behind a few
// calls: find a chip (path, "gpiochipN" or label), find a line (offset or name), request it,
// read and set values, read edge events. Failures come back as messages (gpio_errors.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/expected.hpp"
#include "hal/board.hpp"
#include "platform/linux/gpio_errors.hpp"

namespace rig::hal::cdev {

// v2: Linux 5.10+ (bias, kernel debounce, monotonic edge stamps, sequence numbers). v1: older
// kernels such as Jetson's 4.9.
enum class Uapi { v1, v2 };
const char* to_string(Uapi u);

// RIGAGENT_GPIO_UAPI: unset or empty: v2 where the kernel has it, else v1 (per chip). "v1"
// forces v1 everywhere, to exercise the fallback path on a v2 kernel (the QEMU system test);
// "v2" forces v2 (no fallback). Anything else is an error rather than silently ignored.
Expected<std::optional<Uapi>> uapi_from_env(const char* value);

// Owns a file descriptor: closed when it goes, so a failed open leaks nothing.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd();
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_ = -1;
};

struct Chip {
  std::string path;
  std::string label;
  uint32_t lines = 0;
  Uapi uapi = Uapi::v2;
  Fd fd;
};

// "/dev/..." as is, "gpiochipN" as "/dev/gpiochipN"; nullopt: anything else, a chip label.
std::optional<std::string> chip_path_of(const std::string& chip);
// Every /dev/gpiochip* with its label and size (or why it could not be read), in number order.
std::vector<ChipSummary> list_chips();

// The chips a board uses, each opened once however many lines use it. get() fills in `at`'s
// chip path, label and size, so later messages name the chip.
class ChipSet {
 public:
  explicit ChipSet(std::optional<Uapi> forced) : forced_(forced) {}
  Expected<const Chip*> get(const std::string& chip, LinePlace& at);

 private:
  Expected<const Chip*> keep(Chip chip, LinePlace& at);
  std::optional<Uapi> forced_;
  std::vector<std::unique_ptr<Chip>> chips_;
};

struct LineInfo {
  std::string name;
  std::string consumer;  // who holds it, if anyone
};
int read_line_info(const Chip& chip, uint32_t offset, LineInfo& out);  // 0 or errno

// The line's offset on its chip: the offset checked, or the name looked up in line info.
// Fills in at.offset and at.line_name.
Expected<uint32_t> find_line(const Chip& chip, const LineRef& ref, LinePlace& at);

struct InputRequest {
  bool active_low = false;
  Bias bias = Bias::as_is;
  uint32_t debounce_us = 0;  // kernel debounce (v2 only); 0: none
};
// An input with both edges, non-blocking (so reading drains the queue), or an output that
// starts inactive. Consumer "rigagent", as gpioinfo shows it.
Expected<Fd> request_input(const Chip& chip, uint32_t offset, const InputRequest& how, const LinePlace& at);
Expected<Fd> request_output(const Chip& chip, uint32_t offset, bool active_low, const LinePlace& at);

// Logical values (active-low applied by the kernel); 0 or errno.
int get_value(Uapi uapi, int fd, bool& active);
int set_value(Uapi uapi, int fd, bool active);

struct RawEvent {
  bool active;            // the edge, in logical terms: rising = became active
  uint64_t timestamp_ns;  // CLOCK_MONOTONIC
  uint32_t line_seqno;    // v2: 1, 2, ... per line, a gap means lost events; v1: 0
};
// Appends every pending event; 0 once the queue is drained, else errno.
int read_events(Uapi uapi, int fd, std::vector<RawEvent>& out);

}  // namespace rig::hal::cdev
