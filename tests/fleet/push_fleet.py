"""50 clients in separate processes, half Python and half Node, half on the control plane's SSE
stream and half on Redis, all on the new version after one publish (issue 16).

Run by the test command after the wheel and the addon are built:
`push_fleet.py VARIO_BIN NODE` with the wheel's venv Python, `VARIO_TEST_REDIS_URL` set. It
starts `vario control --redis` on a temporary SQLite file, authors and publishes v1, starts the
50 clients, waits until each is connected, publishes v2 and checks that every one decides on v2
within 10 s. Prints each group's publish → decision latencies (ms, wall clock). Exits non-zero
on any failure; prints `N passed, N failed`.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any, Optional

HERE = pathlib.Path(__file__).resolve().parent
ADMIN = "fleet-admin-token"
PER_GROUP = 25  # each of Python and Node; their halves split between stream and Redis


def call(base: str, method: str, path: str, body: Optional[Any] = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Authorization", f"Bearer {ADMIN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=20) as r:
        raw = r.read()
        return json.loads(raw) if raw.strip() else None


def main() -> int:
    vario_bin, node = sys.argv[1], sys.argv[2]
    redis_url = os.environ["VARIO_TEST_REDIS_URL"]
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="vario-fleet-"))
    env = dict(os.environ, VARIO_ADMIN_TOKEN=ADMIN, RUST_LOG="warn")
    cp = subprocess.Popen(
        [vario_bin, "control", "--db", f"sqlite://{tmp / 'c.db'}", "--listen", "127.0.0.1:0", "--redis", redis_url],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    children: list[tuple[str, subprocess.Popen[str]]] = []
    try:
        assert cp.stdout is not None
        line = cp.stdout.readline()
        assert line.startswith("vario control on http://"), line
        base = line.split(" on ", 1)[1].strip().rstrip("/")
        name = f"fleet-{os.getpid()}"
        e = call(base, "POST", "/environments", {"name": name})
        call(base, "PUT", f"/environments/{e['id']}/placements/pdp", {"default_params": {"algo": "base"}})
        assert call(base, "POST", f"/environments/{e['id']}/publish")["version"] == 1

        py = sys.executable
        for lang in ("python", "node"):
            for i in range(PER_GROUP):
                mode = "stream" if i % 2 == 0 else "redis"
                cmd = [py, str(HERE / "child.py")] if lang == "python" else [node, str(HERE / "child.mjs")]
                p = subprocess.Popen([*cmd, mode, base, e["sdk_key"], redis_url, name], stdout=subprocess.PIPE, text=True)
                children.append((f"{lang}/{mode}", p))
        lines: dict[int, list[str]] = {i: [] for i in range(len(children))}
        cv = threading.Condition()

        def read(i: int, p: subprocess.Popen[str]) -> None:
            assert p.stdout is not None
            for ln in p.stdout:
                with cv:
                    lines[i].append(ln.split())
                    cv.notify_all()

        for i, (_, p) in enumerate(children):
            threading.Thread(target=read, args=(i, p), daemon=True).start()

        def all_have(word: str, timeout: float) -> bool:
            end = time.monotonic() + timeout
            with cv:
                while not all(any(ln and ln[0] == word for ln in lines[i]) for i in lines):
                    left = end - time.monotonic()
                    if left <= 0:
                        return False
                    cv.wait(left)
            return True

        started = time.monotonic()
        if not all_have("ready", 120):
            missing = [children[i][0] for i in lines if not any(ln and ln[0] == "ready" for ln in lines[i])]
            print(f"not ready after 120 s: {missing}")
            print("0 passed, 1 failed")
            return 1
        print(f"{len(children)} clients connected in {time.monotonic() - started:.1f} s")

        call(base, "PUT", f"/environments/{e['id']}/placements/pdp", {"default_params": {"algo": "v2"}})
        t0 = time.time() * 1000
        assert call(base, "POST", f"/environments/{e['id']}/publish")["version"] == 2
        ok = all_have("got", 10)
        by_group: dict[str, list[float]] = {}
        failed = []
        for i, (group, _) in enumerate(children):
            got = [ln for ln in lines[i] if ln and ln[0] == "got"]
            if not got or got[0][1] != "2":
                failed.append(group)
                continue
            by_group.setdefault(group, []).append(float(got[0][2]) - t0)
        for group, lat in sorted(by_group.items()):
            print(f"{group:<14} {len(lat):>2} on v2; publish -> decision ms: median {statistics.median(lat):.1f}, max {max(lat):.1f}")
        for _, p in children:
            p.wait(30)
        codes = [p.returncode for _, p in children]
        if not ok or failed or any(codes):
            print(f"on v2 within 10 s: {len(children) - len(failed)} of {len(children)}; missing: {failed}; exit codes: {codes}")
            print(f"{len(children) - len(failed)} passed, {max(len(failed), 1)} failed")
            return 1
        print(f"{len(children)} passed, 0 failed")
        return 0
    finally:
        for _, p in children:
            if p.poll() is None:
                p.kill()
        cp.kill()
        cp.wait(10)


if __name__ == "__main__":
    sys.exit(main())
