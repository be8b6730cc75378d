"""One fleet client (Python): `child.py MODE CONTROL_URL SDK_KEY REDIS_URL ENV`. Prints `ready V`
once its push channel is connected, then `got V MS` (wall-clock ms) when the next version is in
use and a decision was made on it."""

import sys
import time

import vario

mode, control, sdk_key, redis_url, env = sys.argv[1:6]
if mode == "stream":
    opts = {"config_url": control + "/sdk/v1/snapshot", "stream_url": control + "/sdk/v1/stream", "sdk_key": sdk_key}
else:
    opts = {"redis_url": redis_url, "environment": env}
client = vario.Client(poll_interval=60, id_hash_key="fleet-key", sink_path="/dev/null", **opts)
client.wait_for_init(30)
deadline = time.monotonic() + 30
while client.stats()["push"] != "connected":
    if time.monotonic() > deadline:
        sys.exit(f"push never connected: {client.stats()}")
    time.sleep(0.005)
v = client.stats()["config_version"]
print(f"ready {v}", flush=True)
if not client.wait_for_version(v + 1, timeout=60):
    sys.exit(f"v{v + 1} never came: {client.stats()}")
t = time.time() * 1000
d = client.decide({"user_id": "fleet-user", "context": {"placement": "pdp"}})
print(f"got {d.config_version} {t:.3f}", flush=True)
client.close()
