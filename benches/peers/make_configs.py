"""Write the peer benchmark's one experiment in every SDK's own config format (not a test).

    python benches/peers/make_configs.py DIR

Writes into DIR (created if missing):

    vario_snapshot.json      Vario snapshot (SPEC.md section 3)
    eppo_ufc.json            Eppo Universal Flag Configuration, server format
    statsig_dcs.json         Statsig download_config_specs, dcs-v2
    growthbook_features.json GrowthBook features payload
    unleash_features.json    Unleash client features (API v2)
    flagd_flags.json         flagd flag definition (json-logic targeting)
    flagsmith_context.json   Flagsmith flag-engine evaluation context (without identity)

Both the Python and the Node halves of the benchmark read these files, so the file names and the
experiment are fixed here and nowhere else.

The experiment: key `checkout_exp`, variants control / treatment_a / treatment_b at 34/33/33 %,
targeting `country in [US, CA]`; everyone else gets `control` without being enrolled. Each SDK
hashes with its own function and salt, so the same user may land in different variants in
different SDKs: only the shares have to agree, which the harnesses check.

Stdlib only, so it runs under any Python 3.9+ (the Node half calls it with the system python).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

FLAG = "checkout_exp"
# Eppo only: the same experiment with doLog on, for a row that prices building the assignment event.
FLAG_LOGGED = "checkout_exp_logged"
PLACEMENT = "checkout"
VARIANTS = ["control", "treatment_a", "treatment_b"]
WEIGHTS = [34, 33, 33]  # percent, in VARIANTS order
TARGETED = ["US", "CA"]
ATTR = "country"

# Subjects (shared with the harnesses): ids user-0 .. user-99999, country COUNTRIES[i % 4], so half
# are targeted; calls walk the ids in the order (k * STRIDE) % N_IDS, pass after pass.
N_IDS = 100_000
STRIDE = 7919  # prime, coprime with N_IDS: one pass visits every id exactly once
COUNTRIES = ["US", "CA", "GB", "DE"]

FILES = [
    "vario_snapshot.json",
    "eppo_ufc.json",
    "statsig_dcs.json",
    "growthbook_features.json",
    "unleash_features.json",
    "flagd_flags.json",
    "flagsmith_context.json",
]


def cumulative(scale: int) -> list[tuple[int, int]]:
    """Half-open [start, end) of each variant when the whole range is `scale` units."""
    out, lo = [], 0
    for w in WEIGHTS:
        hi = lo + w * scale // 100
        out.append((lo, hi))
        lo = hi
    assert lo == scale
    return out


def vario_snapshot() -> dict[str, Any]:
    return {
        "schema_version": 1,
        "environment": "bench",
        "version": 1,
        "published_at": "2026-11-01T00:00:00Z",
        "hashing": {"algorithm": "xxh32", "seed": 0},
        "privacy": {"id_hash_key": "bench"},
        # The untargeted get the placement default, which names control like the peers' defaults.
        "placements": {PLACEMENT: {"default_params": {"variant": "control"}}},
        "layers": [],
        "holdouts": [],
        "segments": {},
        "experiments": [
            {
                "id": "exp-1",
                "key": FLAG,
                "name": "Checkout experiment",
                "status": "RUNNING",
                "placements": [PLACEMENT],
                "unit": "user",
                "targeting": {"attr": ATTR, "op": "in", "values": TARGETED},
                "variants": [{"key": v, "params": {"variant": v}} for v in VARIANTS],
                "allocation": {"weights": dict(zip(VARIANTS, WEIGHTS))},
            }
        ],
        "flags": [],
    }


def eppo_ufc() -> dict[str, Any]:
    def flag(key: str, do_log: bool) -> dict[str, Any]:
        salt = f"{key}-split"
        return {
            "key": key,
            "enabled": True,
            "variationType": "STRING",
            "variations": {v: {"key": v, "value": v} for v in VARIANTS},
            "allocations": [
                {
                    "key": "experiment",
                    "rules": [{"conditions": [{"attribute": ATTR, "operator": "ONE_OF", "value": TARGETED}]}],
                    "splits": [
                        {"variationKey": v, "shards": [{"salt": salt, "ranges": [{"start": a, "end": b}]}]}
                        for v, (a, b) in zip(VARIANTS, cumulative(10000))
                    ],
                    # False: the SDK builds no assignment event at all, the closest to "logging off".
                    "doLog": do_log,
                }
            ],
            "totalShards": 10000,
        }

    return {
        "createdAt": "2024-01-01T00:00:00.000Z",
        "format": "SERVER",
        "environment": {"name": "bench"},
        "flags": {FLAG: flag(FLAG, False), FLAG_LOGGED: flag(FLAG_LOGGED, True)},
    }


def statsig_dcs() -> dict[str, Any]:
    # A Statsig experiment is a dynamic config whose rules are tried in order: first an inline
    # targeting rule that sends the untargeted to control (not an experiment group), then one rule
    # per group on the user's bucket (0..999 under the config salt) with cumulative upper bounds.
    salt = f"{FLAG}_salt"
    bounds = [hi for _, hi in cumulative(1000)]
    conditions: dict[str, Any] = {
        "c_not_targeted": {
            "type": "user_field",
            "targetValue": TARGETED,
            "operator": "none",  # "none of": the attribute is not in the list
            "field": ATTR,
            "additionalValues": {},
            "idType": "userID",
        }
    }
    rules: list[dict[str, Any]] = [
        {
            "name": "inlineTargetingRules",
            "passPercentage": 100,
            "conditions": ["c_not_targeted"],
            "returnValue": {"variant": "control"},
            "id": "inlineTargetingRules",
            "salt": "",
            "idType": "userID",
        }
    ]
    for v, hi in zip(VARIANTS, bounds):
        cond = f"c_bucket_lt_{hi}"
        conditions[cond] = {
            "type": "user_bucket",
            "targetValue": hi,
            "operator": "lt",
            "field": None,
            "additionalValues": {"salt": salt},
            "idType": "userID",
        }
        rules.append(
            {
                "name": f"grp_{v}",
                "groupName": v,
                "passPercentage": 100,
                "conditions": [cond],
                "returnValue": {"variant": v},
                "id": f"grp_{v}",
                "salt": f"grp_{v}",
                "idType": "userID",
                "isExperimentGroup": True,
            }
        )
    return {
        "dynamic_configs": {
            FLAG: {
                "type": "dynamic_config",
                "salt": salt,
                "enabled": True,
                "defaultValue": {"variant": "control"},
                "rules": rules,
                "idType": "userID",
                "entity": "experiment",
                "isActive": True,
                "hasSharedParams": False,
                "version": 1,
            }
        },
        "feature_gates": {},
        "layer_configs": {},
        "condition_map": conditions,
        "experiment_to_layer": {},
        "has_updates": True,
        "time": 1700000000000,
        "response_format": "dcs-v2",
    }


def growthbook_features() -> dict[str, Any]:
    return {
        "features": {
            FLAG: {
                "defaultValue": "control",
                "rules": [
                    {
                        "key": FLAG,
                        "condition": {ATTR: {"$in": TARGETED}},
                        "coverage": 1,
                        "hashAttribute": "id",
                        "hashVersion": 2,
                        "seed": FLAG,
                        "variations": VARIANTS,
                        "weights": [w / 100 for w in WEIGHTS],
                        "meta": [{"key": v} for v in VARIANTS],
                    }
                ],
            }
        }
    }


def unleash_features() -> dict[str, Any]:
    # Variants on the strategy (Unleash 5+): the constraint gates the strategy, and the variant is
    # picked by weight out of 1000 on userId. A user outside the constraint gets the disabled
    # variant, which the harnesses read as control.
    return {
        "version": 2,
        "features": [
            {
                "name": FLAG,
                "type": "experiment",
                "enabled": True,
                "stale": False,
                "impressionData": False,  # no impression events
                "project": "default",
                "strategies": [
                    {
                        "name": "flexibleRollout",
                        "parameters": {"rollout": "100", "stickiness": "userId", "groupId": FLAG},
                        "constraints": [
                            {
                                "contextName": ATTR,
                                "operator": "IN",
                                "values": TARGETED,
                                "inverted": False,
                                "caseInsensitive": False,
                            }
                        ],
                        "variants": [
                            {"name": v, "weight": w * 10, "weightType": "fix", "stickiness": "userId"}
                            for v, w in zip(VARIANTS, WEIGHTS)
                        ],
                    }
                ],
                "variants": [],
            }
        ],
    }


def flagd_flags() -> dict[str, Any]:
    # flagd's `fractional` buckets on the targeting key by default (murmur3 of flag key + key).
    return {
        "flags": {
            FLAG: {
                "state": "ENABLED",
                "variants": {v: v for v in VARIANTS},
                "defaultVariant": "control",
                "targeting": {
                    "if": [
                        {"in": [{"var": ATTR}, TARGETED]},
                        {"fractional": [[v, w] for v, w in zip(VARIANTS, WEIGHTS)]},
                        "control",
                    ]
                },
            }
        }
    }


def flagsmith_context() -> dict[str, Any]:
    # Flagsmith has no experiment object: a segment override with multivariate values is the
    # equivalent. The override's own value (control) keeps the weight the variants leave over
    # (100 - 33 - 33 = 34 %). The harness adds the identity per call.
    return {
        "environment": {"key": "bench-env", "name": "bench"},
        "features": {FLAG: {"key": "1", "name": FLAG, "enabled": True, "value": "control"}},
        "segments": {
            "1": {
                "key": "1",
                "name": "us_ca",
                "rules": [
                    {"type": "ALL", "conditions": [{"property": ATTR, "operator": "IN", "value": TARGETED}]}
                ],
                "overrides": [
                    {
                        "key": "1",
                        "name": FLAG,
                        "enabled": True,
                        "value": VARIANTS[0],
                        "priority": 0,
                        "variants": [
                            {"key": v, "value": v, "weight": w, "priority": p}
                            for p, (v, w) in enumerate(zip(VARIANTS[1:], WEIGHTS[1:]))
                        ],
                    }
                ],
            }
        },
    }


def write_all(out: Path) -> list[Path]:
    makers = [
        vario_snapshot,
        eppo_ufc,
        statsig_dcs,
        growthbook_features,
        unleash_features,
        flagd_flags,
        flagsmith_context,
    ]
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in zip(FILES, makers):
        path = out / name
        path.write_text(json.dumps(make(), indent=1) + "\n")
        written.append(path)
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for path in write_all(Path(argv[1])):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
