"""The `.pyi` stubs match the compiled module (mypy's stubtest), and the package type-checks."""

from __future__ import annotations

import pathlib
import subprocess
import sys

PKG = pathlib.Path(__file__).resolve().parents[1] / "python" / "vario"


def test_stubtest_passes() -> None:
    r = subprocess.run([sys.executable, "-m", "mypy.stubtest", "vario._vario"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_package_is_typed_and_type_checks() -> None:
    assert (PKG / "py.typed").exists()
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(PKG / "__init__.py")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
