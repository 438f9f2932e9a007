#!/usr/bin/env bash
# Builds the libFuzzer harnesses of fuzz/ with clang-14 (AddressSanitizer and
# UBSan on, the library instrumented for coverage) in build-fuzz/, replays every
# input in fuzz/regressions/ (each once crashed a harness), then fuzzes each
# harness for SECONDS seconds (default 20; CI runs the default, run longer by
# hand: scripts/fuzz.sh 3600), starting from the seed corpus in fuzz/corpus/.
# A finding stops the script with a non-zero status; its input is saved as
# build-fuzz/findings/<harness>-crash-<hash> (add it to fuzz/regressions/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-20}"
harnesses=(safetensors idx functional checkpoint module listed)

CXX=clang++-14 cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" -DNORMKIT_FUZZ=ON \
  -DNORMKIT_PYTHON=OFF -DNORMKIT_TESTS=OFF -DNORMKIT_BENCH=OFF -DNORMKIT_MPI=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${harnesses[@]/%/_fuzzer}"

mkdir -p build-fuzz/findings
for h in "${harnesses[@]}"; do
  fuzzer="build-fuzz/fuzz/${h}_fuzzer"
  if compgen -G "fuzz/regressions/$h/*" >/dev/null; then
    echo "== $h: replaying fuzz/regressions/$h"
    "$fuzzer" fuzz/regressions/"$h"/*
  fi
  echo "== $h: fuzzing for $seconds s"
  mkdir -p "build-fuzz/corpus/$h"
  log="build-fuzz/$h.log"
  if ! "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="build-fuzz/findings/$h-" \
      "build-fuzz/corpus/$h" "fuzz/corpus/$h" >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz: $h found a problem (above; the input is in build-fuzz/findings/)"
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|new_units_added)" "$log"
done
echo "fuzz: no findings (${#harnesses[@]} harnesses, $seconds s each)"
