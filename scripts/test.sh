#!/usr/bin/env bash
# scripts/test.sh [--full]: installs what normkit needs (Debian packages),
# builds it, and runs its tests, stopping with a non-zero status at the first
# failure.
#
# The fast tier (the README's test command; about 10 minutes of tests on two
# cores): the Release build (build/) and every CTest test not labelled
# "full": the C++ suites (the kernels on every SIMD path the CPU has, in one
# process; modules, engine, io, lab), the Python tests with PyTorch parity,
# MPI (SyncBN, data-parallel training and its checkpoints), the CLI, the
# installed package, `pip install .` into a virtual environment, and a lab
# smoke of two experiments.
#
# --full adds:
#   1. the tests labelled "full": every quick lab experiment on a slice of
#      the data;
#   2. the whole suite built with AddressSanitizer and UndefinedBehaviorSanitizer
#      (build-sanitize/; any report fails its test);
#   3. the libFuzzer harnesses, 20 s each (scripts/fuzz.sh; longer by hand);
#   4. the kernels' tests built for aarch64 and run under qemu
#      (scripts/test-aarch64.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
full=0
for arg in "$@"; do
  case "$arg" in
    --full) full=1 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/test.sh: unknown argument '$arg' (expected --full)" >&2; exit 2 ;;
  esac
done

# Seconds since `since`, for the summary.
elapsed() { echo $(( $(date +%s) - $1 )); }

./scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
start=$(date +%s)
ctest --test-dir build --output-on-failure -j"$(nproc)" -LE full
fast=$(elapsed "$start")
echo "scripts/test.sh: the fast tier's tests passed in ${fast} s"
[ "$full" -eq 1 ] || exit 0

start=$(date +%s)
ctest --test-dir build --output-on-failure -j"$(nproc)" -L full
echo "scripts/test.sh: the full lab smoke passed in $(elapsed "$start") s"

# -O1 with line tables: reports name the source line, and the build stays short.
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" \
  -DNORMKIT_SANITIZE=ON -DNORMKIT_BENCH=OFF
cmake --build build-sanitize -j"$(nproc)"
start=$(date +%s)
ctest --test-dir build-sanitize --output-on-failure -j"$(nproc)"
echo "scripts/test.sh: the sanitized suite passed in $(elapsed "$start") s"

./scripts/fuzz.sh 20
./scripts/test-aarch64.sh
echo "scripts/test.sh --full: every tier passed (the fast tier's tests: ${fast} s)"
