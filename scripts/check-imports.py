#!/usr/bin/env python3
"""Fails when the modules of a crate import each other in a cycle.

Usage: check-imports.py SRC_DIR [SRC_DIR ...]   (each a crate's `src/`, holding lib.rs)

A module is a file (`a.rs`, `a/mod.rs`, `a/b.rs`). An edge A -> B is any path A names into B:
`use crate::b::..`, `crate::b::..` in code, `super::..` (the parent), or `child::..` for a module A
declares. Names the crate root re-exports (`pub use b::{X, Y}`) resolve to the module they come
from, so `use crate::X` counts as an edge to `b`. The crate root itself is the facade and is left
out of the graph. Comments, string literals and the trailing `#[cfg(test)]` module are ignored.
"""

import re
import sys
from pathlib import Path


def strip(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    # Unit tests sit at the end of a file and may use the whole crate; they are not the module's
    # dependencies.
    cut = text.find("#[cfg(test)]")
    return text if cut < 0 else text[:cut]


def modules(src: Path) -> dict[tuple[str, ...], Path]:
    out = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("").parts
        if rel[0] == "bin":
            continue
        if rel[-1] == "mod":
            rel = rel[:-1]
        if rel == ("lib",) or rel == ("main",):
            rel = ()
        out[tuple(rel)] = f
    return out


def resolve(mods, path: tuple[str, ...]):
    for n in range(len(path), 0, -1):
        if path[:n] in mods:
            return path[:n]
    return None


def reexports(mods, root_text: str) -> dict[str, tuple[str, ...]]:
    out = {}
    for m in re.finditer(r"pub\s+use\s+([a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)*)::(\{[^}]*\}|[A-Za-z_][A-Za-z0-9_]*)", root_text):
        target = resolve(mods, tuple(m.group(1).split("::")))
        if target is None:
            continue
        for name in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", m.group(2)):
            out[name] = target
    return out


def edges(mods, names, me: tuple[str, ...], text: str) -> set:
    out = set()
    declared = set(re.findall(r"\bmod\s+([a-z_][a-z0-9_]*)\s*;", text))
    # Paths, including the items of brace groups: `use crate::{a::X, b}`.
    for m in re.finditer(r"\b(crate|super|[a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", text):
        for item in m.group(3).split(","):
            item = item.strip()
            if item:
                out |= edge(mods, names, me, declared, m.group(1), (m.group(2) + "::" + item).strip(":").split("::"))
    for m in re.finditer(r"\b(crate|super|[a-z_][a-z0-9_]*)((?:::[A-Za-z_][A-Za-z0-9_]*)+)", text):
        out |= edge(mods, names, me, declared, m.group(1), m.group(2).strip(":").split("::"))
    out.discard(me)
    out.discard(())
    # A module naming its own descendants is not a cycle risk worth flagging as an edge back up.
    return out


def edge(mods, names, me, declared, head, rest):
    rest = [r for r in rest if r]
    if head == "crate":
        base = ()
    elif head == "super":
        base = me[:-1]
    elif head in declared:
        base = me + (head,)
        rest = rest
    else:
        return set()
    path = base + tuple(r for r in rest if r and r[0].islower())
    target = resolve(mods, path) if path else None
    if target is None or target == ():
        first = next((r for r in rest if r and r[0].isupper()), None)
        if base == () and first in names:
            return {names[first]}
        return set() if base == () else {base}
    return {target}


def cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    bad = 0
    for arg in sys.argv[1:]:
        src = Path(arg)
        mods = modules(src)
        root = mods.get(())
        names = reexports(mods, strip(root.read_text())) if root else {}
        graph = {}
        for me, f in mods.items():
            if me == ():
                continue
            graph[me] = {t for t in edges(mods, names, me, strip(f.read_text())) if t != ()}
        found = cycles(graph)
        for comp in found:
            bad += 1
            print(f"{src}: import cycle between " + ", ".join("::".join(c) for c in comp))
            for a in comp:
                print("   ", "::".join(a), "->", ", ".join("::".join(b) for b in sorted(graph[a]) if b in comp))
        if not found:
            print(f"{src}: {len(graph)} modules, no import cycle")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
