#!/usr/bin/env bash
# Installs what normkit needs (Debian packages), builds it, and runs every
# test, three ways, stopping with a non-zero status at the first failure:
#   1. the Release build (build/): the C++ suite, the CLI, the lab, the Python
#      tests with PyTorch parity, MPI, the installed package, `pip install .`
#      into a virtual environment, all through CTest;
#   2. the same suite built with AddressSanitizer and UndefinedBehaviorSanitizer
#      (build-sanitize/; any report fails its test);
#   3. the libFuzzer harnesses, 20 s each (scripts/fuzz.sh; longer by hand).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"

# -O1 with line tables: reports name the source line, and the build stays short.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DNORMKIT_SANITIZE=ON -DNORMKIT_BENCH=OFF
cmake --build build-sanitize -j"$(nproc)"
ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)"

./scripts/fuzz.sh 20
