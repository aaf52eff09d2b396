// `rigagent boards`: the boards this build carries (boards/**/board.json), and a checker for
// board files written for other hardware.
#include <cstdio>
#include <string>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "hal/board.hpp"

namespace rig::cli {
namespace {

const char* kBoardsHelp = R"(usage: rigagent boards                 list the built-in boards
       rigagent boards show NAME|FILE   a board's lines: role, chip and line, polarity, debounce
       rigagent boards show NAME --source   print the board file itself
       rigagent boards check FILE...    validate board files (exit 3 if one is invalid)

A board is data: one JSON file naming its GPIO chip, the e-stop and alarm lines with their
polarity, bias and debounce, its outputs, and the toolchain it builds with (docs/hal.md).
Use one with `rigagent run --board NAME|FILE` or "board" in the configuration.
)";

std::string debounce_text(const hal::InputSpec& in) {
  if (in.debounce_ms == 0) return "none";
  return std::to_string(in.debounce_ms) + " ms " + hal::to_string(in.debounce);
}

void show(const hal::Board& b) {
  std::printf("board %s: %s\n", b.name.c_str(), b.description.c_str());
  std::printf("  gpio backend %s, toolchain %s, from %s\n", hal::to_string(b.backend), b.toolchain.c_str(), b.source.c_str());
  std::printf("  %-14s %-3s %-18s %-32s %-7s %-10s %-16s %s\n", "LINE", "DIR", "ROLE", "WHERE", "ACTIVE", "BIAS",
              "DEBOUNCE", "ON RELEASE");
  for (const auto& in : b.inputs) {
    std::string role = hal::to_string(in.role);
    if (in.role == hal::InputRole::alarm) role += std::string(" (") + hal::to_string(in.severity) + ")";
    std::printf("  %-14s %-3s %-18s %-32s %-7s %-10s %-16s %s\n", in.name.c_str(), "in", role.c_str(),
                b.backend == hal::Backend::sim ? "sim" : in.line.text().c_str(), in.active_low ? "low" : "high",
                hal::to_string(in.bias), debounce_text(in).c_str(),
                in.role == hal::InputRole::estop ? hal::to_string(in.release) : "-");
  }
  for (const auto& out : b.outputs)
    std::printf("  %-14s %-3s %-18s %-32s %-7s\n", out.name.c_str(), "out", hal::to_string(out.role),
                b.backend == hal::Backend::sim ? "sim" : out.line.text().c_str(), out.active_low ? "low" : "high");
}

}  // namespace

int boards_main(int argc, char** argv, int first) {
  Args args(argc, argv, first);
  if (args.help_requested()) {
    std::fputs(kBoardsHelp, stdout);
    return exit_code::ok;
  }
  const bool source = args.flag("--source");
  auto pos = args.positionals();
  if (auto f = args.finish(); !f) {
    std::fprintf(stderr, "rigagent boards: %s\n(see rigagent boards --help)\n", f.error().message.c_str());
    return exit_code::usage;
  }
  if (pos.empty()) {
    std::printf("%-18s %-6s %-20s %s\n", "NAME", "GPIO", "TOOLCHAIN", "DESCRIPTION");
    for (const auto& bb : hal::builtin_boards()) {
      auto b = hal::parse_board(bb.text, bb.path);
      if (!b) {  // cannot happen for a build whose tests passed; say so rather than hide it
        std::printf("%-18s invalid: %s\n", bb.name, b.error().message.c_str());
        continue;
      }
      std::printf("%-18s %-6s %-20s %s\n", b->name.c_str(), hal::to_string(b->backend), b->toolchain.c_str(),
                  b->description.c_str());
    }
    return exit_code::ok;
  }
  if (pos[0] == "show" && pos.size() == 2) {
    if (source && !hal::looks_like_board_path(pos[1])) {
      for (const auto& bb : hal::builtin_boards())
        if (pos[1] == bb.name) return std::fputs(bb.text, stdout), exit_code::ok;
    }
    auto b = hal::load_board(pos[1]);
    if (!b) {
      std::fprintf(stderr, "rigagent: %s\n", b.error().message.c_str());
      return hal::looks_like_board_path(pos[1]) ? exit_code::config : exit_code::usage;
    }
    show(*b);
    return exit_code::ok;
  }
  if (pos[0] == "check" && pos.size() >= 2) {
    int rc = exit_code::ok;
    for (size_t i = 1; i < pos.size(); ++i) {
      auto b = hal::load_board(pos[i].find('/') == std::string::npos && !hal::looks_like_board_path(pos[i]) ? "./" + pos[i] : pos[i]);
      if (!b) {
        std::fprintf(stderr, "%s\n", b.error().message.c_str());
        rc = exit_code::config;
        continue;
      }
      std::printf("%s: ok (board %s, %zu inputs, %zu outputs)\n", pos[i].c_str(), b->name.c_str(), b->inputs.size(),
                  b->outputs.size());
    }
    return rc;
  }
  std::fprintf(stderr, "rigagent boards: expected nothing, `show NAME|FILE` or `check FILE...`\n(see rigagent boards --help)\n");
  return exit_code::usage;
}

}  // namespace rig::cli
