# Cross build for 64-bit ARM with Debian's g++-aarch64-linux-gnu, the
# programs run under qemu-user (qemu-user-static):
#   cmake -S . -B build-aarch64 --toolchain cmake/aarch64-linux-gnu.cmake -DNORMKIT_KERNELS_ONLY=ON
# (scripts/test-aarch64.sh). Only the portable SIMD path is compiled there.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# CTest and gtest_discover_tests run the test programs through qemu.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64-static -L /usr/aarch64-linux-gnu)
