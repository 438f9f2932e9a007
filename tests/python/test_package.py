"""The package as others use it: zero-copy for float32 arrays, docstrings on
every public name, type stubs that declare every public name of the
extension, and NumPy 1.x or 2.x (this file runs under both: Debian's NumPy in
the main suite, NumPy 2 in the pip-installed virtual environment)."""

import ast
import os

import numpy as np
import pytest

import normkit
import normkit.io
import normkit.models
import normkit.nn
from normkit import _normkit


def address(a):
    return a.__array_interface__["data"][0]


@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided", "reversed"])
def test_float32_arrays_are_used_without_a_copy(layout):
    base = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    x = {
        "contiguous": base,
        "channels_last": base.transpose(0, 2, 3, 1).copy().transpose(0, 3, 1, 2),
        "strided": base[:, :, :, ::2],
        "reversed": base[:, :, ::-1, :],
    }[layout]
    # The memory normkit reads is the array's own, through the conversion every function uses.
    assert _normkit._view_address(x) == address(x)


def test_in_place_arguments_are_the_callers_arrays():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3, 4, 4)).astype(np.float32)
    running_mean = np.zeros(3, np.float32)
    before = address(running_mean)
    normkit.batch_norm_forward(x, None, None, running_mean, np.ones(3, np.float32), True, 0.5, 1e-5)
    # Updated where the caller's array lives: no copy was made and copied back.
    assert address(running_mean) == before
    np.testing.assert_allclose(running_mean, 0.5 * x.mean(axis=(0, 2, 3)), rtol=1e-5, atol=1e-6)


def test_other_dtypes_are_refused_not_converted():
    with pytest.raises(normkit.Error, match="x: expected a float32 array, got float64"):
        normkit.batch_norm_forward(np.zeros((4, 2)), None, None, None, None, True, 0.1, 1e-5)


def public_callables():
    """(name, object) for every public function, class, method and property."""
    found = []
    for module in (normkit, normkit.nn, normkit.io, normkit.models):
        for name in module.__all__:
            obj = getattr(module, name)
            if isinstance(obj, type(os)) or name == "__version__":
                continue
            found.append((f"{module.__name__}.{name}", obj))
            if isinstance(obj, type):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_") or attr in ("__call__", "__len__"):
                        found.append((f"{module.__name__}.{name}.{attr}", member))
    return found


@pytest.mark.parametrize("name,obj", public_callables(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_public_name_has_a_docstring(name, obj):
    doc = getattr(obj, "__doc__", None) or ""
    # pybind11 puts the signature on the first line; the text after it is ours.
    lines = [l for l in doc.strip().splitlines() if l.strip()]
    text = [l for l in lines if not l.startswith(name.rsplit(".", 1)[-1] + "(")]
    assert text, f"{name} has no docstring beyond its signature"


def stub_names():
    path = os.path.join(os.path.dirname(normkit.__file__), "_normkit.pyi")
    tree = ast.parse(open(path).read())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign):
            names.add(node.target.id)
    return names, tree


def test_the_stubs_declare_every_public_name_of_the_extension():
    names, _ = stub_names()
    public = {n for n in dir(_normkit) if not n.startswith("__") or n == "__version__"}
    assert public - names == set(), f"not in _normkit.pyi: {sorted(public - names)}"
    assert os.path.exists(os.path.join(os.path.dirname(normkit.__file__), "py.typed"))


def test_numpy_major_version_is_supported():
    assert int(np.__version__.split(".")[0]) in (1, 2)


def test_the_stubs_give_every_function_its_bound_arguments():
    """The stubs (the functional API's generated from the op table) name each
    function's arguments as the module binds them, in order."""
    _, tree = stub_names()
    checked = 0
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or not hasattr(_normkit, node.name):
            continue
        first_line = getattr(_normkit, node.name).__doc__.splitlines()[0]
        bound = [p.split(":")[0].strip() for p in first_line[first_line.index("(") + 1:first_line.index(")")].split(",")
                 if p.strip()]
        assert [a.arg for a in node.args.args] == bound, node.name
        checked += 1
    assert checked >= 12  # the functional API's forward and backward functions at least
