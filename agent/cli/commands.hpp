// The subcommands of the rigagent binary; each returns a process exit code (cli/args.hpp).
#pragma once

namespace rig::cli {

int run_main(int argc, char** argv, int first);
int console_main(int argc, char** argv, int first);
int sim_app_main(int argc, char** argv, int first);
int print_config_main(int argc, char** argv, int first);
int hal_main(int argc, char** argv, int first);
int boards_main(int argc, char** argv, int first);
int laneswap_main(int argc, char** argv, int first);
int serf_main(int argc, char** argv, int first);

}  // namespace rig::cli
