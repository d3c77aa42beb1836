"""YAML files merged key by key with ruamel.yaml's round-trip model, comments kept.

ruamel does not always give back a file byte for byte, so the merged document is never
written as a plain re-dump: its edits (in "dump space": upstream re-dumped → merged
re-dumped) are spliced into upstream's own text with `git merge-file`, and if they do not
apply cleanly the resolver declines. Lists of scalars that both sides extended are merged
as ordered sets, which keeps a fork's CI trigger (`branches: [main, fork-branch]`) while
upstream edits the same list.
"""

from __future__ import annotations

import copy
import io
from typing import Any

from .conflicts import merge_file
from .model import Context, Decision, Versions
from .threeway import (
    MISSING,
    Decline,
    Notes,
    attempt,
    dotted,
    merge_appends,
    merge_set,
    one_sided,
    pick,
    same,
    weave,
)

RULE = "yaml"
# Bounds: ruamel.yaml (pure Python) loads ~25 kB/s on a busy CI core; past these, decline (say so).
MAX_BYTES = 512 * 1024
MAX_NODES = 200_000
# (mapping, sequence, offset) indentations tried, most common first; width keeps long lines whole.
INDENTS = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4), (4, 4, 0), (3, 3, 0))


class YamlResolver:
    name = "yaml"

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        if not v.path.lower().endswith((".yml", ".yaml")) or v.kind not in ("content", "add/add"):
            return None
        if v.fork is None or v.upstream is None:
            return None
        notes = Notes()
        fork, upstream = v.fork, v.upstream
        return attempt(RULE, "YAML", notes, lambda: merge_yaml(v.base, fork, upstream, notes))


def _yaml(indent: tuple[int, int, int]) -> Any:
    from ruamel.yaml import YAML

    y = YAML(typ="rt", pure=True)
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=indent[0], sequence=indent[1], offset=indent[2])
    return y


def _load(y: Any, text: str, side: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        docs = list(y.load_all(text))
    except YAMLError as exc:
        raise Decline(f"the {side}'s file is not valid YAML ({str(exc).splitlines()[0]})") from None
    if len(docs) > 1:
        raise Decline(f"the {side}'s file holds {len(docs)} YAML documents")
    doc = docs[0] if docs else None
    if expanded_size(doc, MAX_NODES) > MAX_NODES:
        raise Decline(f"the {side}'s file expands to more than {MAX_NODES} values (aliases): not merged")
    return doc


def expanded_size(doc: Any, limit: int) -> int:
    """How many values ``doc`` has once every alias is expanded, counted in time linear in the
    shared graph (an alias is a shared reference after loading; walking it naively is
    exponential: a 430-byte alias bomb took 248 s and 4.1 GB). Stops counting past ``limit``."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Any) -> int:
        if not isinstance(node, dict | list):
            return 1
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise Decline("a YAML alias refers to itself")
        active.add(key)
        total = 1
        for child in node.items() if isinstance(node, dict) else node:
            total += sum(size(c) for c in child) if isinstance(node, dict) else size(child)
            if total > limit:
                break
        active.discard(key)
        sizes[key] = total
        return total

    return size(doc)


def _dump(y: Any, doc: Any) -> str:
    out = io.StringIO()
    y.dump(doc, out)
    return out.getvalue()


def _text(data: bytes, side: str) -> str:
    if len(data) > MAX_BYTES:
        raise Decline(f"the {side}'s file is over {MAX_BYTES // 1024} kB: too large for a key-level merge")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Decline(f"the {side}'s file is not UTF-8") from None


def _style(text: str) -> Any:
    """The indentation settings that re-dump ``text`` with the fewest changed lines.

    The text is loaded once: indentation is the dumper's setting, not the loader's, and each
    load of a workflow file cost more than all the dumps (six loads were 0.1 s of a merge)."""
    best: tuple[int, Any] | None = None
    doc = _load(_yaml(INDENTS[0]), text, "upstream")
    for indent in INDENTS:
        y = _yaml(indent)
        try:
            dumped = _dump(y, doc)
        except Exception:  # a layout ruamel cannot re-emit under these settings
            continue
        if dumped == text:
            return y
        changed = len(set(dumped.splitlines()) ^ set(text.splitlines()))
        if best is None or changed < best[0]:
            best = (changed, y)
    if best is None:
        raise Decline("upstream's file cannot be re-emitted by ruamel.yaml")
    return best[1]


def merge_yaml(base: bytes | None, fork: bytes, upstream: bytes, notes: Notes) -> bytes:
    """Upstream's text with the fork's key-level changes spliced in; Decline when they collide."""
    settled = one_sided(base, fork, upstream, notes)
    if settled is not None:
        return settled
    up_text, fork_text = _text(upstream, "upstream"), _text(fork, "fork")
    base_text = _text(base, "base") if base is not None else ""
    y = _style(up_text)
    b, f, u = (_load(y, t, s) for t, s in ((base_text, "base"), (fork_text, "fork"), (up_text, "upstream")))
    if base is None:
        notes.add("", "file added on both sides: merged as two sets of keys", confidence=0.95)
    if not all(_is_map(x) for x in (f, u)) or not (b is None or _is_map(b)):
        raise Decline("the top level is not a mapping on every side")
    b = b if b is not None else _empty_map()
    replay = copy.deepcopy(b)
    _Merge(Notes()).mapping(b, f, replay, ())
    if _dump(y, replay) != _dump(y, f):
        raise Decline("the fork changed comments or layout that a key-level merge cannot carry")
    if base is not None:
        _check_replay(_splice(_dump(y, b), base_text, _dump(y, replay)), fork_text, notes)
    fresh = _dump(y, u)
    expected = _Merge(notes).mapping(b, f, u, ())
    merged = _dump(y, u)
    result = merged if fresh == up_text else _splice(fresh, up_text, merged)
    if not same(_plain(_load(_yaml(INDENTS[0]), result, "merged")), expected):
        raise Decline("splicing the merge into upstream's text changed its meaning")
    return result.encode("utf-8")


def _check_replay(replayed: str, fork_text: str, notes: Notes) -> None:
    """The fork's own edits, carried onto the base the same way, must give back the fork's file:
    otherwise ruamel would re-style what the fork wrote (e.g. a flow mapping), and the resolver
    declines rather than hand a reviewer text that nobody wrote."""
    if replayed == fork_text:
        return
    if replayed.split() != fork_text.split():
        raise Decline("ruamel.yaml would re-style the fork's edits (the fork's own text cannot be carried)")
    notes.add("", "the fork's whitespace-only edits are not carried", confidence=0.95)


def _splice(fresh: str, original: str, merged: str) -> str:
    """Apply the re-dump's edits (``fresh`` → ``merged``) to upstream's ``original`` text.
    Edits next to lines that only the re-dump changed are settled line by line."""
    doc = merge_file(fresh.encode(), original.encode(), merged.encode())
    resolved: dict[int, tuple[str, ...]] = {}
    for hunk in doc.hunks:
        base, kept, edited = hunk.base, hunk.fork, hunk.upstream
        if not len(base) == len(kept) == len(edited):
            raise Decline("the merged keys sit next to text that ruamel re-emits differently")
        lines = []
        for b, k, e in zip(base, kept, edited, strict=True):
            if b != k and b != e:
                raise Decline("the merged keys sit on lines that ruamel re-emits differently")
            lines.append(e if b == k else k)
        resolved[hunk.index] = tuple(lines)
    return doc.render(resolved)


def _empty_map() -> Any:
    from ruamel.yaml.comments import CommentedMap

    return CommentedMap()


def _is_map(x: Any) -> bool:
    return isinstance(x, dict)


def _is_seq(x: Any) -> bool:
    return isinstance(x, list)


def _plain(x: Any) -> Any:
    if x is MISSING:
        return MISSING
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, bool):
        return bool(x)
    for kind in (int, float, str):
        if isinstance(x, kind):
            return kind(x)
    return x


def _scalars(*seqs: Any) -> bool:
    return all(_is_seq(s) and all(not isinstance(x, dict | list) for x in s) for s in seqs)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Merge:
    """Applies the fork's changes (since the base) to a target mapping, in place."""

    def __init__(self, notes: Notes) -> None:
        self.notes = notes

    def mapping(self, base: Any, fork: Any, target: Any, path: tuple[str, ...]) -> Any:
        """Mutates ``target``; returns the plain merged value for the final meaning check."""
        keys = [*target, *(k for k in fork if k not in target)]
        keys += [k for k in base if k not in keys]
        for key in keys:
            p = (*path, str(key))
            b, f, u = (m.get(key, MISSING) for m in (base, fork, target))
            if _is_map(f) and _is_map(u) and (b is MISSING or _is_map(b)):
                if b is MISSING and not same(_plain(f), _plain(u)):
                    self.notes.add(
                        dotted(p), "mapping added on both sides: merged key by key", confidence=0.95
                    )
                self.mapping({} if b is MISSING else b, f, u, p)
            else:
                self.value(b, f, u, target, key, fork, base, p)
            if key in target and key in fork:
                self.comment(base, fork, target, key, p)
        return _plain(target)

    def comment(self, base: Any, fork: Any, target: Any, key: Any, path: tuple[str, ...]) -> None:
        """Carry the fork's edit of the comment that ruamel attaches to ``key``."""
        b, f, u = (_comment(m, key) for m in (base, fork, target))
        side = pick(b, f, u)
        if side is None:
            raise Decline(f"{dotted(path)}: both sides changed the comment next to it")
        if side == "fork" and hasattr(target, "ca"):
            if "".join(f).split() != "".join(u).split():  # blank lines move with ruamel's model: not news
                self.notes.add(dotted(path), "comment changed by the fork")
            if key in fork.ca.items:
                target.ca.items[key] = copy.deepcopy(fork.ca.items[key])
            else:
                target.ca.items.pop(key, None)

    def value(
        self, b: Any, f: Any, u: Any, target: Any, key: Any, fork: Any, base: Any, path: tuple[str, ...]
    ) -> None:
        where = dotted(path)
        side = pick(_plain(b), _plain(f), _plain(u))
        if side == "upstream":
            if not same(_plain(u), _plain(b)):
                both = same(_plain(f), _plain(u))
                self.notes.add(where, "same change on both sides" if both else _change(b, u, "upstream"))
            return
        if side == "fork":
            self.notes.add(where, _change(b, f, "the fork"))
            _put(target, key, f, fork, base)
            return
        if _scalars(f, u) and (b is MISSING or _scalars(b)):
            merged = merge_set([_plain(x) for x in ([] if b is MISSING else b)], _plain(f), _plain(u))
            _set_items(u, merged, f)
            self.notes.add(where, "items added on both sides: kept all, in order", confidence=0.95)
            return
        if _is_seq(f) and _is_seq(u) and _is_seq(b):
            try:
                merged_list, how = merge_appends(_plain(b), _plain(f), _plain(u))
            except Decline:
                raise Decline(f"{where}: both sides changed the list differently") from None
            for item in merged_list[len(u) :]:
                u.append(copy.deepcopy(next((x for x in f if same(_plain(x), item)), item)))
            self.notes.add(where, how, confidence=0.95)
            return
        raise Decline(
            f"{where}: changed differently on both sides (fork {_shown(_plain(f))}, upstream {_shown(_plain(u))})"
        )


def _set_items(target: Any, merged: list[Any], fork: Any) -> None:
    """Make ``target`` (a sequence of scalars) hold ``merged`` by deleting and inserting in place."""
    wanted = [_freeze(x) for x in merged]
    for i in reversed(range(len(target))):
        if _freeze(_plain(target[i])) not in wanted:
            del target[i]
    by_value = {_freeze(_plain(x)): x for x in fork}
    for at, item in enumerate(merged):
        if at >= len(target) or _freeze(_plain(target[at])) != _freeze(item):
            target.insert(at, copy.deepcopy(by_value.get(_freeze(item), item)))


def _freeze(x: Any) -> Any:
    return (type(x).__name__, x)


def _put(target: Any, key: Any, item: Any, fork: Any, base: Any) -> None:
    """Set, delete or insert ``key``, carrying the fork's comment on it; new keys go after
    their predecessor in the fork's order."""
    if item is MISSING:
        del target[key]
        return
    new = copy.deepcopy(item)
    comment = getattr(fork, "ca", None)
    if key in target:
        target[key] = new
    else:
        order = weave(list(target), list(fork), [key], key=lambda k: k)
        target.insert(order.index(key), key, new)
    if comment is not None and hasattr(target, "ca"):
        if key in comment.items:
            target.ca.items[key] = copy.deepcopy(comment.items[key])
        else:
            target.ca.items.pop(key, None)


def _comment(mapping: Any, key: Any) -> list[str]:
    ca = getattr(mapping, "ca", None)
    entry = ca.items.get(key) if ca is not None else None
    out: list[str] = []
    for token in entry or ():
        for t in token if isinstance(token, list) else [token]:
            out.append(getattr(t, "value", "") if t is not None else "")
    return out


def _change(base: Any, new: Any, who: str) -> str:
    if base is MISSING:
        return f"added by {who}"
    if new is MISSING:
        return f"removed by {who}"
    return f"changed by {who} to {_shown(_plain(new))}"
