#!/usr/bin/env bash
# The benchmark's PyTorch 2.x: the current release from PyPI in a virtual
# environment of its own (.venv-bench/, ignored by git), never on the test
# path. Its wheel ships libtorch's headers and libraries, which the torch
# peer plugin of `normkit bench` builds against (cmake -DNORMKIT_TORCH2_DIR=...).
# PyPI's Linux wheel is a CUDA build: pip brings its CUDA libraries too (large;
# they are only loaded, never used, on a machine without a GPU). Also the
# newest oneDNN (onednn-devel: headers and libraries, 3.x API), whose CPU
# engine runs on Intel's SYCL/OpenCL CPU runtime, which pip brings with it,
# and its kernels' threads on TBB (tbb-devel: the headers the peer needs to
# hold them to a thread count).
# ONNX Runtime (onnxruntime, with onnx to write its one-node models), timed
# from Python by bench/peers/ort_peer.py. llama.cpp's ggml: ggml-python builds
# a CPU libggml (-march=native) from its bundled source when it installs; its
# headers come from the same source package, into .venv-bench/ggml-include.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-bench
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "torch>=2" numpy onednn-devel onnxruntime onnx ggml-python
# normkit.torch's tests and bench/torch_models.py on the current torch 2.x
# (the test path itself has Debian's 1.13): torchvision's models, pytest, and
# ml_dtypes for the 16-bit tests.
"$venv/bin/pip" install -q torchvision pytest ml_dtypes
# TBB's headers, of the TBB that onednn-devel brought: its threads are TBB's,
# and the peer limits them to each row's thread count through them.
tbb_version=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('tbb'))")
"$venv/bin/pip" install -q "tbb-devel==$tbb_version"
"$venv/bin/python" -c "import torch; print('bench venv: torch', torch.__version__)"
"$venv/bin/python" -c "import onnxruntime; print('bench venv: onnxruntime', onnxruntime.__version__)"
if [ ! -f "$venv/ggml-include/ggml.h" ]; then
  version=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('ggml-python'))")
  tmp=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps --no-binary :all: "ggml-python==$version" -d "$tmp"
  tar -xzf "$tmp"/ggml_python-*.tar.gz -C "$tmp"
  mkdir -p "$venv/ggml-include"
  cp "$tmp"/ggml_python-*/vendor/ggml/include/*.h "$venv/ggml-include/"
  rm -rf "$tmp"
fi
echo "bench venv: ggml headers in $venv/ggml-include"
ls "$venv"/lib/libdnnl.so.* | head -1
