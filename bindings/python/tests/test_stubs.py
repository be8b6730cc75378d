"""The `.pyi` stubs match the compiled module (mypy's stubtest), and the package type-checks."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

from vario import _vario

PKG = pathlib.Path(__file__).resolve().parents[1] / "python" / "vario"


def test_stubtest_passes() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "vario._vario"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_is_typed_and_type_checks() -> None:
    assert (PKG / "py.typed").exists()
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(PKG)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_client_keywords_are_the_option_keys() -> None:
    """The stub's explicit `Client.__new__` keywords (for users' type checkers; the runtime takes
    `**options`) are the runtime's option keys in their order, durations in seconds without `_ms`,
    so the list cannot drift from what `Client(**options)` accepts."""
    keys, durations = _vario._option_keys()
    assert durations and set(durations) <= set(keys) and all(k.endswith("_ms") for k in durations)
    python_names = [k.removesuffix("_ms") if k in durations else k for k in keys]

    tree = ast.parse((PKG / "_vario.pyi").read_text())
    client = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    new = next(n for n in client.body if isinstance(n, ast.FunctionDef) and n.name == "__new__")
    assert not new.args.args[1:] and new.args.vararg is None and new.args.kwarg is None
    stub_names = [a.arg for a in new.args.kwonlyargs]
    assert stub_names == python_names, (
        f"missing from the stub: {sorted(set(python_names) - set(stub_names))}, "
        f"not options: {sorted(set(stub_names) - set(python_names))}"
    )
    for a in new.args.kwonlyargs:
        if a.arg + "_ms" in durations:
            assert a.annotation is not None and ast.unparse(a.annotation) == "Optional[float]", a.arg
