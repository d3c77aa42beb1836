"""TOML files merged key by key into upstream's document (tomlkit keeps its bytes and comments).

The fork's changes since the merge base are replayed into upstream's document, so the
result differs from upstream only where the fork differs. Before trusting that replay, the
same replay onto the merge base must give back the fork's file: if it does not, the fork
edited comments or layout that a key merge cannot carry, and the resolver declines.
``pyproject.toml`` adds what a sync needs: the version comes from the sync, and dependency
lists are merged per package (the fork's pin wins where the fork changed it).
"""

from __future__ import annotations

import copy
import re
from collections.abc import MutableMapping
from pathlib import PurePosixPath
from typing import Any

from .model import Context, Decision, Versions
from .threeway import (
    MISSING,
    Decline,
    Notes,
    attempt,
    dotted,
    downgrade,
    merge_appends,
    one_sided,
    pick,
    same,
    weave,
)
from .version_bump import higher_version

RULE = "toml"
MAX_BYTES = 512 * 1024
MAX_VALUES = 20_000
VERSION_KEYS = {("project", "version"), ("tool", "poetry", "version"), ("tool", "commitizen", "version")}


def _dependency_array(path: tuple[str, ...]) -> bool:
    return (
        path in {("project", "dependencies"), ("build-system", "requires")}
        or (len(path) == 3 and path[:2] == ("project", "optional-dependencies"))
        or (len(path) == 2 and path[0] == "dependency-groups")
    )


def _dependency_table(path: tuple[str, ...]) -> bool:
    return path in {("tool", "poetry", "dependencies"), ("tool", "poetry", "dev-dependencies")} or (
        len(path) == 5 and path[:3] == ("tool", "poetry", "group") and path[4] == "dependencies"
    )


class TomlResolver:
    name = "toml"

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        if not v.path.lower().endswith(".toml") or v.kind not in ("content", "add/add"):
            return None
        if v.fork is None or v.upstream is None:
            return None
        notes = Notes()
        pyproject = PurePosixPath(v.path).name == "pyproject.toml"
        fork, upstream = v.fork, v.upstream

        def merge() -> bytes:
            return merge_toml(
                v.base,
                fork,
                upstream,
                notes,
                pyproject=pyproject,
                new_version=ctx.new_version,
                release=ctx.upstream_version,
            )

        return attempt(RULE, "TOML", notes, merge)


def check_size(text: str, side: str) -> None:
    """Decline files too large for tomlkit (pure Python, ~25k values a second on a busy core: a
    2M-element array took 66 s and 1.6 GB). Values are counted with tomllib, five times faster."""
    import tomllib

    if len(text) > MAX_BYTES:
        raise Decline(f"the {side}'s file is over {MAX_BYTES // 1024} kB: too large for a key-level merge")
    try:
        values = _count(tomllib.loads(text))
    except tomllib.TOMLDecodeError:
        return  # tomlkit says what is wrong
    if values > MAX_VALUES:
        raise Decline(
            f"the {side}'s file holds {values} values (over {MAX_VALUES}): too large for a key-level merge"
        )


def _count(value: object) -> int:
    if isinstance(value, dict):
        return 1 + sum(_count(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_count(v) for v in value)
    return 1


def merge_toml(
    base: bytes | None,
    fork: bytes,
    upstream: bytes,
    notes: Notes,
    *,
    pyproject: bool = False,
    new_version: str | None = None,
    release: str | None = None,
) -> bytes:
    """Upstream's document with the fork's changes applied; Decline when they collide."""
    settled = one_sided(base, fork, upstream, notes)
    if settled is not None:
        return settled
    import tomlkit

    base_text = _text(base, "base") if base is not None else ""
    fork_text, up_text = _text(fork, "fork"), _text(upstream, "upstream")
    for text, side in ((base_text, "base"), (fork_text, "fork"), (up_text, "upstream")):
        check_size(text, side)
    docs = [
        _parse(text, side) for text, side in ((base_text, "base"), (fork_text, "fork"), (up_text, "upstream"))
    ]
    if tomlkit.dumps(docs[2]) != up_text:
        raise Decline("upstream's file does not survive a TOML round trip unchanged")
    replay = copy.deepcopy(docs[0])  # a fifth of a parse
    _Merge(Notes(), pyproject=False).table(docs[0], docs[1], replay, ())
    replayed = tomlkit.dumps(replay)
    if replayed != fork_text:
        if _squash(replayed) != _squash(fork_text):
            raise Decline("the fork changed comments or layout that a key-level merge cannot carry")
        notes.add("", "the fork's whitespace-only edits are not carried", confidence=0.95)
    if base is None:
        notes.add("", "file added on both sides: merged as two sets of keys", confidence=0.95)
    _Merge(notes, pyproject=pyproject, new_version=new_version, release=release).table(
        docs[0], docs[1], docs[2], ()
    )
    return tomlkit.dumps(docs[2]).encode("utf-8")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _text(data: bytes, side: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Decline(f"the {side}'s file is not UTF-8") from None


def _parse(text: str, side: str) -> Any:
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        raise Decline(f"the {side}'s file is not valid TOML ({str(exc).splitlines()[0]})") from None


def _plain(item: Any) -> Any:
    if item is MISSING:
        return MISSING
    unwrap = getattr(item, "unwrap", None)
    return unwrap() if unwrap else item


def _is_table(item: Any) -> bool:
    from tomlkit.items import AoT, Array

    return isinstance(item, MutableMapping) and not isinstance(item, Array | AoT)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _Merge:
    """One replay of the fork's changes into a target document (upstream's, or the base's)."""

    def __init__(
        self, notes: Notes, *, pyproject: bool, new_version: str | None = None, release: str | None = None
    ) -> None:
        self.notes = notes
        self.pyproject = pyproject
        self.new_version = new_version
        self.release = release  # the upstream tag being merged, when known

    def table(self, base: Any, fork: Any, target: Any, path: tuple[str, ...]) -> None:
        keys = [*target.keys(), *(k for k in fork if k not in target)]
        keys += [k for k in base if k not in keys]
        for key in keys:
            p = (*path, str(key))
            b, f, u = (_item(x, key) for x in (base, fork, target))
            if self.pyproject and p in VERSION_KEYS and u is not MISSING:
                self.version(b, f, u, target, key, p)
            elif _is_table(f) and _is_table(u) and (b is MISSING or _is_table(b)):
                if b is MISSING and not same(_plain(f), _plain(u)):
                    self.notes.add(dotted(p), "table added on both sides: merged key by key", confidence=0.95)
                self.table({} if b is MISSING else b, f, u, p)
            else:
                self.value(b, f, u, target, key, fork, base, p)

    def version(
        self, base: Any, fork: Any, upstream: Any, target: Any, key: str, path: tuple[str, ...]
    ) -> None:
        """The sync's version, else upstream's when a release is being merged; without either,
        an ordinary three-way choice that never picks between two different new versions."""
        b, f, u = _plain(base), _plain(fork), _plain(upstream)
        side = pick(b, f, u)
        rule: str | None = "version"
        if self.new_version:
            wanted, why = self.new_version, "version from the sync"
        elif self.release:
            wanted, why = u, f"upstream's version, release {self.release}"
        elif side is None:
            higher = higher_version(b, f, u)
            if higher is None:
                raise Decline(
                    f"{dotted(path)}: both sides changed the version and no release is being merged"
                )
            wanted = f if higher == "fork" else u
            why = f"both sides set it: kept the higher ({higher}'s)"
        else:
            wanted, rule = (f if side == "fork" else u), None
            why = "changed by the fork" if side == "fork" else "changed by upstream"
        if same(wanted, u) and (same(f, u) or rule is None):
            if rule is None and not same(u, b):
                self.notes.add(dotted(path), f"{wanted} ({why})")
            return
        if not same(wanted, u):
            target[key] = wanted
        self.notes.add(dotted(path), f"{wanted} ({why})", rule=rule)

    def value(
        self, b: Any, f: Any, u: Any, target: Any, key: str, fork: Any, base: Any, path: tuple[str, ...]
    ) -> None:
        where = dotted(path)
        side = pick(_plain(b), _plain(f), _plain(u))
        if side == "upstream":
            if not same(_plain(u), _plain(b)):
                both = same(_plain(f), _plain(u))
                self.notes.add(where, "same change on both sides" if both else _change(b, u, "upstream"))
            return
        if side == "fork":
            if u is not MISSING and b is not MISSING and u.as_string() != b.as_string():
                raise Decline(
                    f"{where}: the fork changed it and upstream re-wrote its text (comment or layout)"
                )
            self.notes.add(where, _change(b, f, "the fork"))
            self.put(target, key, f, fork, base)
            return
        if (
            self.pyproject
            and _dependency_array(path)
            and all(_is_array(x) for x in (f, u))
            and b is not MISSING
        ):
            _merge_dependencies(b, f, u, where, self.notes)
            return
        if self.pyproject and _dependency_table(path[:-1]) and f is not MISSING and u is not MISSING:
            self.notes.add(where, f"kept fork pin {_shown(_plain(f))} (fork changed it)", confidence=0.95)
            self.put(target, key, f, fork, base)
            return
        if all(_is_array(x) for x in (b, f, u)):
            try:
                merged, how = merge_appends(list(_plain(b)), list(_plain(f)), list(_plain(u)))
            except Decline:
                raise Decline(f"{where}: both sides changed the array differently") from None
            for item in merged[len(_plain(u)) :]:
                u.append(item)
            self.notes.add(where, how, confidence=0.95)
            return
        raise Decline(
            f"{where}: changed differently on both sides (fork {_shown(_plain(f))}, upstream {_shown(_plain(u))})"
        )

    def put(self, target: Any, key: str, item: Any, fork: Any, base: Any) -> None:
        """Set, delete or insert ``key`` in ``target``; a new key goes after its predecessor in the fork."""
        if item is MISSING:
            del target[key]
            return
        new = copy.deepcopy(item)
        if key in target:
            target[key] = new
            return
        fork_keys = list(fork.keys())
        order = weave(list(target), fork_keys, [key], key=lambda k: k)
        at = order.index(key)
        body = getattr(target, "value", target)  # a Table wraps a Container; a document is one
        from tomlkit.items import Table

        if isinstance(new, Table):
            import tomlkit

            if at < len(order) - 1 and not new.as_string().endswith("\n\n"):
                new.add(tomlkit.nl())  # keep a blank line before the table that follows
            before = _item(target, order[at - 1]) if at else MISSING
            if isinstance(before, Table) and not before.as_string().endswith("\n\n"):
                before.add(tomlkit.nl())
        if not _place_after(body, order[at - 1] if at else None, key, new):
            target[key] = new  # appending is still a correct merge; the replay check judges the layout


def _place_after(body: Any, before: str | None, key: str, new: Any) -> bool:
    """Insert ``key`` right after ``before`` (first when None) with tomlkit's public API only.

    tomlkit has no public insert, so the keyed items that follow are removed and appended
    again after the new one. Comments among them would lose their place: then nothing is
    moved and the caller appends instead.
    """
    from tomlkit.items import Null, Whitespace

    if not hasattr(body, "body"):
        return False  # an inline table or a plain mapping: order is not kept
    entries = list(body.body)
    start = 0
    if before is not None:
        found = [i for i, (k, _) in enumerate(entries) if k is not None and k.key == before]
        if not found:
            return False
        start = found[-1] + 1
    tail = entries[start:]
    if any(k is None and not isinstance(item, Whitespace | Null) for k, item in tail):
        return False
    moved = [(k, body.item(k.key)) for k, _ in tail if k is not None]
    for k, _ in moved:
        body.remove(k)
    body.append(key, new)
    for k, item in moved:
        body.append(k, item)
    return True


def _item(mapping: Any, key: str) -> Any:
    """The tomlkit item (not its Python value, which ``get`` returns for booleans)."""
    getter = getattr(mapping, "item", None)
    if getter is None:
        return mapping.get(key, MISSING)
    try:
        return getter(key)  # a lookup, not `in`: tomlkit rebuilds out-of-order tables on each access
    except KeyError:
        return MISSING


def _is_array(item: Any) -> bool:
    from tomlkit.items import Array

    return isinstance(item, Array)


def _change(base: Any, new: Any, who: str) -> str:
    if base is MISSING:
        return f"added by {who}"
    if new is MISSING:
        return f"removed by {who}"
    return f"changed by {who} to {_shown(_plain(new))}"


# -- dependency lists (PEP 508 strings) -----------------------------------------------------


def _dep_key(value: Any) -> str:
    if not isinstance(value, str):
        return "raw:" + repr(value)
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        req = Requirement(value)
    except InvalidRequirement:
        return "raw:" + value
    return canonicalize_name(req.name) + (f"; {req.marker}" if req.marker else "")


def _dep_map(items: list[Any], where: str, side: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key = _dep_key(item)
        if key in out:
            raise Decline(f"{where}: {key} is listed twice on the {side} side")
        out[key] = item
    return out


def _merge_dependencies(base: Any, fork: Any, target: Any, where: str, notes: Notes) -> None:
    """Per package: additions from both kept, deletions respected, a requirement both sides changed
    merged by meaning (requirements.py), else the fork's pin where it changed it."""
    from .requirements import merge_requirement

    b, f, u = (
        _dep_map(list(x.unwrap()), where, s)
        for x, s in ((base, "base"), (fork, "fork"), (target, "upstream"))
    )
    replaced = (set(b) - set(f)) & (set(b) - set(u))
    if replaced and set(f) - set(b) - set(u) and set(u) - set(b) - set(f):
        # Both dropped the same package and each brought its own: they disagree about what the
        # list should be (say, two different build back ends), not two independent additions.
        gone = ", ".join(sorted(k.removeprefix("raw:") for k in replaced))
        raise Decline(f"{where}: both sides replaced {gone} with different packages")
    chosen: dict[str, Any] = {}
    for key in [*u, *(k for k in f if k not in u), *(k for k in b if k not in u and k not in f)]:
        bv, fv, uv = (m.get(key, MISSING) for m in (b, f, u))
        side = pick(bv, fv, uv)
        name = key.removeprefix("raw:")
        if side is None:
            if fv is MISSING or uv is MISSING:
                gone = "the fork" if fv is MISSING else "upstream"
                raise Decline(f"{where}: {name} removed by {gone} and re-pinned by the other side")
            merged = merge_requirement(bv, fv, uv) if all(isinstance(x, str) for x in (bv, fv, uv)) else None
            if merged is not None:
                text, why = merged
                value = uv if _same_requirement(text, uv) else fv if _same_requirement(text, fv) else text
                notes.add(where, f"{name}: {value} ({why}; fork {fv}, upstream {uv})", confidence=0.95)
                chosen[key] = value
                continue
            older = downgrade(str(fv), str(uv))
            if older:
                raise Decline(f"{where}: {older}")
            notes.add(where, f"kept fork pin {fv} (fork changed it; upstream has {uv})", confidence=0.95)
            side = "fork"
        elif side == "fork":
            notes.add(where, _dep_change(bv, fv, "the fork"))
        elif not same(uv, bv) and not same(fv, uv):
            notes.add(where, _dep_change(bv, uv, "upstream"))
        value = fv if side == "fork" else uv
        if value is not MISSING:
            chosen[key] = value
    for i in reversed(range(len(target))):
        key = _dep_key(target[i].unwrap() if hasattr(target[i], "unwrap") else target[i])
        if key not in chosen:
            del target[i]
        elif not same(chosen[key], u[key]):
            target[i] = chosen[key]
    order = weave(
        [k for k in u if k in chosen],
        list(f),
        [k for k in f if k in chosen and k not in u],
        key=lambda k: k,
    )
    for at, key in enumerate(order):
        if key not in u:
            target.insert(at, chosen[key])
    notes.confidence = min(notes.confidence, 0.95)


def _same_requirement(a: str, b: Any) -> bool:
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        return isinstance(b, str) and Requirement(a) == Requirement(b.split(" #", 1)[0].strip())
    except InvalidRequirement:
        return False


def _dep_change(base: Any, new: Any, who: str) -> str:
    if base is MISSING:
        return f"{new} added by {who}"
    if new is MISSING:
        return f"{base} removed by {who}"
    return f"{new} pinned by {who} (was {base})"
