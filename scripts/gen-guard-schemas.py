#!/usr/bin/env python3
"""Generates crates/gregor/src/net/guard/schemas/, the response layouts that the pre-decode guard
(crates/gregor/src/net/guard.rs) walks, from the decoders of the kafka-protocol crate itself.

Why generated: the layouts are wire-format facts (which field, which type, in which versions,
which tag) for ~90 responses; written by hand they would be wrong somewhere. Why from the crate's
sources: the guard must follow exactly the layout the crate decodes (including where the crate's
generator differs from Kafka's Java one, e.g. a nullable struct is read with an INT8 marker in
every version), and the crate's sources are on every machine that builds gregor: the script
needs no network, only the crate in Cargo's registry (`cargo fetch` puts it there).

Input: `src/messages.rs` (API keys) and `src/messages/*_response.rs` of the kafka-protocol
version in Cargo.lock, found under $CARGO_HOME/registry/src (or given with --crate-dir). The
decoders there are generated code of a fixed shape:

    let name = types::Int32.decode(buf)?;                       a field in every version
    let name = if version >= 7 { types::Int16.decode(buf)? }    a field in some versions
               else { 0 };                                      (else: default, not on the wire)
    let name = if version >= 12 { types::CompactArray(..) }     compact encodings in flexible
               else { types::Array(..) };                       versions
    if version >= 12 { .. num_tagged_fields ..                  the tag section, from the first
        match tag { 0 => { if version >= 16 { name = ..} } }    flexible version; known tags

Anything that does not fit that shape stops the script with an error naming the struct, rather
than producing a layout that could part from the decoder.

Usage:
    python3 scripts/gen-guard-schemas.py [--crate-dir DIR] [--check]

--check exits non-zero when the committed files differ from what would be generated (nothing is
written).
"""

import argparse
import glob
import os
import re
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT_DIR = os.path.join(ROOT, "crates", "gregor", "src", "net", "guard", "schemas")
ALL = 0x7FFF
# Generated files stay under the project's ~1,000-line limit: APIs are grouped by key order
# into files of at most this many lines.
MAX_LINES = 900

SCALARS = {
    "Boolean": "Bool",
    "Int8": "I8",
    "Int16": "I16",
    "UInt16": "U16",
    "Int32": "I32",
    "Int64": "I64",
    "Float64": "F64",
    "Uuid": "Uuid",
    "String": "Str",
    "CompactString": "Str",
    "Bytes": "Bytes",
    "CompactBytes": "Bytes",
}
# Encodings whose length prefix is a varint (flexible versions) rather than an INT16/INT32.
COMPACT = {"CompactString", "CompactBytes", "CompactArray"}
WIDE = {"String", "Bytes", "Array"}


def fail(msg):
    sys.exit(f"gen-guard-schemas.py: {msg}")


def crate_version():
    lock = open(os.path.join(ROOT, "Cargo.lock")).read()
    m = re.search(r'name = "kafka-protocol"\nversion = "([^"]+)"', lock)
    if not m:
        fail("kafka-protocol is not in Cargo.lock")
    return m.group(1)


def find_crate(version):
    home = os.environ.get("CARGO_HOME", os.path.expanduser("~/.cargo"))
    hits = sorted(glob.glob(os.path.join(home, "registry", "src", "*", f"kafka-protocol-{version}")))
    if not hits:
        fail(f"kafka-protocol {version} is not in {home}/registry/src: run `cargo fetch --locked` first")
    return hits[0]


def snake(name):
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def vstr(v):
    return "ALL" if v == ALL else str(v)


def cond_versions(cond, lo, hi):
    """The versions in lo..=hi for which a condition such as `version >= 4 && version <= 12`
    holds."""
    vs = set(range(lo, hi + 1))
    for part in cond.split("&&"):
        m = re.fullmatch(r"\s*version\s*(>=|<=|==|!=|<|>)\s*(\d+)\s*", part)
        if not m:
            fail(f"unexpected version condition `{cond}`")
        op, n = m.group(1), int(m.group(2))
        test = {
            ">=": lambda v: v >= n,
            "<=": lambda v: v <= n,
            "==": lambda v: v == n,
            "!=": lambda v: v != n,
            "<": lambda v: v < n,
            ">": lambda v: v > n,
        }[op]
        vs = {v for v in vs if test(v)}
    return vs


def ranges(vs):
    """Sorted, contiguous (first, last) runs of a set of versions."""
    out = []
    for v in sorted(vs):
        if out and out[-1][1] == v - 1:
            out[-1][1] = v
        else:
            out.append([v, v])
    return [tuple(r) for r in out]


def matching_brace(text, open_at):
    depth = 0
    for i in range(open_at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    fail("unbalanced braces")


class File:
    """One `*_response.rs` of kafka-protocol: its structs' field types and decoders."""

    def __init__(self, path):
        self.path = path
        text = open(path).read()
        self.text = text
        self.field_types = {}
        for m in re.finditer(r"\npub struct (\w+) \{", text):
            end = matching_brace(text, m.end() - 1)
            body = text[m.end() : end]
            self.field_types[m.group(1)] = dict(re.findall(r"\n\s*pub (\w+): ([^\n]+),", body))
        self.decoders = {}
        for m in re.finditer(r"\nimpl Decodable for (\w+) \{", text):
            end = matching_brace(text, m.end() - 1)
            fn = re.search(r"fn decode<B: ByteBuf>\(buf: &mut B, version: i16\) -> Result<Self> \{", text[m.start() : end])
            if not fn:
                fail(f"{path}: {m.group(1)}: no decode function")
            start = m.start() + fn.end()
            self.decoders[m.group(1)] = text[start : matching_brace(text, start - 1)]
        self.versions = {}
        for m in re.finditer(r"impl Message for (\w+) \{\s*const VERSIONS: VersionRange = VersionRange \{ min: (\d+), max: (\d+) \}", text):
            self.versions[m.group(1)] = (int(m.group(2)), int(m.group(3)))


class Gen:
    """The layout statics of one response, from its file."""

    def __init__(self, api, key, file):
        self.api = api
        self.key = key
        self.file = file
        self.top = f"{api}Response"
        self.prefix = snake(api).upper()
        if self.top not in file.versions:
            fail(f"{file.path}: no VERSIONS for {self.top}")
        self.valid = file.versions[self.top]
        self.flexible_from = None
        self.statics = []  # (static name, rust source), children before parents
        self.defined = set()

    def static_name(self, struct):
        return self.prefix if struct == self.top else f"{self.prefix}_{snake(struct).upper()}"

    def struct_of(self, struct, field):
        """The struct type a `types::Struct`/`OptionStruct` field holds (`Vec<X>`, `Option<X>`)."""
        decl = self.file.field_types.get(struct, {}).get(field)
        if decl is None:
            fail(f"{self.file.path}: {struct}.{field}: no declaration")
        words = [w for w in re.findall(r"\w+", decl) if w not in ("Option", "Vec", "super", "crate", "messages")]
        if len(words) != 1 or words[0] not in self.file.decoders:
            fail(f"{self.file.path}: {struct}.{field}: cannot tell the struct in `{decl}`")
        return self.struct_ref(words[0])

    def ty(self, expr, struct, field):
        """The guard's `Ty` for a decoder expression, and whether its length prefix is compact
        (None when it has none)."""
        expr = expr.strip()
        m = re.fullmatch(r"types::(Compact)?Array\((.*)\)", expr, re.S)
        if m:
            inner, _ = self.ty(m.group(2), struct, field)
            return f"Arr(&{inner})", bool(m.group(1))
        if re.fullmatch(r"types::Struct \{ version \}", expr):
            return f"Obj(&{self.struct_of(struct, field)})", None
        if re.fullmatch(r"types::OptionStruct \{ version \}", expr):
            return f"NullableObj(&{self.struct_of(struct, field)})", None
        m = re.fullmatch(r"types::(\w+)", expr)
        if m and m.group(1) in SCALARS:
            name = m.group(1)
            return SCALARS[name], (True if name in COMPACT else False if name in WIDE else None)
        fail(f"{self.file.path}: {struct}.{field}: unknown decoder `{expr}`")

    def check_compact(self, struct, field, compact, vs):
        """Compact encodings exactly in the flexible versions: the walker reads lengths by the
        version's flexibility, so a decoder that did otherwise must stop the script."""
        if compact is None:
            return
        for v in vs:
            if compact != (v >= self.flexible_from):
                fail(f"{self.file.path}: {struct}.{field} v{v}: compact={compact}, flexible from v{self.flexible_from}")

    def struct_ref(self, struct):
        static = self.static_name(struct)
        if static not in self.defined:
            self.defined.add(static)
            self.struct(struct, static)
        return static

    def branches(self, struct, field, src, vs):
        """The (versions, decoder expression) pairs of a field's value: a decode call, a default
        (not on the wire), or an `if version .. {} else if .. {} else {}` chain of those."""
        src = src.strip()
        if not src.startswith("if "):
            d = re.fullmatch(r"(.*)\.decode\(buf\)\?", src, re.S)
            if d:
                return [(vs, d.group(1))]
            if ".decode(" in src:
                fail(f"{self.file.path}: {struct}.{field}: unexpected value `{src[:120]}`")
            return []  # a default value
        out, left = [], set(vs)
        while src:
            m = re.match(r"(?:else\s+)?if (version[^{]*?) \{", src)
            if m:
                cond = cond_versions(m.group(1), min(vs), max(vs)) & left
            elif re.match(r"else \{", src):
                m, cond = re.match(r"else \{", src), left
            else:
                fail(f"{self.file.path}: {struct}.{field}: unexpected `{src[:120]}`")
            close = matching_brace(src, m.end() - 1)
            out += self.branches(struct, field, src[m.end() : close], cond)
            left = left - cond
            src = src[close + 1 :].strip()
        return out

    def struct(self, struct, static):
        src = self.file.decoders.get(struct)
        if src is None:
            fail(f"{self.file.path}: no decoder for {struct}")
        lo, hi = self.file.versions.get(struct, self.valid)
        if (lo, hi) != self.valid:
            fail(f"{self.file.path}: {struct} has versions {lo}-{hi}, its response {self.valid}")
        # The leading version check (`if version < 4 || version > 18 { bail!(..) }`).
        src = re.sub(r"^\s*if version[^{]*\{\s*bail!\([^;]*;\s*\}", "", src, count=1, flags=re.S)
        # Never-flexible messages (SaslHandshake, OffsetDelete) have no tag-section code.
        split = src.find("let mut unknown_tagged_fields")
        body, tags = (src[: src.rindex("Ok(Self {")], "") if split < 0 else (src[:split], src[split:])

        # The tag section: where it is read says which versions are flexible.
        m = re.search(r"(?:if (version[^{]*?) \{\s*)?let num_tagged_fields", tags)
        if not m:
            flexible = set()
        elif m.group(1):
            flexible = cond_versions(m.group(1), lo, hi)
        else:
            flexible = set(range(lo, hi + 1))
        flex_from = min(flexible) if flexible else ALL
        if flexible and flexible != set(range(flex_from, hi + 1)):
            fail(f"{self.file.path}: {struct}: flexible versions are not a suffix: {sorted(flexible)}")
        if self.flexible_from is None:
            self.flexible_from = flex_from
        elif self.flexible_from != flex_from:
            fail(f"{self.file.path}: {struct}: flexible from v{flex_from}, the response from v{self.flexible_from}")

        fields = []
        for stmt in re.split(r"\n\s*(?=let )", body):
            stmt = stmt.strip()
            if ".decode(buf)" not in stmt:
                continue  # `let mut tagged = Default::default();`
            m = re.match(r"let (\w+) = ", stmt)
            if not m:
                fail(f"{self.file.path}: {struct}: unexpected statement `{stmt[:80]}`")
            name, rest = m.group(1), stmt[m.end() :]
            branches = self.branches(struct, name, rest.rstrip(";"), set(range(lo, hi + 1)))
            # One entry per Ty and contiguous run of versions (compact and wide encodings of
            # one field are one Ty: the walker reads lengths by the version's flexibility).
            merged = {}
            for vs, expr in branches:
                ty, compact = self.ty(expr, struct, name)
                self.check_compact(struct, name, compact, vs)
                merged.setdefault(ty, set()).update(vs)
            for ty, vs in merged.items():
                for a, b in ranges(vs):
                    fields.append((name, ty, a, b))

        tagged = []
        mt = re.search(r"match tag \{", tags)
        if mt:
            arms = tags[mt.end() : matching_brace(tags, mt.end() - 1)]
            for arm in re.finditer(r"(\d+) => \{", arms):
                arm_src = arms[arm.end() : matching_brace(arms, arm.end() - 1)]
                a = re.fullmatch(r"\s*(?:if (version[^{]*?) \{\s*)?(\w+) =\s*(.*?)\.decode\(buf\)\?;\s*(?:\}\s*else\s*\{\s*bail!\(.*\);\s*\}\s*)?", arm_src, re.S)
                if not a:
                    fail(f"{self.file.path}: {struct}: unexpected tag arm `{arm_src.strip()[:120]}`")
                vs = cond_versions(a.group(1), lo, hi) if a.group(1) else set(range(lo, hi + 1))
                vs &= flexible
                ty, compact = self.ty(a.group(3), struct, a.group(2))
                # A tagged nullable struct is read as a plain struct (no marker) inside the tag
                # section: kafka-protocol decodes it with `types::Struct`, as the pattern shows.
                self.check_compact(struct, a.group(2), compact, vs)
                for x, y in ranges(vs):
                    tagged.append((int(arm.group(1)), a.group(2), ty, x, y))

        # `Struct::new(&[fields], &[tagged fields])`, one field a line.
        body = []
        for name, ty, a, b in fields:
            # A field in every version of its response is written without versions, so
            # that structs shared by several responses (a KIP-848 assignment, a topic's
            # partitions) come out identical and are emitted once (see `share`).
            if (a, b) == (lo, hi):
                body.append(f'    a("{name}", {ty}),')
            else:
                body.append(f'    f("{name}", {ty}, {a}, {b}),')
        tags = [f'    t({tag}, "{name}", {ty}, {a}, {b}),' for tag, name, ty, a, b in sorted(tagged)]
        open_fields = f"static {static}: Struct = Struct::new(&["
        lines = [open_fields, *body, "], &["] if body else [open_fields + "], &["]
        lines = lines + [*tags, "]);"] if tags else lines[:-1] + [lines[-1] + "]);"]
        self.statics.append((static, "\n".join(lines)))

    def generate(self):
        self.struct_ref(self.top)
        return {
            "key": self.key,
            "api": self.api,
            "versions": self.valid,
            "flexible_from": self.flexible_from,
            "top": self.prefix,
            "key_top": self.prefix,
            "statics": self.statics,
        }


REF = re.compile(r"((?:Nullable)?Obj)\(&(\w+)\)")


def share(apis):
    """Emits each distinct struct once: a struct identical to one an earlier API (in key order)
    already has is dropped and its users point at the earlier static, which keeps its name."""
    seen, alias = {}, {}
    for a in apis:
        kept = []
        for static, src in a["statics"]:
            src = REF.sub(lambda m: f"{m.group(1)}(&{alias.get(m.group(2), m.group(2))})", src)
            body = src.split(" = ", 1)[1]
            if body in seen:
                alias[static] = seen[body]
                continue
            seen[body] = static
            kept.append((static, src))
        a["statics"] = kept
        a["top"] = alias.get(a["top"], a["top"])


def generate(crate_dir, version):
    messages = open(os.path.join(crate_dir, "src", "messages.rs")).read()
    enum = re.search(r"pub enum ApiKey \{(.*?)\n\}", messages, re.S)
    if not enum:
        fail("no `pub enum ApiKey` in messages.rs")
    apis = []
    for api, key in re.findall(r"\n\s*(\w+) = (\d+),", enum.group(1)):
        path = os.path.join(crate_dir, "src", "messages", f"{snake(api)}_response.rs")
        if not os.path.exists(path):
            fail(f"{api}: no {path}")
        apis.append(Gen(api, int(key), File(path)).generate())
    apis.sort(key=lambda a: a["key"])
    share(apis)

    header = [
        f"// @generated by scripts/gen-guard-schemas.py from the response decoders of kafka-protocol {version}",
        "// (src/messages/*_response.rs). Do not edit: rerun the script.",
    ]
    # The per-API statics, grouped into files by key order.
    groups, cur, cur_lines = [], [], 0
    for a in apis:
        n = sum(src.count("\n") + 2 for _, src in a["statics"]) + 2
        if cur and cur_lines + n > MAX_LINES:
            groups.append(cur)
            cur, cur_lines = [], 0
        cur.append(a)
        cur_lines += n
    groups.append(cur)

    mods = [f"keys_{g[0]['key']:03}_{g[-1]['key']:03}" for g in groups]
    owner = {static: mod for g, mod in zip(groups, mods) for a in g for static, _ in a["statics"]}
    # Visible to the other files: the tops (for SCHEMAS) and structs another file shares.
    exported = {a["top"] for a in apis}

    def qualify(src, mod):
        def one(m):
            target = m.group(2)
            if owner[target] == mod:
                return m.group(0)
            exported.add(target)
            return f"{m.group(1)}(&super::{owner[target]}::{target})"

        return REF.sub(one, src)

    qualified = {mod: [[(st, qualify(src, mod)) for st, src in a["statics"]] for a in g] for g, mod in zip(groups, mods)}
    files = {}
    for g, mod in zip(groups, mods):
        used = {h for statics in qualified[mod] for _, src in statics for h in re.findall(r"\b([aft])\(", src)}
        helpers = ", ".join(h for h in ("a", "f", "t") if h in used) + ", Struct"
        out = header + [
            "",
            "use super::super::Ty::*;",
            f"use super::super::{{{helpers}}};",
        ]
        for a, statics in zip(g, qualified[mod]):
            lo, hi = a["versions"]
            flex = "never flexible" if a["flexible_from"] == ALL else f"flexible from v{a['flexible_from']}"
            out.append("")
            out.append(f"// ----- {a['api']} (key {a['key']}), v{lo}-v{hi}, {flex} " + "-" * max(0, 60 - len(a["api"])))
            if a["top"] != a["key_top"]:
                out.append(f"// The same layout as {a['top']}.")
            for static, src in statics:
                out.append("")
                out.append(src.replace(f"static {static}:", f"pub(super) static {static}:", 1) if static in exported else src)
        files[f"{mod}.rs"] = "\n".join(out) + "\n"

    out = header + [
        "//",
        "// One static per distinct response struct: `a(name, type)` for a body field in every version",
        "// of its response, `f(name, type, first version, last version)` for one in some, and",
        "// `t(tag, name, type, first version, last version)` for a tagged field. A struct identical to",
        "// one of an earlier API is not written again: both point at the earlier static.",
        "",
        "use super::{Schema, ALL};",
        "",
    ]
    for mod in mods:
        out.append(f"mod {mod};")
    out += ["", "/// Every response layout, by API key.", f"pub(super) static SCHEMAS: [Schema; {len(apis)}] = ["]
    for g, mod in zip(groups, mods):
        for a in g:
            lo, hi = a["versions"]
            out.append(
                f'    Schema {{ api_key: {a["key"]}, name: "{a["api"]}", versions: ({lo}, {hi}), '
                f'flexible_from: {vstr(a["flexible_from"])}, body: &{owner[a["top"]]}::{a["top"]} }},'
            )
    out.append("];")
    out += [
        "",
        "/// Encodes `api_key`'s response type with default values (for the guard's tests).",
        "#[cfg(test)]",
        "pub(super) fn encode_default(api_key: i16, version: i16) -> Option<Result<Vec<u8>, String>> {",
        "    use kafka_protocol::messages as m;",
        "    fn enc<T: kafka_protocol::protocol::Encodable>(m: &T, version: i16) -> Result<Vec<u8>, String> {",
        "        let mut b = bytes::BytesMut::new();",
        "        m.encode(&mut b, version).map(|_| b.to_vec()).map_err(|e| e.to_string())",
        "    }",
        "    Some(match api_key {",
    ]
    for a in apis:
        out.append(f"        {a['key']} => enc(&m::{a['api']}Response::default(), version),")
    out += ["        _ => return None,", "    })", "}"]
    files["mod.rs"] = "\n".join(out) + "\n"
    return files, len(apis)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--crate-dir", help="kafka-protocol's source directory (default: the Cargo.lock version in Cargo's registry)")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    version = crate_version()
    crate_dir = args.crate_dir or find_crate(version)
    files, n = generate(crate_dir, version)

    present = {os.path.basename(p) for p in glob.glob(os.path.join(OUT_DIR, "*.rs"))}
    if args.check:
        stale = [name for name, text in files.items() if not os.path.exists(os.path.join(OUT_DIR, name)) or open(os.path.join(OUT_DIR, name)).read() != text]
        stale += sorted(present - set(files))
        if stale:
            fail(f"{OUT_DIR}: {', '.join(stale)} not what the script generates from kafka-protocol {version}; rerun it")
        print(f"{OUT_DIR} is current ({n} responses, kafka-protocol {version})")
        return
    os.makedirs(OUT_DIR, exist_ok=True)
    for name in present - set(files):
        os.remove(os.path.join(OUT_DIR, name))
    for name, text in files.items():
        with open(os.path.join(OUT_DIR, name), "w") as fh:
            fh.write(text)
    lines = max(t.count("\n") for t in files.values())
    print(f"wrote {OUT_DIR}: {n} responses in {len(files)} files (longest {lines} lines), kafka-protocol {version}")


if __name__ == "__main__":
    main()
