#!/usr/bin/env bash
# Runs tests/interop/ (PyTorch <-> normkit through safetensors files) in a
# virtual environment that sees Debian's PyTorch 1.13 and NumPy and adds the
# official safetensors package from PyPI; normkit from build/python.
#   tests/safetensors_interop.sh SOURCE_DIR BUILD_DIR WORK_DIR PYTHON
set -euo pipefail
source_dir="$1" build_dir="$2" work="$3" python="$4"
rm -rf "$work"
"$python" -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check safetensors
cd "$work"
PYTHONPATH="$build_dir/python" NORMKIT_CLI="$build_dir/normkit" \
  "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$source_dir/tests/interop"
