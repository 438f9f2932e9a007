#!/usr/bin/env bash
# Installs what normkit needs (Debian packages), builds it, and runs every
# test: the C++ suite, the CLI demo and the Python tests (with PyTorch parity),
# all through CTest. Exits non-zero when anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
