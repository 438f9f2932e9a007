#!/usr/bin/env bash
# Installs the benchmark's optional peers from Debian (`normkit bench` skips
# any peer that is not built): libtorch-dev (PyTorch 1.13's C++ library) and
# gnuplot for the size-sweep plot. (oneDNN 2.6, the third Debian peer, is a
# dependency of the library itself: scripts/install-deps.sh.) Then
# reconfigure: cmake -S . -B build.
set -euo pipefail
exec "$(dirname "$0")/apt-ensure.sh" libtorch-dev gnuplot-nox
