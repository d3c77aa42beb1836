"""JSON files merged key by key, written back into upstream's own text.

Duplicate keys are detected (plain ``json.loads`` keeps the last one silently) and make the
resolver decline. The merged value is spliced into upstream's text: what upstream
already had keeps its bytes, and only changed or added values are newly written, in the
indentation and separators of their neighbours.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .model import Context, Decision, Versions
from .threeway import (
    MISSING,
    Decline,
    Notes,
    attempt,
    dotted,
    merge_appends,
    one_sided,
    pick,
    same,
    weave,
)

RULE = "json"


class JsonResolver:
    name = "json"

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        if not v.path.lower().endswith(".json") or v.kind not in ("content", "add/add"):
            return None
        if v.fork is None or v.upstream is None:
            return None
        notes = Notes()
        fork, upstream = v.fork, v.upstream
        return attempt(RULE, "JSON", notes, lambda: merge_json(v.base, fork, upstream, notes))


def merge_json(base: bytes | None, fork: bytes, upstream: bytes, notes: Notes) -> bytes:
    """The merged file; raises Decline when a key changed differently on both sides."""
    settled = one_sided(base, fork, upstream, notes)
    if settled is not None:
        return settled
    fork_text = _text(fork, "fork")
    up_text = _text(upstream, "upstream")
    fork_value = _load(fork_text, "fork")
    up_value = _load(up_text, "upstream")
    base_value: Any = MISSING if base is None else _load(_text(base, "base"), "base")
    if base_value is MISSING and isinstance(fork_value, dict) and isinstance(up_value, dict):
        base_value = {}
        notes.add("", "file added on both sides: merged as two sets of keys", confidence=0.95)
    merged = _merge(base_value, fork_value, up_value, (), notes)
    result = splice(up_text, merged, fork_text)
    if json.dumps(_load(result, "merged")) != json.dumps(merged):  # order- and type-exact
        raise Decline("splicing the merge into upstream's text changed its meaning")
    return result.encode("utf-8")


def _text(data: bytes, side: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Decline(f"the {side}'s file is not UTF-8") from None


def _load(text: str, side: str) -> Any:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                raise Decline(f"duplicate key {key!r} in the {side}'s file")
            out[key] = value
        return out

    try:
        return json.loads(text.removeprefix("\ufeff"), object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise Decline(f"the {side}'s file is not valid JSON ({exc.msg}, line {exc.lineno})") from None


def _merge(base: Any, fork: Any, upstream: Any, path: tuple[str, ...], notes: Notes) -> Any:
    if base is MISSING and isinstance(fork, dict) and isinstance(upstream, dict) and not same(fork, upstream):
        notes.add(dotted(path), "object added on both sides: merged as two sets of keys", confidence=0.95)
        base = {}
    if isinstance(fork, dict) and isinstance(upstream, dict) and isinstance(base, dict):
        return _merge_object(base, fork, upstream, path, notes)
    where = dotted(path) or "(top level)"
    side = pick(base, fork, upstream)
    if side is not None:
        _note(base, fork, upstream, side, where, notes)
        return fork if side == "fork" else upstream
    if isinstance(fork, list) and isinstance(upstream, list) and isinstance(base, list):
        try:
            merged, how = merge_appends(base, fork, upstream)
        except Decline:
            raise Decline(f"{where}: both sides changed the array differently") from None
        notes.add(where, how, confidence=0.95)
        return merged
    raise Decline(f"{where}: changed differently on both sides")


def _merge_object(
    base: dict[str, Any], fork: dict[str, Any], upstream: dict[str, Any], path: tuple[str, ...], notes: Notes
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in [*upstream, *(k for k in fork if k not in upstream), *(k for k in base if k not in upstream)]:
        if key in values:
            continue
        value = _merge(
            base.get(key, MISSING), fork.get(key, MISSING), upstream.get(key, MISSING), (*path, key), notes
        )
        if value is not MISSING:
            values[key] = value
    kept = [k for k in upstream if k in values]
    added = [k for k in fork if k in values and k not in upstream]
    order = weave(kept, list(fork), added, key=lambda k: k)
    return {k: values[k] for k in order}


def _note(base: Any, fork: Any, upstream: Any, side: str, where: str, notes: Notes) -> None:
    if side == "fork":
        notes.add(where, _change(base, fork, "fork"))
    elif not same(upstream, base):
        both = same(fork, upstream)
        notes.add(where, "same change on both sides" if both else _change(base, upstream, "upstream"))


def _change(base: Any, new: Any, who: str) -> str:
    who = "the fork" if who == "fork" else who
    if base is MISSING:
        return f"added by {who}"
    if new is MISSING:
        return f"removed by {who}"
    return f"changed by {who}"


# -- writing the merged value into upstream's text ------------------------------------------

_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass
class Node:
    """A value of upstream's file and where its text is; members are (key, key_start, key_end, node)."""

    start: int
    end: int
    value: Any
    members: list[tuple[str, int, int, Node]] = field(default_factory=list)
    kind: str = "scalar"


@dataclass(frozen=True)
class Layout:
    unit: str | None  # one indentation level, None when the file is on one line
    newline: str
    ensure_ascii: bool
    inline_seps: tuple[str, str]


def splice(text: str, merged: Any, donor: str | None = None) -> str:
    """``text`` (upstream's file) changed to hold ``merged``, keeping every untouched byte.
    Values that ``donor`` (the fork's file) holds verbatim are copied with their layout."""
    try:
        root = _parse(text, _skip(text))
        fork = Donor(donor, _parse(donor, _skip(donor)), _unit(donor)) if donor is not None else None
    except (ValueError, IndexError):
        raise Decline("a file could not be mapped for splicing") from None
    compact = "\n" not in text
    layout = Layout(
        unit=None if compact else (_unit(text) or "  "),
        newline="\r\n" if "\r\n" in text else "\n",
        ensure_ascii=text.isascii() and "\\u" in text,
        inline_seps=(",", ":") if compact and ": " not in text and ", " not in text else (", ", ": "),
    )
    out = _emit(text, root, merged, layout, _indent_of(text, root.start), fork.root if fork else None, fork)
    return text[: root.start] + out + text[root.end :]


@dataclass(frozen=True)
class Donor:
    text: str
    root: Node
    unit: str | None


def _unit(text: str) -> str | None:
    match = re.search(r"\n([ \t]+)\S", text)
    return match.group(1) if match else None


def _skip(text: str) -> int:
    return len(text) - len(text.lstrip("\ufeff \t\r\n"))


def _parse(text: str, i: int) -> Node:
    i = _WS.match(text, i).end()  # type: ignore[union-attr]
    char = text[i]
    if char not in "{[":
        value, end = _DECODER.raw_decode(text, i)
        return Node(i, end, value)
    close = "}" if char == "{" else "]"
    start, i = i, _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    members: list[tuple[str, int, int, Node]] = []
    while text[i] != close:
        key, key_start, key_end = "", i, i
        if char == "{":
            key, key_end = _DECODER.raw_decode(text, i)
            i = _WS.match(text, key_end).end()  # type: ignore[union-attr]
            if text[i] != ":":
                raise ValueError("':' expected")
            i += 1
        child = _parse(text, i)
        members.append((key, key_start, key_end, child))
        i = _WS.match(text, child.end).end()  # type: ignore[union-attr]
        if text[i] == ",":
            i = _WS.match(text, i + 1).end()  # type: ignore[union-attr]
    if char == "{":
        return Node(start, i + 1, {k: n.value for k, _, _, n in members}, members, "object")
    return Node(start, i + 1, [n.value for _, _, _, n in members], members, "array")


def _identical(a: Any, b: Any) -> bool:
    return json.dumps(a) == json.dumps(b)  # order- and type-exact: 1, 1.0 and true differ


def _indent_of(text: str, pos: int) -> str | None:
    line_start = text.rfind("\n", 0, pos) + 1
    prefix = text[line_start:pos]
    return prefix if prefix.strip() == "" else None


def _emit(
    text: str,
    node: Node | None,
    value: Any,
    layout: Layout,
    indent: str | None,
    fnode: Node | None,
    fork: Donor | None,
) -> str:
    if node is not None and _identical(value, node.value):
        return text[node.start : node.end]
    if node is not None and node.members and node.kind == "object" and isinstance(value, dict):
        return _emit_container(text, node, list(value.items()), layout, fnode, fork)
    if node is not None and node.members and node.kind == "array" and isinstance(value, list):
        return _emit_container(text, node, [("", v) for v in value], layout, fnode, fork)
    if fork is not None and fnode is not None and _identical(value, fnode.value):
        moved = _reindent(fork, fnode, indent, layout)
        if moved is not None:
            return moved
    return _fresh(value, layout, indent)


def _reindent(fork: Donor, node: Node, indent: str | None, layout: Layout) -> str | None:
    """The fork's text of ``node``, shifted to ``indent``; None when that cannot be done cleanly."""
    text = fork.text
    body = text[node.start : node.end].replace("\r\n", "\n")
    if "\n" not in body:
        return body
    if indent is None or fork.unit != layout.unit:
        return None
    line_start = text.rfind("\n", 0, node.start) + 1
    own = re.match(r"[ \t]*", text[line_start:])
    prefix = own.group(0) if own else ""
    lines = body.split("\n")
    if not all(line.startswith(prefix) for line in lines[1:]):
        return None
    return layout.newline.join([lines[0], *(indent + line[len(prefix) :] for line in lines[1:])])


def _child(fnode: Node | None, key: str, value: Any, is_object: bool) -> Node | None:
    if fnode is None:
        return None
    for k, _, _, n in fnode.members:
        if (k == key) if is_object else _identical(n.value, value):
            return n
    return None


def _emit_container(
    text: str,
    node: Node,
    items: list[tuple[str, Any]],
    layout: Layout,
    fnode: Node | None,
    fork: Donor | None,
) -> str:
    is_object = node.kind == "object"
    members = node.members
    open_, close = ("{", "}") if is_object else ("[", "]")
    if not items:
        return open_ + close
    lead = text[node.start + 1 : members[0][1]]
    tail = text[members[-1][3].end : node.end - 1]
    after = {id(members[i][3]): text[members[i][3].end : members[i + 1][1]] for i in range(len(members) - 1)}
    common = next(iter(after.values()), None) or ("," + lead if "\n" in lead else layout.inline_seps[0])
    inner = lead[lead.rfind("\n") + 1 :] if "\n" in lead else None
    colon = text[members[0][2] : members[0][3].start] if is_object else ""
    by_member = {m[0]: m for m in members} if is_object else {}
    unused = list(members)
    parts: list[str] = []
    previous: Node | None = None
    for key, value in items:
        old: Node | None = by_member[key][3] if key in by_member else None
        if not is_object:
            found = next((m for m in unused if _identical(m[3].value, value)), None)
            if found is not None:
                old = found[3]
                unused = unused[unused.index(found) + 1 :]
        if parts:
            parts.append(after.get(id(previous), common) if previous is not None else common)
        if is_object:
            member = by_member.get(key)
            if member is not None:
                parts.append(text[member[1] : member[3].start])
            else:
                parts.append(json.dumps(key, ensure_ascii=layout.ensure_ascii) + colon)
        child = _child(fnode, key, value, is_object)
        parts.append(_emit(text, old, value, layout, inner, child, fork))
        previous = old
    return open_ + lead + "".join(parts) + tail + close


def _fresh(value: Any, layout: Layout, indent: str | None) -> str:
    if indent is None or layout.unit is None:
        return json.dumps(value, ensure_ascii=layout.ensure_ascii, separators=layout.inline_seps)
    out = json.dumps(value, ensure_ascii=layout.ensure_ascii, indent=layout.unit, separators=(",", ": "))
    return out.replace("\n", layout.newline + indent)
