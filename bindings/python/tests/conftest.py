"""Shared fixtures: the repository paths, a dev server process, free ports."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import time
from typing import Iterator

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
VECTORS = ROOT / "contract" / "vectors"
SNAPSHOT = ROOT / "examples" / "snapshot.json"


def vario_bin() -> pathlib.Path:
    target = pathlib.Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    triple = os.environ.get("CARGO_BUILD_TARGET")
    path = (target / triple if triple else target) / "debug" / "vario"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build it with `cargo build --bin vario`")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DevServer:
    """`vario dev-server` in a child process: config endpoint plus ingestion into a JSONL file."""

    def __init__(self, tmp: pathlib.Path, port: int = 0) -> None:
        self.events = tmp / f"events-{time.monotonic_ns()}.jsonl"
        self.proc = subprocess.Popen(
            [str(vario_bin()), "dev-server", "--snapshot", str(SNAPSHOT), "--port", str(port), "--out", str(self.events)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "http://" not in line:
            self.proc.kill()
            raise RuntimeError(f"dev server did not start: {line!r}")
        self.url = line.split("on ", 1)[1].split()[0].rstrip("/") + "/"

    def lines(self) -> list[str]:
        if not self.events.exists():
            return []
        return [l for l in self.events.read_text().splitlines() if l.strip()]

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait(10)


@pytest.fixture
def dev_server(tmp_path: pathlib.Path) -> Iterator[DevServer]:
    s = DevServer(tmp_path)
    try:
        yield s
    finally:
        s.stop()


def wait_until(cond, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


def need(what: str) -> None:
    """Skip without `what`, but fail under VARIO_REQUIRE_SERVICES=1 (the test command sets it)."""
    if os.environ.get("VARIO_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{what} is required (VARIO_REQUIRE_SERVICES=1)")
    pytest.skip(f"{what} not available")


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local-mode Spark session (Java from Debian's packages) for every Spark test: the
    analysis SQL and vario.spark's mapInArrow, whose executors must run this Python."""
    import shutil
    import sys

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        need("pyspark")
    if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
        need("java")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("vario-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "20000")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
