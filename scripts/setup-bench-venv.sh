#!/usr/bin/env bash
# The benchmark's PyTorch 2.x: the current release from PyPI in a virtual
# environment of its own (.venv-bench/, ignored by git), never on the test
# path. Its wheel ships libtorch's headers and libraries, which the torch
# peer plugin of `normkit bench` builds against (cmake -DNORMKIT_TORCH2_DIR=...).
# PyPI's Linux wheel is a CUDA build: pip brings its CUDA libraries too (large;
# they are only loaded, never used, on a machine without a GPU). Also the
# newest oneDNN (onednn-devel: headers and libraries, 3.x API), whose CPU
# engine runs on Intel's SYCL/OpenCL CPU runtime, which pip brings with it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-bench
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "torch>=2" numpy onednn-devel
"$venv/bin/python" -c "import torch; print('bench venv: torch', torch.__version__)"
ls "$venv"/lib/libdnnl.so.* | head -1
