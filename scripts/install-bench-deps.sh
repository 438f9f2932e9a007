#!/usr/bin/env bash
# Installs the benchmark's optional peers from Debian (`normkit bench` skips
# any peer that is not built): libtorch-dev (PyTorch 1.13's C++ library) and
# gnuplot for the size-sweep plot. (oneDNN 2.6, the third Debian peer, is a
# dependency of the library itself: scripts/install-deps.sh.) Then
# reconfigure: cmake -S . -B build. libopenblas0-openmp: Debian's torch runs
# its matrix products on whatever libblas.so.3 is, the reference BLAS
# unless another is installed (148 ms per product in a TransformerEncoder
# step of bench/torch_models.py, 14.5 s a step against 0.42 s on OpenBLAS):
# OpenBLAS's OpenMP build, which follows torch.set_num_threads.
set -euo pipefail
exec "$(dirname "$0")/apt-ensure.sh" libtorch-dev gnuplot-nox libopenblas0-openmp
