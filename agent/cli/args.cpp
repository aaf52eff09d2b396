#include "cli/args.hpp"

#include <cctype>
#include <cerrno>
#include <cstdlib>

namespace rig::cli {

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) args_.emplace_back(argv[i]);
  used_.assign(args_.size(), false);
}

bool Args::flag(const std::string& name) {
  bool found = false;
  for (size_t i = 0; i < args_.size(); ++i)
    if (!used_[i] && args_[i] == name) used_[i] = true, found = true;
  return found;
}

std::vector<std::string> Args::values(const std::string& name) {
  std::vector<std::string> out;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (args_[i] == name) {
      used_[i] = true;
      if (i + 1 < args_.size()) {
        used_[i + 1] = true;
        out.push_back(args_[++i]);
      } else {
        errors_.push_back(name + " needs a value");
      }
    } else if (args_[i].rfind(name + "=", 0) == 0) {
      used_[i] = true;
      out.push_back(args_[i].substr(name.size() + 1));
    }
  }
  return out;
}

std::optional<std::string> Args::value(const std::string& name) {
  auto v = values(name);
  if (v.empty()) return std::nullopt;
  if (v.size() > 1) errors_.push_back(name + " given more than once");
  return v.back();
}

bool Args::help_requested() { return flag("--help") || flag("-h"); }

std::vector<std::string> Args::positionals() {
  std::vector<std::string> out;
  bool rest = false;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (!rest && args_[i] == "--") {
      used_[i] = true;
      rest = true;
      continue;
    }
    // A lone "-" and negative numbers are values, not options.
    const std::string& a = args_[i];
    const bool looks_like_option = a.size() > 1 && a[0] == '-' && !(std::isdigit(static_cast<unsigned char>(a[1])));
    if (rest || !looks_like_option) {
      used_[i] = true;
      out.push_back(a);
    }
  }
  return out;
}

Expected<void> Args::finish() const {
  if (!errors_.empty()) return make_error(errors_.front());
  for (size_t i = 0; i < args_.size(); ++i)
    if (!used_[i]) return make_error("unknown option '" + args_[i] + "'");
  return {};
}

std::optional<int64_t> parse_int(const std::string& t) {
  if (t.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  long long v = std::strtoll(t.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

std::optional<double> parse_double(const std::string& t) {
  if (t.empty()) return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(t.c_str(), &end);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return v;
}

}  // namespace rig::cli
