#include "platform/linux/gpio_chip.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/gpio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "core/clock.hpp"

namespace rig::hal::cdev {

namespace {

constexpr char kConsumer[] = "rigagent";
constexpr size_t kNamesInMessages = 8;
// A bouncing contact makes tens of edges in a few ms; a deeper queue than the kernel's default
// (16 per line) makes an overflow, and so a resync, rarer when the io thread is busy.
constexpr uint32_t kEventQueue = 256;

// The kernel NUL-terminates these, but a 32-byte field is not trusted to be.
template <size_t N>
std::string field(const char (&s)[N]) { return std::string(s, strnlen(s, N)); }

template <size_t N>
void set_consumer(char (&dst)[N]) {
  static_assert(N >= sizeof kConsumer);
  std::memcpy(dst, kConsumer, sizeof kConsumer);
}

int ioctl_errno(int fd, unsigned long request, void* arg) {
  int r;
  do r = ::ioctl(fd, request, arg);
  while (r < 0 && errno == EINTR);
  return r < 0 ? errno : 0;
}

// 0, or the errno and the step that failed.
int open_chip(const std::string& path, std::optional<Uapi> forced, Chip& out, GpioStep& step) {
  step = GpioStep::open_chip;
  Fd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  step = GpioStep::chip_info;
  gpiochip_info info{};
  if (int err = ioctl_errno(fd.get(), GPIO_GET_CHIPINFO_IOCTL, &info)) return err;
  out.path = path;
  out.label = field(info.label);
  out.lines = info.lines;
  out.uapi = forced.value_or(Uapi::v2);
  if (!forced && info.lines > 0) {
    // The kernel answers an ioctl it does not know with ENOTTY (or EINVAL on some 5.x
    // backports): no v2 on this chip, so use v1.
    gpio_v2_line_info li{};
    const int err = ioctl_errno(fd.get(), GPIO_V2_GET_LINEINFO_IOCTL, &li);
    if (err == ENOTTY || err == EINVAL) out.uapi = Uapi::v1;
  }
  out.fd = std::move(fd);
  return 0;
}

std::vector<std::string> chip_paths() {
  std::vector<std::pair<unsigned long, std::string>> found;
  if (DIR* d = ::opendir("/dev")) {
    while (const dirent* e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n.size() > 8 && n.rfind("gpiochip", 0) == 0 &&
          std::all_of(n.begin() + 8, n.end(), [](char c) { return c >= '0' && c <= '9'; }))
        found.emplace_back(std::stoul(n.substr(8)), "/dev/" + n);
    }
    ::closedir(d);
  }
  std::sort(found.begin(), found.end());  // gpiochip10 after gpiochip9
  std::vector<std::string> paths;
  for (auto& f : found) paths.push_back(std::move(f.second));
  return paths;
}

uint64_t bias_v2(Bias b) {
  switch (b) {
    case Bias::as_is: return 0;
    case Bias::disabled: return GPIO_V2_LINE_FLAG_BIAS_DISABLED;
    case Bias::pull_up: return GPIO_V2_LINE_FLAG_BIAS_PULL_UP;
    case Bias::pull_down: return GPIO_V2_LINE_FLAG_BIAS_PULL_DOWN;
  }
  return 0;
}

uint32_t bias_v1(Bias b) {
  switch (b) {
    case Bias::as_is: return 0;
    case Bias::disabled: return GPIOHANDLE_REQUEST_BIAS_DISABLE;
    case Bias::pull_up: return GPIOHANDLE_REQUEST_BIAS_PULL_UP;
    case Bias::pull_down: return GPIOHANDLE_REQUEST_BIAS_PULL_DOWN;
  }
  return 0;
}

// A failed request: EBUSY is only useful with the holder's name, which line info has.
Error request_error(const Chip& chip, uint32_t offset, int err, RequestAsked asked, const LinePlace& at) {
  LineInfo info;
  if (err == EBUSY) read_line_info(chip, offset, info);
  return make_error(gpio_errno_message(GpioStep::request, err, at, info.consumer, asked), err);
}

}  // namespace

const char* to_string(Uapi u) { return u == Uapi::v1 ? "v1" : "v2"; }

Expected<std::optional<Uapi>> uapi_from_env(const char* value) {
  const std::string v = value ? value : "";
  if (v.empty()) return std::optional<Uapi>();
  if (v == "v1") return std::optional<Uapi>(Uapi::v1);
  if (v == "v2") return std::optional<Uapi>(Uapi::v2);
  return make_error("RIGAGENT_GPIO_UAPI='" + v + "': expected \"v1\" or \"v2\" (or unset: v2 where the kernel has it)");
}

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string> chip_path_of(const std::string& chip) {
  // Any absolute path is a path (a udev symlink, say): no chip label starts with '/'.
  if (!chip.empty() && chip[0] == '/') return chip;
  if (chip.size() > 8 && chip.rfind("gpiochip", 0) == 0 &&
      std::all_of(chip.begin() + 8, chip.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return "/dev/" + chip;
  return std::nullopt;
}

std::vector<ChipSummary> list_chips() {
  std::vector<ChipSummary> out;
  for (const auto& path : chip_paths()) {
    Chip c;
    GpioStep step;
    const int err = open_chip(path, Uapi::v2, c, step);  // v2 "forced": a listing needs no uAPI probe
    out.push_back(ChipSummary{path, c.label, c.lines, err});
  }
  return out;
}

Expected<const Chip*> ChipSet::keep(Chip chip, LinePlace& at) {
  chips_.push_back(std::make_unique<Chip>(std::move(chip)));
  const Chip* c = chips_.back().get();
  at.chip_path = c->path;
  at.chip_label = c->label;
  at.chip_lines = c->lines;
  return c;
}

Expected<const Chip*> ChipSet::get(const std::string& chip, LinePlace& at) {
  const auto path = chip_path_of(chip);
  for (const auto& c : chips_) {
    if (path ? c->path == *path : c->label == chip) {
      at.chip_path = c->path;
      at.chip_label = c->label;
      at.chip_lines = c->lines;
      return static_cast<const Chip*>(c.get());
    }
  }
  GpioStep step;
  if (path) {
    at.chip_path = *path;
    Chip c;
    const int err = open_chip(*path, forced_, c, step);
    if (err == ENOENT) return make_error(missing_chip_message(at, list_chips()), err);
    if (err) return make_error(gpio_errno_message(step, err, at), err);
    return keep(std::move(c), at);
  }
  // A label: scan every chip, keeping the first that carries it.
  std::vector<ChipSummary> seen;
  for (const auto& p : chip_paths()) {
    Chip c;
    const int err = open_chip(p, forced_, c, step);
    if (!err && c.label == chip) return keep(std::move(c), at);
    seen.push_back(ChipSummary{p, c.label, c.lines, err});
  }
  return make_error(unknown_label_message(at, chip, seen), ENOENT);
}

int read_line_info(const Chip& chip, uint32_t offset, LineInfo& out) {
  if (chip.uapi == Uapi::v2) {
    gpio_v2_line_info li{};  // zeroed: the kernel rejects nonzero padding
    li.offset = offset;
    if (int err = ioctl_errno(chip.fd.get(), GPIO_V2_GET_LINEINFO_IOCTL, &li)) return err;
    out = LineInfo{field(li.name), field(li.consumer)};
  } else {
    gpioline_info li{};
    li.line_offset = offset;
    if (int err = ioctl_errno(chip.fd.get(), GPIO_GET_LINEINFO_IOCTL, &li)) return err;
    out = LineInfo{field(li.name), field(li.consumer)};
  }
  return 0;
}

Expected<uint32_t> find_line(const Chip& chip, const LineRef& ref, LinePlace& at) {
  if (ref.offset) {
    if (*ref.offset >= chip.lines) return make_error(offset_out_of_range_message(at, *ref.offset), ERANGE);
    at.offset = *ref.offset;
    LineInfo info;
    if (read_line_info(chip, *ref.offset, info) == 0) at.line_name = info.name;  // only for messages
    return *ref.offset;
  }
  std::vector<std::string> some;
  for (uint32_t o = 0; o < chip.lines; ++o) {
    LineInfo info;
    if (int err = read_line_info(chip, o, info)) {
      at.offset = o;
      return make_error(gpio_errno_message(GpioStep::line_info, err, at), err);
    }
    if (info.name == ref.name) {
      at.offset = o;
      at.line_name = info.name;
      return o;
    }
    if (!info.name.empty() && some.size() < kNamesInMessages) some.push_back(info.name);
  }
  return make_error(unknown_line_name_message(at, ref.name, some), ENOENT);
}

Expected<Fd> request_input(const Chip& chip, uint32_t offset, const InputRequest& how, const LinePlace& at) {
  int fd = -1;
  if (chip.uapi == Uapi::v2) {
    gpio_v2_line_request req{};
    req.offsets[0] = offset;
    req.num_lines = 1;
    req.event_buffer_size = kEventQueue;
    set_consumer(req.consumer);
    req.config.flags = GPIO_V2_LINE_FLAG_INPUT | GPIO_V2_LINE_FLAG_EDGE_RISING | GPIO_V2_LINE_FLAG_EDGE_FALLING |
                       (how.active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0) | bias_v2(how.bias);
    if (how.debounce_us) {
      req.config.num_attrs = 1;
      req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE;
      req.config.attrs[0].attr.debounce_period_us = how.debounce_us;
      req.config.attrs[0].mask = 1;  // bit 0: the request's first (only) line
    }
    if (int err = ioctl_errno(chip.fd.get(), GPIO_V2_GET_LINE_IOCTL, &req))
      return request_error(chip, offset, err, {how.bias, how.debounce_us}, at);
    fd = req.fd;
  } else {
    gpioevent_request req{};
    req.lineoffset = offset;
    req.handleflags = GPIOHANDLE_REQUEST_INPUT | (how.active_low ? GPIOHANDLE_REQUEST_ACTIVE_LOW : 0) | bias_v1(how.bias);
    req.eventflags = GPIOEVENT_REQUEST_BOTH_EDGES;
    set_consumer(req.consumer_label);
    if (int err = ioctl_errno(chip.fd.get(), GPIO_GET_LINEEVENT_IOCTL, &req))
      return request_error(chip, offset, err, {how.bias, 0}, at);
    fd = req.fd;
  }
  Fd owned(fd);
  // Non-blocking, so that reading until EAGAIN drains the queue without ever stalling the io thread.
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return make_error(gpio_errno_message(GpioStep::request, errno, at), errno);
  return owned;
}

Expected<Fd> request_output(const Chip& chip, uint32_t offset, bool active_low, const LinePlace& at) {
  if (chip.uapi == Uapi::v2) {
    gpio_v2_line_request req{};
    req.offsets[0] = offset;
    req.num_lines = 1;
    set_consumer(req.consumer);
    req.config.flags = GPIO_V2_LINE_FLAG_OUTPUT | (active_low ? GPIO_V2_LINE_FLAG_ACTIVE_LOW : 0);
    // Explicitly inactive from the first instant: a relay must not click on at startup.
    req.config.num_attrs = 1;
    req.config.attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES;
    req.config.attrs[0].attr.values = 0;
    req.config.attrs[0].mask = 1;
    if (int err = ioctl_errno(chip.fd.get(), GPIO_V2_GET_LINE_IOCTL, &req)) return request_error(chip, offset, err, {}, at);
    return Fd(req.fd);
  }
  gpiohandle_request req{};
  req.lineoffsets[0] = offset;
  req.lines = 1;
  req.flags = GPIOHANDLE_REQUEST_OUTPUT | (active_low ? GPIOHANDLE_REQUEST_ACTIVE_LOW : 0);
  req.default_values[0] = 0;
  set_consumer(req.consumer_label);
  if (int err = ioctl_errno(chip.fd.get(), GPIO_GET_LINEHANDLE_IOCTL, &req)) return request_error(chip, offset, err, {}, at);
  return Fd(req.fd);
}

int get_value(Uapi uapi, int fd, bool& active) {
  if (uapi == Uapi::v2) {
    gpio_v2_line_values v{};
    v.mask = 1;
    if (int err = ioctl_errno(fd, GPIO_V2_LINE_GET_VALUES_IOCTL, &v)) return err;
    active = (v.bits & 1) != 0;
  } else {
    gpiohandle_data d{};  // v1 event fds answer this too
    if (int err = ioctl_errno(fd, GPIOHANDLE_GET_LINE_VALUES_IOCTL, &d)) return err;
    active = d.values[0] != 0;
  }
  return 0;
}

int set_value(Uapi uapi, int fd, bool active) {
  if (uapi == Uapi::v2) {
    gpio_v2_line_values v{};
    v.mask = 1;
    v.bits = active ? 1 : 0;
    return ioctl_errno(fd, GPIO_V2_LINE_SET_VALUES_IOCTL, &v);
  }
  gpiohandle_data d{};
  d.values[0] = active ? 1 : 0;
  return ioctl_errno(fd, GPIOHANDLE_SET_LINE_VALUES_IOCTL, &d);
}

int read_events(Uapi uapi, int fd, std::vector<RawEvent>& out) {
  // Reads whole records only: the kernel rejects a read shorter than one.
  constexpr size_t kBatch = 16;
  for (;;) {
    ssize_t n;
    int err;
    if (uapi == Uapi::v2) {
      gpio_v2_line_event ev[kBatch];
      n = ::read(fd, ev, sizeof ev);
      err = n < 0 ? errno : 0;
      for (ssize_t i = 0; n > 0 && i < n / ssize_t(sizeof ev[0]); ++i)
        out.push_back(RawEvent{ev[i].id == GPIO_V2_LINE_EVENT_RISING_EDGE, ev[i].timestamp_ns, ev[i].line_seqno});
      if (n >= 0 && size_t(n) < sizeof ev) return 0;  // a short read: nothing more queued
    } else {
      gpioevent_data ev[kBatch];
      n = ::read(fd, ev, sizeof ev);
      err = n < 0 ? errno : 0;
      // v1 stamps with CLOCK_REALTIME on older kernels and CLOCK_MONOTONIC since 5.7: our own
      // read time is the one clock that is the same on every kernel.
      const uint64_t now = monotonic_ns();
      for (ssize_t i = 0; n > 0 && i < n / ssize_t(sizeof ev[0]); ++i)
        out.push_back(RawEvent{ev[i].id == GPIOEVENT_EVENT_RISING_EDGE, now, 0});
      if (n >= 0 && size_t(n) < sizeof ev) return 0;
    }
    if (n < 0 && err != EINTR) return err == EAGAIN ? 0 : err;
  }
}

}  // namespace rig::hal::cdev
