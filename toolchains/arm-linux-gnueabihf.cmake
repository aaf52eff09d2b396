# Cross build for 32-bit ARM Linux, hard float, ARMv7-A and later (Raspberry Pi 2/3/4 with a 32-bit
# OS; not Pi Zero/1, which are ARMv6) with Debian's cross compiler (crossbuild-essential-armhf;
# tools/setup-cross.sh installs it). Debian's armhf defaults apply: -march=armv7-a+fp, Thumb-2.
#   cmake --preset rpi3-armhf      (or: cmake -DCMAKE_TOOLCHAIN_FILE=toolchains/arm-linux-gnueabihf.cmake ...)
# The name of this file is what a board file's "toolchain" field says (boards/*/*/board.json).
set(RIGAGENT_TOOLCHAIN_TRIPLE arm-linux-gnueabihf)
# What `uname -m` says on such a board: .deps/armv7l/ holds this architecture's static libzmq.
set(RIGAGENT_TOOLCHAIN_PROCESSOR armv7l)
set(RIGAGENT_TOOLCHAIN_QEMU qemu-arm-static)
# A 64-bit time_t (and off_t): bookworm's armhf ABI still has a 32-bit one, which ends on
# 2038-01-19, inside a rig's service life. glibc >= 2.34 provides the 64-bit interfaces; the
# static libzmq and Mbed TLS are built with the same flags (their structures hold time_t).
# Debian trixie's armhf makes this the default.
set(CMAKE_C_FLAGS_INIT "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64")
set(CMAKE_CXX_FLAGS_INIT "-D_FILE_OFFSET_BITS=64 -D_TIME_BITS=64")
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
