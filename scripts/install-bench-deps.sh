#!/usr/bin/env bash
# Installs the benchmark's peers from Debian (optional: `normkit bench` skips
# any peer that is not built): libtorch-dev (PyTorch 1.13's C++ library),
# libdnnl-dev (oneDNN 2.6), and gnuplot for the size-sweep plot. Then
# reconfigure: cmake -S . -B build.
set -euo pipefail
exec "$(dirname "$0")/apt-ensure.sh" libtorch-dev libdnnl-dev gnuplot-nox
