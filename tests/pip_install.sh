#!/usr/bin/env bash
# `pip install .` into a fresh virtual environment: scikit-build-core and
# pybind11 (the build requirements) and NumPy 2 come from PyPI; the module is
# built by the same CMake project. Then the Python tests that need no PyTorch
# run against the installed package (NumPy 2 here; the main suite runs with
# Debian's NumPy 1.x), from outside the source tree.
#   tests/pip_install.sh SOURCE_DIR WORK_DIR PYTHON
set -euo pipefail
source_dir="$1" work="$2" python="$3"
rm -rf "$work"
"$python" -m venv "$work/venv"
venv="$work/venv/bin"
"$venv/pip" install --quiet --disable-pip-version-check "numpy>=2" pytest
# Without optimization (build type None), to keep CI short: the packaging path
# is the same; a user's `pip install .` builds Release.
"$venv/pip" install --quiet --disable-pip-version-check --config-settings=cmake.build-type=None "$source_dir"
cd "$work"
"$venv/python" - <<'PY'
import numpy, normkit, os
assert int(numpy.__version__.split(".")[0]) >= 2, numpy.__version__
assert "site-packages" in normkit.__file__, normkit.__file__
package = os.path.dirname(normkit.__file__)
for stub in ("_normkit.pyi", "py.typed"):
    assert os.path.exists(os.path.join(package, stub)), stub
print("installed normkit", normkit.__version__, "at", package, "with NumPy", numpy.__version__)
PY
"$venv/python" -m pytest -q -p no:cacheprovider \
  "$source_dir/tests/python/test_batch_norm_api.py" "$source_dir/tests/python/test_batch_norm_modules.py" \
  "$source_dir/tests/python/test_family_api.py" "$source_dir/tests/python/test_thread_count_bits.py" \
  "$source_dir/tests/python/test_package.py"
