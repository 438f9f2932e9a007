#!/usr/bin/env bash
# Installs, from Debian's packages, everything normkit needs to build and test.
# Idempotent: apt-get runs only when something is missing.
#   libgtest/libgmock: the C++ tests; python3-*/pybind11: the Python module
#   and its tests; python3-torch (PyTorch 1.13): parity tests, and
#   python3-torchvision: normkit.torch's tests on ResNet-18;
#   zlib1g-dev: the IDX reader; dataset-fashion-mnist: the lab's data set
#   (/usr/share/datasets/fashion-mnist); nlohmann-json3-dev: safetensors
#   headers; libdnnl-dev (oneDNN): GEMM and convolution for the training
#   engine; gnuplot-nox: the lab's plots; libopenmpi-dev and openmpi-bin:
#   Synchronized BN and data-parallel training (normkit_dist); libssl-dev:
#   the SHA-256 digest of `normkit selftest sync`; clang-14 and
#   libclang-rt-14-dev: the libFuzzer harnesses (scripts/fuzz.sh);
#   python3-venv: the test that installs the module with `pip install .` (its
#   build requirements and NumPy 2 come from PyPI, into build/venv-pip);
#   libcli11-dev: the CLI's command line; python3-pip: ml_dtypes below.
set -euo pipefail
"$(dirname "$0")/apt-ensure.sh" \
  g++ cmake ninja-build pkg-config \
  libgtest-dev libgmock-dev \
  libomp-dev \
  python3 python3-dev python3-numpy python3-pytest pybind11-dev \
  python3-torch python3-torchvision \
  zlib1g-dev dataset-fashion-mnist nlohmann-json3-dev libdnnl-dev gnuplot-nox \
  libopenmpi-dev openmpi-bin libssl-dev \
  clang-14 libclang-rt-14-dev python3-venv libcli11-dev python3-pip

# ml_dtypes (NumPy's bfloat16 dtype, for the Python tests of bfloat16
# arrays): not packaged by Debian 12; from PyPI, a release built for NumPy
# 1.x (Debian's is 1.24; ml_dtypes 0.6 and newer need NumPy 2), without
# touching Debian's NumPy.
if ! /usr/bin/python3 -c "import ml_dtypes" 2>/dev/null; then
  /usr/bin/python3 -m pip install --quiet --break-system-packages --no-deps "ml_dtypes>=0.3,<0.6"
fi
