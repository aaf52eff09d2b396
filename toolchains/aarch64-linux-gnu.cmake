# Cross build for 64-bit ARM Linux (Raspberry Pi 4/5 with a 64-bit OS, Jetson Orin, QEMU virt)
# with Debian's cross compiler (crossbuild-essential-arm64; tools/setup-cross.sh installs it).
#   cmake --preset rpi4            (or: cmake -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake ...)
# The name of this file is what a board file's "toolchain" field says (boards/*/*/board.json).
set(RIGAGENT_TOOLCHAIN_TRIPLE aarch64-linux-gnu)
set(RIGAGENT_TOOLCHAIN_PROCESSOR aarch64)
set(RIGAGENT_TOOLCHAIN_QEMU qemu-aarch64-static)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
