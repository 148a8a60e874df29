#!/usr/bin/env bash
# Lists import cycles between the top-level modules of src/ (runner <-> report, ...).
# An edge A -> B is any `crate::B` path (or `super::B` resolving to the crate root) in a file
# of module A, test code included. Prints each two-way pair with one place of each direction,
# then every strongly connected group of more than one module, then `cycles: N` (the number of
# two-way pairs plus the groups that are not just one such pair). Exit 0 always; `--count`
# prints only N. `--within DIR` does the same for the files of one folder (src/DIR/*.rs, its
# mod.rs as `mod`): an edge is `super::X` in a file (X a sibling, else an item of mod.rs),
# `crate::DIR::X`, or a bare `X::` path in mod.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os, re, sys
from collections import defaultdict

SRC = "src"
argv = sys.argv[1:]
within = argv[argv.index("--within") + 1] if "--within" in argv else None
tops = set()
for name in os.listdir(SRC):
    p = os.path.join(SRC, name)
    if os.path.isdir(p):
        tops.add(name)
    elif name.endswith(".rs") and name not in ("lib.rs", "main.rs"):
        tops.add(name[:-3])

def module_path(rel):
    parts = rel[:-3].split(os.sep)
    if parts[-1] == "mod":
        parts = parts[:-1]
    return parts  # e.g. ['runner', 'federation', 'preflight']

comment = re.compile(r"//.*$")
crate_ref = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
super_ref = re.compile(r"\b((?:super::)+)([a-z_][a-z0-9_]*)")
# `use crate::{a, b::c}` groups
crate_group = re.compile(r"\bcrate::\{([^}]*)\}", re.S)

edges = defaultdict(lambda: defaultdict(list))  # a -> b -> [file:line]
for root, _, files in os.walk(SRC):
    for f in sorted(files):
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, SRC)
        mp = module_path(rel)
        if not mp or mp[0] in ("lib", "main"):
            continue
        top = mp[0]
        # a file's `super::` is relative to its module's parent; inline `mod tests` adds a level
        # we cannot see cheaply, so only resolve chains that clearly reach the crate root.
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        lines = text.split("\n")
        for i, line in enumerate(lines, 1):
            code = comment.sub("", line)
            targets = [m.group(1) for m in crate_ref.finditer(code)]
            for m in super_ref.finditer(code):
                depth = m.group(1).count("super::")
                # module `mp` (len n): super^n reaches the crate root
                if depth == len(mp):
                    targets.append(m.group(2))
            for t in targets:
                if t in tops and t != top:
                    edges[top][t].append(f"src/{rel}:{i}")
        for m in crate_group.finditer(text):
            line_no = text.count("\n", 0, m.start()) + 1
            for item in re.split(r",", m.group(1)):
                t = item.strip().split("::")[0].strip()
                if t in tops and t != top:
                    edges[top][t].append(f"src/{rel}:{line_no}")

if within is not None:
    folder = os.path.join(SRC, within)
    tops = {f[:-3] for f in os.listdir(folder) if f.endswith(".rs")}
    edges = defaultdict(lambda: defaultdict(list))
    sibling_super = re.compile(r"\bsuper::([A-Za-z_][A-Za-z0-9_]*)")
    own_crate = re.compile(r"\bcrate::" + re.escape(within) + r"::([a-z_][a-z0-9_]*)")
    bare = re.compile(r"(?<![:\w])([a-z_][a-z0-9_]*)::")
    for f in sorted(os.listdir(folder)):
        if not f.endswith(".rs"):
            continue
        me = f[:-3]
        with open(os.path.join(folder, f), encoding="utf-8") as fh:
            lines = fh.read().split("\n")
        in_tests = False
        for i, line in enumerate(lines, 1):
            code = comment.sub("", line)
            if re.match(r"\s*mod tests\b", code):
                in_tests = True  # an inline test module's `super::` is this file
            targets = [m.group(1) for m in own_crate.finditer(code)]
            if not in_tests:
                for m in sibling_super.finditer(code):
                    t = m.group(1)
                    targets.append(t if t in tops else "mod")
            if me == "mod" and not code.lstrip().startswith("mod "):
                targets += [m.group(1) for m in bare.finditer(code) if m.group(1) in tops]
            for t in targets:
                if t in tops and t != me:
                    edges[me][t].append(f"src/{within}/{f}:{i}")

pairs = []
for a in sorted(edges):
    for b in sorted(edges[a]):
        if a < b and a in edges.get(b, {}):
            pairs.append((a, b))

# Tarjan's strongly connected components
index, low, on, stack, sccs = {}, {}, set(), [], []
counter = [0]
def strong(v):
    index[v] = low[v] = counter[0]; counter[0] += 1
    stack.append(v); on.add(v)
    for w in sorted(edges.get(v, {})):
        if w not in index:
            strong(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in sorted(tops):
    if v not in index:
        strong(v)

longer = [c for c in sccs if not (len(c) == 2 and tuple(c) in pairs)]
count = len(pairs) + len(longer)
if "--count" in argv:
    print(count)
    sys.exit(0)
for a, b in pairs:
    print(f"{a} <-> {b}")
    print(f"    {a} -> {b}: {len(edges[a][b])} uses, e.g. {edges[a][b][0]}")
    print(f"    {b} -> {a}: {len(edges[b][a])} uses, e.g. {edges[b][a][0]}")
for c in sccs:
    print("group: " + " ".join(c))
print(f"cycles: {count} ({len(pairs)} two-way pairs, {len(longer)} longer groups)")
PY
