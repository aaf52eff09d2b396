// A small argument reader for the subcommands: `--name value`, `--name=value`, flags, and
// positionals, with an error for anything it was not asked about.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/expected.hpp"

namespace rig::cli {

// Process exit codes, documented in the README and `rigagent --help`.
namespace exit_code {
constexpr int ok = 0;
constexpr int failure = 1;     // the operation ran and failed (e.g. a command was refused)
constexpr int usage = 2;       // bad command line
constexpr int config = 3;      // configuration or board file invalid
constexpr int startup = 4;     // could not start (a port in use, an unwritable socket path)
constexpr int timeout = 5;     // no answer in time
}  // namespace exit_code

class Args {
 public:
  Args(int argc, char** argv, int first);

  bool flag(const std::string& name);
  std::optional<std::string> value(const std::string& name);
  std::vector<std::string> values(const std::string& name);  // repeatable option
  // Positionals left once every option the command knows has been taken.
  std::vector<std::string> positionals();
  // An error if an option was given that nobody asked for, or an option lacks its value.
  Expected<void> finish() const;
  bool help_requested();

 private:
  std::vector<std::string> args_;
  std::vector<bool> used_;
  std::vector<std::string> errors_;
};

std::optional<int64_t> parse_int(const std::string& text);
std::optional<double> parse_double(const std::string& text);

}  // namespace rig::cli
