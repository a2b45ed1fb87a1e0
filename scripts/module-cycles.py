#!/usr/bin/env python3
"""Fails when a module of src/ imports a module that imports it back.

Reads the `crate::` and `super::` paths of every file (test modules left out, inline or in
files of their own: what a test names is not the module's design), maps each to the deepest
module that exists, and reports mutual imports between files and cycles between top-level
modules. A child naming its own parent is the module tree, not a cycle. Text only: it runs nothing.

Usage: scripts/module-cycles.py [SRC_DIR]   (default: src; `-v` prints the top-level graph)
"""
import os
import re
import sys

SRC = next((a for a in sys.argv[1:] if not a.startswith("-")), "src")


def modules(root):
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if not name.endswith(".rs"):
                continue
            path = os.path.join(folder, name)
            parts = os.path.relpath(path, root)[:-3].split(os.sep)
            if parts[-1] in ("mod", "lib", "main"):
                parts = parts[:-1]
            found[tuple(parts)] = path
    return found


def without_tests(text):
    """The text without `#[cfg(test)] mod x { ... }` bodies and `//` comments."""
    out, at = [], 0
    for m in re.finditer(r"#\[cfg\(test\)\]\s*(pub(\(\w+\))?\s+)?mod \w+\s*\{", text):
        if m.start() < at:
            continue
        out.append(text[at : m.start()])
        depth, j = 1, m.end()
        while depth and j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        at = j
    out.append(text[at:])
    return re.sub(r"//.*", "", "".join(out))


def split_group(head, group):
    """`a::{b, c::d}` -> [a::b, a::c::d] (one level of braces)."""
    return [head + item.strip().split(" as ")[0].split("::") for item in group.split(",") if item.strip()]


def imports(mods, module, text):
    def deepest(path):
        path = tuple(p for p in path if p)
        while path and path not in mods:
            path = path[:-1]
        return path

    named = set()
    for m in re.finditer(r"crate::((?:\w+::)*)(\w+|\{[^}]*\})", text):
        head = [p for p in m.group(1).split("::") if p]
        tail = m.group(2)
        paths = split_group(head, tail[1:-1]) if tail.startswith("{") else [head + [tail]]
        named.update(deepest(p) for p in paths)
    for m in re.finditer(r"\b((?:super::)+)((?:\w+::)*)(\w+|\{[^}]*\})", text):
        up = m.group(1).count("super::")
        base = list(module[:-up]) if up <= len(module) else []
        head = base + [p for p in m.group(2).split("::") if p]
        tail = m.group(3)
        paths = split_group(head, tail[1:-1]) if tail.startswith("{") else [head + [tail]]
        named.update(deepest(p) for p in paths)
    # Its own ancestors (and itself, and the crate root) do not count.
    return {t for t in named if t and module[: len(t)] != t}


def cycles(graph):
    """Strongly connected components with more than one node (Tarjan)."""
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

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
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def test_files(mods):
    """Modules declared `#[cfg(test)] mod x;` in their parent's file: tests, left out."""
    found = set()
    for module, path in mods.items():
        text = open(path).read()
        for m in re.finditer(r"#\[cfg\(test\)\]\s*(?:pub(?:\(\w+\))?\s+)?mod (\w+)\s*;", text):
            found.add(module + (m.group(1),))
    return found


def main():
    mods = modules(SRC)
    tests = test_files(mods)
    mods = {m: p for m, p in mods.items() if not any(m[: len(t)] == t for t in tests)}
    edges = {m: imports(mods, m, without_tests(open(p).read())) for m, p in mods.items()}
    name = "::".join
    problems = []
    for a, targets in sorted(edges.items()):
        for b in sorted(targets):
            if a < b and a in edges.get(b, ()):
                problems.append(f"{name(a)} <-> {name(b)}")
    top = {}
    for a, targets in edges.items():
        for b in targets:
            if a and a[0] != b[0]:
                top.setdefault(a[0], set()).add(b[0])
    problems += [" -> ".join(c) + " (top-level cycle)" for c in cycles(top)]
    if "-v" in sys.argv:
        for a in sorted(top):
            print(f"{a} -> {', '.join(sorted(top[a]))}")
    if problems:
        print("modules that import each other:", *problems, sep="\n  ")
        return 1
    print(f"no module imports one that imports it back ({len(mods)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
