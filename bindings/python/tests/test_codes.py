"""The stubs' code names are the core's: the generated block of `_vario.pyi` is rendered from
`_vario._code_tables()` (built from `vario_core::codes`) and must match it exactly.

`VARIO_BLESS=1 pytest tests/test_codes.py` rewrites the block instead of failing.
"""

from __future__ import annotations

import os
import pathlib
import typing

import vario
from vario import _vario

STUB = pathlib.Path(__file__).resolve().parents[1] / "python" / "vario" / "_vario.pyi"
BEGIN = "# BEGIN GENERATED: vario codes (do not edit; VARIO_BLESS=1 regenerates)"
END = "# END GENERATED"


def render(tables: dict[str, list[str]]) -> str:
    lines = [BEGIN]
    for name, members in tables.items():
        lines.append(f"{name} = Literal[")
        lines += [f'    "{m}",' for m in members]
        lines.append("]")
    lines.append(END)
    return "\n".join(lines) + "\n"


def split(text: str) -> tuple[str, str, str]:
    """(before, block, after) of the generated block, markers included in the block."""
    start = text.index(BEGIN)
    end = text.index(END, start) + len(END) + 1  # through the newline after END
    return text[:start], text[start:end], text[end:]


def test_stub_block_matches_the_core_tables() -> None:
    tables = _vario._code_tables()
    assert set(tables) >= {"Reason", "FlagReason", "UnitType", "ErrorCode"}
    assert all(tables.values()), tables
    text = STUB.read_text()
    assert BEGIN in text and END in text, f"{STUB} lacks the generated block markers"
    before, block, after = split(text)
    want = render(tables)
    if block != want and os.environ.get("VARIO_BLESS") == "1":
        STUB.write_text(before + want + after)
        return
    assert block == want, f"{STUB}: the generated block differs from the core's tables; rerun with VARIO_BLESS=1"


def test_runtime_aliases_match_the_tables() -> None:
    for name, members in _vario._code_tables().items():
        alias = getattr(vario, name)
        assert alias is getattr(_vario, name)
        assert [typing.get_args(a)[0] for a in typing.get_args(alias)] == members, name


def test_names_the_api_returns_are_in_the_tables() -> None:
    tables = _vario._code_tables()
    snap = vario.Snapshot.from_json('{"schema_version": 1, "version": 1}')
    d = snap.decide({"user_id": "u", "context": {"placement": "nowhere"}}, now=0)
    assert d.reason in tables["Reason"]
    assert snap.decide_many(["u"], context={"placement": "nowhere"}, now=0).reason_names == tables["Reason"]
    f = snap.flag("nope", {"user_id": "u"}, now=0)
    assert f.reason in tables["FlagReason"] and f.to_dict()["reason"] == f.reason
