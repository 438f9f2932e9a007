#!/usr/bin/env bash
# The portable path where there is no x86: builds normkit::kernels and its
# tests with Debian's aarch64 cross compiler (cmake/aarch64-linux-gnu.cmake,
# NORMKIT_KERNELS_ONLY: no oneDNN, zlib, JSON, MPI or Python) in
# build-aarch64/, and runs them under qemu-user. Installs
# g++-aarch64-linux-gnu and qemu-user-static when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/apt-ensure.sh g++-aarch64-linux-gnu qemu-user-static libgtest-dev
cmake -S . -B build-aarch64 --toolchain cmake/aarch64-linux-gnu.cmake -DCMAKE_BUILD_TYPE=Release \
  -DNORMKIT_KERNELS_ONLY=ON
cmake --build build-aarch64 -j"$(nproc)"
file build-aarch64/tests/normkit_kernel_tests
ctest --test-dir build-aarch64 --output-on-failure -j"$(nproc)"
