#!/usr/bin/env python3
"""Regenerate src/oracle/spec_oracle.json: the facts of the Matrix specification that the
harness checks servers against, with the spec versions each fact holds for.

What it reads, and why:
- matrix-org/matrix-spec at every tag v1.1 .. v1.N (a checkout or a bare mirror; read with git,
  nothing is checked out):
  * data/api/client-server/*.yaml and data/api/server-server/*.yaml (Swagger 2.0 up to v1.7,
    OpenAPI 3.1 from v1.8): every operation with its parameters, request body fields,
    response statuses, response body fields and the error codes each response names.
    $ref (files and #/ fragments), allOf, oneOf/anyOf are resolved; a field present in only some
    oneOf/anyOf branches is optional.
  * content/rooms/v*.md and content/rooms/_index.md: the stable room versions.
  * content/client-server-api/_index.md "Common error codes" / "Other error codes" and any
    error-code list in content/server-server-api.md.
  Every tag is evaluated and the results diffed, so `since`/`until` are facts of the published
  versions, not of the x-addedInMatrixVersion annotations (those are only cross-checked).
- matrix-org/matrix-spec-proposals, proposals/4186-simplified-sliding-sync.md: Simplified
  Sliding Sync is not in the spec yet; its facts are transcribed by hand in
  scripts/msc4186_facts.py, and this script records the commit of the MSC text they come from.

The output is committed, so neither the build nor CI needs these repositories. Run:

    python3 scripts/gen-spec-oracle.py \\
        --spec-repo /work/.mirror/matrix-org+matrix-spec/repo \\
        --msc-repo /work/.mirror/matrix-org+matrix-spec-proposals/repo \\
        --out src/oracle/spec_oracle.json

Python 3 standard library and PyYAML only.
"""
import argparse
import collections
import json
import os
import posixpath
import re
import subprocess
import sys

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import msc4186_facts  # noqa: E402

YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

GENERATOR = "scripts/gen-spec-oracle.py"
SPEC_REPOSITORY = "matrix-org/matrix-spec"
MSC_REPOSITORY = "matrix-org/matrix-spec-proposals"
MSC4186_FILE = "proposals/4186-simplified-sliding-sync.md"
APIS = [("client-server", "data/api/client-server"), ("server-server", "data/api/server-server")]
METHODS = ["get", "put", "post", "delete", "patch", "head", "options"]
MAX_DEPTH = 8
ERRCODE = re.compile(r"\bM_[A-Z][A-Z0-9_]*[A-Z0-9]\b")

WARNINGS = []


def warn(msg):
    if msg not in WARNINGS:
        WARNINGS.append(msg)


warn_once = warn


# --------------------------------------------------------------------------------------------
# git access


class Git:
    """Reads blobs of a checkout's or bare mirror's git directory, through one cat-file process."""

    def __init__(self, path):
        if os.path.exists(os.path.join(path, ".git")):
            self.base = ["git", "-C", path]  # a checkout (or worktree)
        else:
            self.base = ["git", "--git-dir", path]  # a bare repository
        self.proc = None
        self.trees = {}

    def run(self, *args):
        return subprocess.check_output(self.base + list(args), text=True)

    def commit(self, rev):
        return self.run("rev-parse", "--verify", rev + "^{commit}").strip()

    def tags(self):
        return self.run("tag", "--list").split()

    def tree(self, rev):
        """path -> blob id of every file at rev."""
        if rev not in self.trees:
            out = self.run("ls-tree", "-r", "-z", rev)
            files = {}
            for entry in out.split("\0"):
                if not entry:
                    continue
                meta, path = entry.split("\t", 1)
                _, kind, sha = meta.split()
                if kind == "blob":
                    files[path] = sha
            self.trees[rev] = files
        return self.trees[rev]

    def blob(self, sha):
        if self.proc is None:
            self.proc = subprocess.Popen(self.base + ["cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.proc.stdin.write(sha.encode() + b"\n")
        self.proc.stdin.flush()
        header = self.proc.stdout.readline().split()
        if len(header) < 3 or header[1] != b"blob":
            raise KeyError(sha)
        data = self.proc.stdout.read(int(header[2]))
        self.proc.stdout.read(1)
        return data

    def last_commit_of(self, path):
        return self.run("log", "-1", "--format=%H", "HEAD", "--", path).strip()

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait()


class Tree:
    """The files of one tag, parsed on demand (parsed documents are shared between tags by blob)."""

    parsed = {}

    def __init__(self, git, rev):
        self.git = git
        self.rev = rev
        self.files = git.tree(rev)

    def text(self, path):
        sha = self.files.get(path)
        if sha is None:
            return None
        return self.git.blob(sha).decode("utf-8")

    def doc(self, path):
        sha = self.files.get(path)
        if sha is None:
            return None
        if sha not in Tree.parsed:
            text = self.git.blob(sha).decode("utf-8")
            if path.endswith(".json"):
                try:
                    Tree.parsed[sha] = json.loads(text)
                except ValueError:
                    Tree.parsed[sha] = yaml.load(text, Loader=YamlLoader)
            else:
                Tree.parsed[sha] = yaml.load(text, Loader=YamlLoader)
        return Tree.parsed[sha]

    def listdir(self, folder):
        prefix = folder.rstrip("/") + "/"
        return sorted(p for p in self.files if p.startswith(prefix) and "/" not in p[len(prefix):])


# --------------------------------------------------------------------------------------------
# $ref resolution


def pointer_get(node, fragment):
    if fragment in ("", "/"):
        return node
    for part in fragment.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict):
            if part in node:
                node = node[part]
            elif part.isdigit() and int(part) in node:
                node = node[int(part)]
            else:
                raise KeyError(fragment)
        elif isinstance(node, list):
            node = node[int(part)]
        else:
            raise KeyError(fragment)
    return node


class Ctx:
    """Where a schema node lives: the tree and the file its relative refs resolve against."""

    __slots__ = ("tree", "path")

    def __init__(self, tree, path):
        self.tree = tree
        self.path = path


def resolve(node, ctx, what="schema"):
    """Follow a $ref chain. Returns (node, ctx, ref_id or None); an unresolvable ref gives {}.
    Keywords next to a $ref (OpenAPI 3.1 allows them; the spec's examples use them to override
    fields of a shared example) are laid over the target, shallowly. Schemas do not come here
    with siblings: flatten() merges those itself, since they resolve against another file."""
    ref_id = None
    seen = set()
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        file_part, _, fragment = ref.partition("#")
        path = ctx.path
        if file_part:
            path = posixpath.normpath(posixpath.join(posixpath.dirname(ctx.path), file_part))
        ref_id = path + "#" + fragment
        if ref_id in seen:
            warn(f"{ctx.tree.rev}: $ref loop at {ref_id}")
            return {}, ctx, ref_id
        seen.add(ref_id)
        doc = ctx.tree.doc(path)
        if doc is None:
            warn(f"{ctx.tree.rev}: {ctx.path}: {what} $ref {ref!r}: no file {path}")
            return {}, ctx, ref_id
        try:
            target = pointer_get(doc, fragment)
        except (KeyError, IndexError, ValueError):
            warn(f"{ctx.tree.rev}: {ctx.path}: {what} $ref {ref!r}: no {fragment} in {path}")
            return {}, ctx, ref_id
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if siblings and isinstance(target, dict):
            target = {**target, **siblings}
        ctx = Ctx(ctx.tree, path)
        node = target
    return node, ctx, ref_id


def deep_resolve(node, ctx, depth=0):
    """Resolve $refs anywhere inside a value (used for examples)."""
    if depth > 40:
        return node
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        target, tctx, _ = resolve({"$ref": node["$ref"]}, ctx, "example")
        target = deep_resolve(target, tctx, depth + 1)
        siblings = {k: deep_resolve(v, ctx, depth + 1) for k, v in node.items() if k != "$ref"}
        return {**target, **siblings} if isinstance(target, dict) else (siblings or target)
    if isinstance(node, dict):
        return {k: deep_resolve(v, ctx, depth + 1) for k, v in node.items()}
    if isinstance(node, list):
        return [deep_resolve(v, ctx, depth + 1) for v in node]
    return node


# --------------------------------------------------------------------------------------------
# schemas


class View:
    """A schema with $ref/allOf/oneOf/anyOf flattened one level: its types, its properties (each
    still a raw sub-schema with its context), which are required, and its item / map-value
    schemas. `refs` are the $ref ids this view was built from (the recursion guard)."""

    def __init__(self):
        self.types = set()  # "any" stands for an untyped oneOf/anyOf branch
        self.recursive = False
        self.props = collections.OrderedDict()  # name -> list of (schema, ctx)
        self.required = set()
        self.items = []  # list of (schema, ctx)
        self.values = []  # additionalProperties / patternProperties: list of (schema, ctx)
        self.refs = set()
        self.added = None  # x-addedInMatrixVersion of this schema

    def merge_all(self, other):
        """allOf: everything of both."""
        self.types |= other.types
        if len(self.types) > 1:
            self.types.discard("any")  # allOf: a concrete part's type wins over an untyped one
        for name, subs in other.props.items():
            self.props.setdefault(name, []).extend(subs)
        self.required |= other.required
        self.items += other.items
        self.values += other.values
        self.refs |= other.refs


def type_names(t):
    if isinstance(t, list):
        names = set()
        for x in t:
            if isinstance(x, str):
                names.add(x)
        return names
    if isinstance(t, str):
        return {t}
    return set()


def flatten(schema, ctx, stack):
    view = View()
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        target, tctx, ref_id = resolve({"$ref": schema["$ref"]}, ctx)
        if ref_id in stack:
            view.types = type_names(target.get("type")) if isinstance(target, dict) else set()
            view.refs.add(ref_id)
            view.recursive = True
            return view
        view = flatten(target, tctx, stack | {ref_id})
        view.refs.add(ref_id)
        siblings = {k: v for k, v in schema.items() if k != "$ref"}
        if siblings:  # e.g. v1.1 rate_limited.yaml: $ref error.yaml plus its own properties
            extra = flatten(siblings, ctx, stack | view.refs)
            view.merge_all(extra)
            view.added = extra.added or view.added
        return view
    if not isinstance(schema, dict):
        return view
    t = schema.get("type")
    if isinstance(t, list) and any(isinstance(x, dict) for x in t) and "oneOf" not in schema:
        # schemas written inside `type` (v1.1-v1.x server-server user_keys.yaml): read as oneOf
        warn(f"{ctx.tree.rev}: {ctx.path}: schema objects inside a `type` list, read as oneOf")
        schema = dict(schema)
        schema["oneOf"] = [x if isinstance(x, dict) else {"type": x} for x in schema.pop("type")]
    view.added = schema.get("x-addedInMatrixVersion")
    inner = stack | view.refs
    view.types |= type_names(schema.get("type"))
    props = schema.get("properties")
    if isinstance(props, dict):
        for name, sub in props.items():
            if not isinstance(name, str):
                warn_once(f"{ctx.tree.rev}: {ctx.path}: non-string property name {name!r}")
                name = str(name).lower() if isinstance(name, bool) else str(name)
            view.props.setdefault(name, []).append((sub, ctx))
    req = schema.get("required")
    if isinstance(req, list):
        view.required |= {str(r) for r in req}
    items = schema.get("items")
    if isinstance(items, list):
        view.items += [(i, ctx) for i in items]
    elif items is not None and items is not False:
        view.items.append((items, ctx))
    for i in schema.get("prefixItems") or []:
        view.items.append((i, ctx))
    addl = schema.get("additionalProperties")
    if addl is True:
        view.values.append(({}, ctx))
    elif isinstance(addl, dict):
        view.values.append((addl, ctx))
    pattern = schema.get("patternProperties")
    if isinstance(pattern, dict):
        for sub in pattern.values():
            view.values.append((sub, ctx))
    for part in schema.get("allOf") or []:
        view.merge_all(flatten(part, ctx, inner))
    for key in ("oneOf", "anyOf"):
        branches = schema.get(key)
        if not branches:
            continue
        views = [flatten(b, ctx, inner) for b in branches]
        required = set.intersection(*(v.required for v in views)) if views else set()
        union = View()
        branch_types = set()
        for v in views:
            branch_types |= infer_types(v) or {"any"}
            union.merge_all(v)
        union.types = {"any"} if "any" in branch_types else branch_types
        union.required = required
        # a base schema's own required keys stay required; branch-only ones need every branch
        base_required = set(view.required)
        base_types = set(view.types)
        view.merge_all(union)
        view.types = base_types or union.types
        view.required = base_required | required
    return view


def infer_types(view):
    if view.types:
        return set(view.types)
    t = set()
    if view.props or view.values:
        t.add("object")
    if view.items:
        t.add("array")
    return t


def type_string(view):
    t = infer_types(view)
    if not t or "any" in t:
        return "any"
    if "integer" in t and "number" in t:
        t.discard("integer")
    names = sorted(x for x in t if x != "null")
    if "null" in t:
        names.append("null")
    return "|".join(names)


def collect_fields(schema, ctx, out, added=None):
    """Walk a body schema. out: pointer -> [required, type, x-added]."""

    def emit(pointer, required, view, sub_added):
        ty = type_string(view)
        prev = out.get(pointer)
        if prev is None:
            out[pointer] = [required, ty, sub_added or view.added]
        else:  # the same pointer reached twice (e.g. several patternProperties): conservative merge
            prev[0] = prev[0] and required
            if prev[1] != ty:
                prev[1] = "|".join(sorted(set(prev[1].split("|")) | set(ty.split("|")), key=lambda x: (x == "null", x)))

    def walk(view, pointer, depth, stack):
        if view.recursive or depth >= MAX_DEPTH:
            return
        stack = stack | view.refs
        for name, subs in view.props.items():
            ptr = pointer + "/" + name.replace("~", "~0").replace("/", "~1")
            sub_view = None
            for sub, sctx in subs:
                v = flatten(sub, sctx, stack)
                if sub_view is None:
                    sub_view = v
                else:
                    sub_view.merge_all(v)
                    sub_view.added = sub_view.added or v.added
            emit(ptr, name in view.required, sub_view, None)
            walk(sub_view, ptr, depth + 1, stack)
        for group in (view.items, view.values):
            if not group:
                continue
            ptr = pointer + "/*"
            sub_view = None
            for sub, sctx in group:
                v = flatten(sub, sctx, stack)
                if sub_view is None:
                    sub_view = v
                else:
                    sub_view.merge_all(v)
            emit(ptr, False, sub_view, None)
            walk(sub_view, ptr, depth + 1, stack)

    root = flatten(schema, ctx, frozenset())
    walk(root, "", 0, frozenset())
    return out


# --------------------------------------------------------------------------------------------
# one tag's API description


def errcodes_in(text):
    return set(ERRCODE.findall(text)) if isinstance(text, str) else set()


def errcodes_of_example(value):
    found = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "errcode" and isinstance(v, str) and ERRCODE.fullmatch(v):
                found.add(v)
            else:
                found |= errcodes_of_example(v)
    elif isinstance(value, list):
        for v in value:
            found |= errcodes_of_example(v)
    return found


def errcode_property_codes(schema, ctx, depth=0):
    """Codes the body schema itself fixes for its top-level `errcode`: its `enum`, and codes its
    description names (rate_limited.yaml: "The M_LIMIT_EXCEEDED error code")."""
    found = set()
    if depth > 10:
        return found
    if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
        target, tctx, _ = resolve({"$ref": schema["$ref"]}, ctx)
        found |= errcode_property_codes(target, tctx, depth + 1)
    if not isinstance(schema, dict):
        return found
    prop = (schema.get("properties") or {}).get("errcode")
    if prop is not None:
        prop, _, _ = resolve(prop, ctx)
        if isinstance(prop, dict):
            found |= {v for v in prop.get("enum") or [] if isinstance(v, str) and ERRCODE.fullmatch(v)}
            found |= errcodes_in(prop.get("description"))
    for key in ("allOf", "oneOf", "anyOf"):
        for part in schema.get(key) or []:
            found |= errcode_property_codes(part, ctx, depth + 1)
    return found


def base_path(doc):
    if "swagger" in doc:
        return doc.get("basePath") or ""
    servers = doc.get("servers") or []
    if servers:
        variables = servers[0].get("variables") or {}
        default = (variables.get("basePath") or {}).get("default")
        if default is not None:
            return default
        url = servers[0].get("url", "")
        m = re.match(r"^(?:\{protocol\}|https?)://[^/]*(/.*)?$", url)
        if m and m.group(1):
            return m.group(1)
    return ""


def full_path(base, key):
    if key.startswith("/_matrix") or key.startswith("/.well-known"):
        path = key
    else:
        path = base.rstrip("/") + "/" + key.lstrip("/")
    path = re.sub(r"/{2,}", "/", path)
    return path


def json_schema_of(content):
    """OpenAPI 3 content map -> (schema or None, examples list)."""
    schema = None
    examples = []
    if not isinstance(content, dict):
        return None, examples
    for ctype, media in content.items():
        if not isinstance(media, dict):
            continue
        if ctype == "application/json" and "schema" in media:
            schema = media["schema"]
        if "example" in media:
            examples.append(media["example"])
        for ex in (media.get("examples") or {}).values():
            if isinstance(ex, dict) and "value" in ex:
                examples.append(ex["value"])
            elif isinstance(ex, dict) and "$ref" in ex:
                examples.append(ex)
    return schema, examples


def read_operations(tree, api, folder, ops):
    """Adds {(api, method, path): facts} for this tag to ops."""
    for path in tree.listdir(folder):
        if not path.endswith(".yaml"):
            continue
        doc = tree.doc(path)
        if not isinstance(doc, dict) or "paths" not in doc:
            continue
        swagger = "swagger" in doc
        base = base_path(doc)
        ctx = Ctx(tree, path)
        for key, item in (doc.get("paths") or {}).items():
            item, ictx, _ = resolve(item, ctx, "path item")
            if not isinstance(item, dict):
                continue
            shared = item.get("parameters") or []
            for method in METHODS:
                op = item.get(method)
                if not isinstance(op, dict):
                    continue
                # The spec describes a second operation on the same method and path by writing
                # the path key with trailing spaces ("/rooms/{roomId}/invite " is inviteBy3PID
                # next to inviteUser). The path is output without them; the number of spaces
                # keeps the operations apart (and sorts them) but is not output.
                raw = str(key)
                variant = len(raw) - len(raw.rstrip())
                fp = full_path(base, raw.strip())
                ident = (api, method.upper(), fp, variant)
                if ident in ops:
                    warn(f"{tree.rev}: {ident[1]} {fp} defined twice ({path})")
                ops[ident] = read_operation(op, shared, ictx, swagger, path)


def read_operation(op, shared, ctx, swagger, path):
    facts = {
        "operation_id": op.get("operationId"),
        "deprecated": bool(op.get("deprecated")),
        "added": op.get("x-addedInMatrixVersion"),
        "parameters": {},
        "request_fields": {},
        "responses": {},
        "errcodes_in_description": errcodes_in(op.get("description")),
    }
    params = collections.OrderedDict()
    for p in list(shared) + list(op.get("parameters") or []):
        p, pctx, _ = resolve(p, ctx, "parameter")
        if not isinstance(p, dict) or "name" not in p:
            continue
        params[(p.get("in"), p["name"])] = (p, pctx)  # operation parameters override path ones
    for (where, name), (p, pctx) in params.items():
        if where == "body":
            if "schema" in p:
                collect_fields(p["schema"], pctx, facts["request_fields"])
            continue
        required = bool(p.get("required")) or where == "path"
        facts["parameters"][(name, where, required)] = p.get("x-addedInMatrixVersion")
    body = op.get("requestBody")
    if body is not None:
        body, bctx, _ = resolve(body, ctx, "requestBody")
        schema, _ = json_schema_of(body.get("content") if isinstance(body, dict) else None)
        if schema is not None:
            collect_fields(schema, bctx, facts["request_fields"])
    for status, resp in (op.get("responses") or {}).items():
        status = str(status)
        resp, rctx, _ = resolve(resp, ctx, "response")
        if not isinstance(resp, dict):
            resp = {}
        codes = errcodes_in(resp.get("description"))
        fields = {}
        if swagger:
            schema = resp.get("schema")
            examples = list((resp.get("examples") or {}).values())
        else:
            schema, examples = json_schema_of(resp.get("content"))
        for ex in examples:
            codes |= errcodes_of_example(deep_resolve(ex, rctx))
        if schema is not None:
            collect_fields(schema, rctx, fields)
            codes |= errcode_property_codes(schema, rctx)
        facts["responses"][status] = {"errcodes": codes, "fields": fields}
    return facts


# --------------------------------------------------------------------------------------------
# room versions and error code lists


ROOM_FILE = re.compile(r"^content/rooms/v(\d+)\.md$")
STABLE_LINE = re.compile(r"^\s*[-*]\s+\[Version (\d+)\]\([^)]*\)\s*-\s*\*\*Stable\*\*", re.M)


def room_versions(tree):
    files = {m.group(1) for p in tree.files for m in [ROOM_FILE.match(p)] if m}
    index = tree.text("content/rooms/_index.md") or ""
    stable = set(STABLE_LINE.findall(index))
    for v in sorted(files - stable, key=int):
        warn(f"{tree.rev}: content/rooms/v{v}.md exists but _index.md does not list it as stable; left out")
    for v in sorted(stable - files, key=int):
        warn(f"{tree.rev}: _index.md lists room version {v} as stable but there is no content/rooms/v{v}.md; left out")
    return files & stable


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_LINE = re.compile(r"^`(M_[A-Z0-9_]+)`\s*$")


def listed_errcodes(text, heading_pattern):
    """M_ codes defined (a line that is just `M_CODE`) in sections whose heading matches."""
    codes = set()
    if not text:
        return codes
    level = None
    for line in text.splitlines():
        h = HEADING.match(line)
        if h:
            depth = len(h.group(1))
            if level is not None and depth <= level:
                level = None
            if level is None and re.search(heading_pattern, h.group(2), re.I):
                level = depth
            continue
        if level is not None:
            m = CODE_LINE.match(line.strip())
            if m:
                codes.add(m.group(1))
    return codes


# --------------------------------------------------------------------------------------------
# diffing tags


def runs(indices):
    """Sorted tag indices -> [(first, last)] of consecutive runs."""
    out = []
    for i in sorted(indices):
        if out and out[-1][1] == i - 1:
            out[-1][1] = i
        else:
            out.append([i, i])
    return [tuple(r) for r in out]


class Timeline:
    def __init__(self, versions):
        self.versions = versions
        self.last = len(versions) - 1

    def ranges(self, indices):
        return [(self.versions[a], None if b == self.last else self.versions[b]) for a, b in runs(indices)]


def version_key(v):
    return tuple(int(x) for x in v.split(".")) if v else (0,)


def build(spec_git, tags, timeline):
    per_tag_ops = []
    rooms = collections.defaultdict(set)
    errs = collections.defaultdict(set)
    for i, tag in enumerate(tags):
        tree = Tree(spec_git, tag)
        ops = {}
        for api, folder in APIS:
            read_operations(tree, api, folder, ops)
        per_tag_ops.append(ops)
        for v in room_versions(tree):
            rooms[v].add(i)
        for code in listed_errcodes(tree.text("content/client-server-api/_index.md"), r"^(common|other) error codes$"):
            errs[("client-server", code)].add(i)
        for code in listed_errcodes(tree.text("content/server-server-api.md"), r"error codes"):
            errs[("server-server", code)].add(i)

    room_list = []
    for v in sorted(rooms, key=int):
        for since, until in timeline.ranges(rooms[v]):
            room_list.append({"version": v, "since": since, "until": until})
    err_list = []
    for (api, code) in sorted(errs):
        for since, until in timeline.ranges(errs[(api, code)]):
            err_list.append({"api": api, "code": code, "since": since, "until": until})

    idents = sorted({k for ops in per_tag_ops for k in ops}, key=lambda k: (k[0], k[2], k[1], k[3]))
    operations = []
    mismatches = []
    for ident in idents:
        present = [i for i, ops in enumerate(per_tag_ops) if ident in ops]
        if len(runs(present)) > 1:
            warn(f"{ident[1]} {ident[2]} is missing from some tags between {timeline.versions[present[0]]} and {timeline.versions[present[-1]]}; "
                 "since/until of the operation span the gap, its facts carry their own ranges")
        facts = {i: per_tag_ops[i][ident] for i in present}
        newest = facts[present[-1]]
        deprecated = [i for i in present if facts[i]["deprecated"]]

        def fact_entries(getter, make, sort_key):
            seen = collections.defaultdict(set)
            added = {}
            for i in present:
                for key, ann in getter(facts[i]):
                    seen[key].add(i)
                    if ann:
                        added[key] = str(ann)
            entries = []
            for key in seen:
                for since, until in timeline.ranges(seen[key]):
                    entries.append(make(key, since, until))
                first = timeline.versions[min(seen[key])]
                if key in added and added[key] != first and min(seen[key]) > 0:
                    mismatches.append((ident, key, added[key], first))
            entries.sort(key=lambda e: sort_key(e) + (version_key(e["since"]),))
            return entries

        params = fact_entries(
            lambda f: f["parameters"].items(),
            lambda k, s, u: {"name": k[0], "in": k[1], "required": k[2], "since": s, "until": u},
            lambda e: (e["name"], e["in"]))
        request_fields = fact_entries(
            lambda f: (((p, v[0], v[1]), v[2]) for p, v in f["request_fields"].items()),
            lambda k, s, u: {"pointer": k[0], "required": k[1], "type": k[2], "since": s, "until": u},
            lambda e: (e["pointer"],))
        statuses = collections.defaultdict(set)
        for i in present:
            for st in facts[i]["responses"]:
                statuses[st].add(i)
        responses = []
        for st in sorted(statuses, key=status_key):
            def resp(f, st=st):
                return f["responses"].get(st)
            codes = fact_entries(
                lambda f: (((c,), None) for c in (resp(f) or {}).get("errcodes", ())),
                lambda k, s, u: {"code": k[0], "since": s, "until": u},
                lambda e: (e["code"],))
            fields = fact_entries(
                lambda f: (((p, v[0], v[1]), v[2]) for p, v in ((resp(f) or {}).get("fields") or {}).items()),
                lambda k, s, u: {"pointer": k[0], "required": k[1], "type": k[2], "since": s, "until": u},
                lambda e: (e["pointer"],))
            for since, until in timeline.ranges(statuses[st]):
                responses.append({"status": st, "since": since, "until": until, "errcodes": codes if len(runs(statuses[st])) == 1 else
                                  [c for c in codes if within(c, since, until)], "fields": fields if len(runs(statuses[st])) == 1 else
                                  [c for c in fields if within(c, since, until)]})
        desc_codes = fact_entries(
            lambda f: (((c,), None) for c in f["errcodes_in_description"]),
            lambda k, s, u: {"code": k[0], "since": s, "until": u},
            lambda e: (e["code"],))
        op_added = [facts[i]["added"] for i in present if facts[i]["added"]]
        if op_added and str(op_added[-1]) != timeline.versions[present[0]] and present[0] > 0:
            mismatches.append((ident, "operation", str(op_added[-1]), timeline.versions[present[0]]))
        operations.append({
            "api": ident[0],
            "method": ident[1],
            "path": ident[2],
            "operation_id": newest["operation_id"],
            "msc": None,
            "since": timeline.versions[present[0]],
            "until": None if present[-1] == timeline.last else timeline.versions[present[-1]],
            "deprecated_since": timeline.versions[deprecated[0]] if deprecated else None,
            "parameters": params,
            "request_fields": request_fields,
            "responses": responses,
            "errcodes_in_description": desc_codes,
        })
    return per_tag_ops, room_list, err_list, operations, mismatches


def within(entry, since, until):
    lo, hi = version_key(since), version_key(until) if until else (10 ** 6,)
    e_hi = version_key(entry["until"]) if entry["until"] else (10 ** 6,)
    return version_key(entry["since"]) <= hi and e_hi >= lo


def status_key(st):
    return (0, int(st), "") if st.isdigit() else (1, 0, st)


def check_msc4186_text(text, commit):
    """Warn when the hand-written facts no longer match the MSC text they were read from."""
    f = msc4186_facts
    if commit != f.TRANSCRIBED_FROM:
        warn(f"{MSC4186_FILE} changed since scripts/msc4186_facts.py was written "
             f"({f.TRANSCRIBED_FROM[:12]} -> {commit[:12]}): re-read it and update the facts")
    for path in (f.PATH, f.UNSTABLE_PATH):
        if path not in text:
            warn(f"msc4186: the MSC text does not name {path}")
    names = {seg for group in (f.REQUEST_FIELDS, f.RESPONSE_200_FIELDS) for p, _, _ in group
             for seg in p.split("/") if seg and seg != "*"}
    for name in sorted(names):
        # a field is a table row, or (StateStub's `content`) named in a row's comment
        if not re.search(r"^\|\s*`" + re.escape(name) + r"`\s*\|", text, re.M) and f"`{name}`" not in text:
            warn(f"msc4186: the MSC text has no field `{name}`")
    for codes in f.RESPONSE_ERRCODES.values():
        for code in codes:
            if code not in text:
                warn(f"msc4186: the MSC text does not name {code}")


def msc4186_operations():
    f = msc4186_facts

    def field(p, r, t):
        return {"pointer": p, "required": r, "type": t, "since": None, "until": None}

    ops = []
    for path in sorted({f.PATH, f.UNSTABLE_PATH}):
        responses = [{"status": "200", "since": None, "until": None, "errcodes": [],
                      "fields": sorted((field(*x) for x in f.RESPONSE_200_FIELDS), key=lambda e: e["pointer"])}]
        for st in sorted(f.RESPONSE_ERRCODES, key=status_key):
            responses.append({"status": st, "since": None, "until": None,
                              "errcodes": [{"code": c, "since": None, "until": None} for c in sorted(f.RESPONSE_ERRCODES[st])],
                              "fields": []})
        ops.append({
            "api": "msc4186", "method": f.METHOD, "path": path, "operation_id": f.OPERATION_ID,
            "msc": "4186", "since": None, "until": None, "deprecated_since": None,
            "parameters": [],
            "request_fields": sorted((field(*x) for x in f.REQUEST_FIELDS), key=lambda e: e["pointer"]),
            "responses": responses,
            "errcodes_in_description": [],
        })
    for group in (f.REQUEST_FIELDS, f.RESPONSE_200_FIELDS):
        pointers = [x[0] for x in group]
        dupes = {p for p in pointers if pointers.count(p) > 1}
        if dupes:
            warn(f"msc4186_facts: duplicate pointers {sorted(dupes)}")
        for p in pointers:
            parent = p.rsplit("/", 1)[0]
            if parent and parent not in pointers:
                warn(f"msc4186_facts: {p} has no entry for its parent {parent}")
    return ops


# --------------------------------------------------------------------------------------------


def spec_tags(git):
    tags = [t for t in git.tags() if re.fullmatch(r"v1\.\d+", t) and int(t.split(".")[1]) >= 1]
    return sorted(tags, key=lambda t: int(t.split(".")[1]))


def main():
    ap = argparse.ArgumentParser(
        description="Regenerate the spec oracle (src/oracle/spec_oracle.json) from every v1.N tag of "
                    "matrix-org/matrix-spec and from MSC4186 in matrix-org/matrix-spec-proposals.",
        epilog="Both repositories may be checkouts or bare mirrors; they are read with git, at tags / HEAD.")
    ap.add_argument("--spec-repo", required=True, help="matrix-org/matrix-spec checkout or bare git directory (with its v1.N tags)")
    ap.add_argument("--msc-repo", required=True, help="matrix-org/matrix-spec-proposals checkout or bare git directory")
    ap.add_argument("--out", default="src/oracle/spec_oracle.json", help="output file (default: %(default)s)")
    args = ap.parse_args()

    spec = Git(args.spec_repo)
    msc = Git(args.msc_repo)
    tags = spec_tags(spec)
    if not tags:
        sys.exit(f"no v1.N tags in {args.spec_repo}")
    versions = [t[1:] for t in tags]
    timeline = Timeline(versions)

    msc_text_commit = msc.last_commit_of(MSC4186_FILE)
    if not msc_text_commit:
        sys.exit(f"{MSC4186_FILE} not found at HEAD of {args.msc_repo}")
    check_msc4186_text(msc.run("show", f"HEAD:{MSC4186_FILE}"), msc_text_commit)

    per_tag_ops, room_list, err_list, operations, mismatches = build(spec, tags, timeline)
    operations += msc4186_operations()  # sort is stable: same-path variants keep their order
    operations.sort(key=lambda o: (o["api"], o["path"], o["method"]))

    oracle = collections.OrderedDict([
        ("provenance", collections.OrderedDict([
            ("generator", GENERATOR),
            ("spec_repository", SPEC_REPOSITORY),
            ("tags", collections.OrderedDict((t, spec.commit(t)) for t in tags)),
            ("msc_repository", MSC_REPOSITORY),
            # the commit that last changed the MSC text (its merge): stable while the file is
            ("msc4186", collections.OrderedDict([("file", MSC4186_FILE), ("commit", msc_text_commit)])),
        ])),
        ("versions", versions),
        ("room_versions", room_list),
        ("common_errcodes", err_list),
        ("operations", operations),
    ])
    text = json.dumps(oracle, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
    if len(text.encode()) > 4 * 1024 * 1024:
        # one operation per line keeps the file diffable while dropping the indentation
        head = dict(oracle)
        ops = head.pop("operations")
        body = json.dumps(head, indent=1, ensure_ascii=False)[:-2]
        lines = [json.dumps(o, ensure_ascii=False, separators=(",", ":")) for o in ops]
        text = body + ',\n "operations": [\n' + ",\n".join(lines) + "\n ]\n}\n"
    out_dir = os.path.dirname(args.out)
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    spec.close()
    msc.close()

    # summary
    print(f"wrote {args.out}: {len(text.encode())} bytes, {len(operations)} operations, "
          f"{len(room_list)} room versions, {len(err_list)} listed error codes")
    per_api = collections.Counter(o["api"] for o in operations)
    print("operations per api: " + ", ".join(f"{a} {n}" for a, n in sorted(per_api.items())))
    print("operations per tag:")
    for i, tag in enumerate(tags):
        c = collections.Counter(k[0] for k in per_tag_ops[i])
        print(f"  {tag:6} client-server {c['client-server']:4}  server-server {c['server-server']:3}")
    n_fields = sum(len(r["fields"]) for o in operations for r in o["responses"]) + sum(len(o["request_fields"]) for o in operations)
    print(f"field facts: {n_fields}; parameter facts: {sum(len(o['parameters']) for o in operations)}")
    print("room versions: " + ", ".join(f"{r['version']} (since {r['since']}{', until ' + r['until'] if r['until'] else ''})" for r in room_list))
    by_api = collections.Counter(e["api"] for e in err_list)
    print(f"listed error codes: client-server {by_api['client-server']}, server-server {by_api['server-server']}"
          + ("" if by_api["server-server"] else " (content/server-server-api.md has no error-code list)"))
    print(f"x-addedInMatrixVersion disagreeing with the tag diff: {len(mismatches)} (informational)")
    for ident, key, ann, first in mismatches[:10]:
        print(f"  {ident[1]} {ident[2]} {key}: annotated {ann}, first seen in {first}")
    print(f"warnings: {len(WARNINGS)}")
    for w in WARNINGS:
        print("  warning: " + w)


if __name__ == "__main__":
    main()
