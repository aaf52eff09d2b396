# Shared part of the Debian cross toolchain files (aarch64-linux-gnu.cmake, arm-linux-gnueabihf.cmake):
# they set RIGAGENT_TOOLCHAIN_TRIPLE, _PROCESSOR and _QEMU, then include this.
#
# Libraries: Debian's multiarch layout. A target library installed with `apt-get install
# libfoo-dev:arm64` lives in /usr/lib/<triple>/, which find_library searches because
# CMAKE_LIBRARY_ARCHITECTURE is the triple; the host's /usr/lib/x86_64-linux-gnu/ is not searched.
# Headers: the host's /usr/include (the header-only dependencies are architecture independent;
# the compiler itself looks in /usr/<triple>/include and /usr/include/<triple> first).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${RIGAGENT_TOOLCHAIN_PROCESSOR})
set(CMAKE_LIBRARY_ARCHITECTURE ${RIGAGENT_TOOLCHAIN_TRIPLE})

set(CMAKE_C_COMPILER ${RIGAGENT_TOOLCHAIN_TRIPLE}-gcc)
set(CMAKE_CXX_COMPILER ${RIGAGENT_TOOLCHAIN_TRIPLE}-g++)
# strip, nm, objcopy of the target's binutils (CMake finds them next to the compiler as well; set
# here so that CMAKE_STRIP is right even before the compiler is probed).
find_program(CMAKE_STRIP ${RIGAGENT_TOOLCHAIN_TRIPLE}-strip)
find_program(CMAKE_NM ${RIGAGENT_TOOLCHAIN_TRIPLE}-nm)

# Programs (python3, serf, the emulator) are the host's; libraries and packages the target's.
set(CMAKE_FIND_ROOT_PATH /usr/${RIGAGENT_TOOLCHAIN_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# CTest runs the cross-built tests under user-mode emulation (qemu-user-static). Only tests whose
# COMMAND is a target name go through it; scripts that start rigagent (Python tests) do not.
# The tests are dynamically linked (Debian ships CMocka as a shared library only): qemu-user
# runs them with the multiarch loader and libraries that tools/setup-cross.sh installs
# (libc6, libstdc++6, libcmocka0 for the target architecture). Not with `-L /usr/<triple>`:
# that loader with the multiarch libc (another build of glibc) hangs threaded programs.
# The static release binary needs none of it.
find_program(RIGAGENT_QEMU_USER ${RIGAGENT_TOOLCHAIN_QEMU})
if(RIGAGENT_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${RIGAGENT_QEMU_USER})
endif()
