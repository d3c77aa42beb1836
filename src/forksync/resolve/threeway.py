"""Three-way decisions shared by the structured resolvers (TOML, JSON, YAML, line sets).

Each helper answers one question on plain values — which side's value a key takes, how two
ordered collections combine — and raises ``Decline`` rather than guess when the fork and
upstream changed the same thing differently.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Literal, TypeVar

from ..secrets import redact
from .model import Decision

T = TypeVar("T")
H = TypeVar("H", bound=Hashable)
Side = Literal["fork", "upstream"]
MAX_DETAILS = 60


class _Missing:
    """An absent key: compares equal only to itself, so 'deleted' is a value like any other."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


class Decline(Exception):
    """The merge cannot be decided without guessing; the message says why (one line)."""


def norm(value: object) -> object:
    """A comparable form where 1, 1.0 and True differ (Python's == would call them equal)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", int(value))
    if isinstance(value, float):
        return ("float", float(value))
    if isinstance(value, str):
        return ("str", str(value))
    if isinstance(value, dict):
        return ("map", frozenset((str(k), _freeze(norm(v))) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("seq", tuple(_freeze(norm(v)) for v in value))
    if isinstance(value, datetime | date | time):
        return (type(value).__name__, value.isoformat())
    if value is None or value is MISSING:
        return value
    return (type(value).__name__, repr(value))


def _freeze(value: object) -> Hashable:
    return value if isinstance(value, Hashable) else repr(value)


def same(a: object, b: object) -> bool:
    return norm(a) == norm(b)


def pick(base: object, fork: object, upstream: object) -> Side | None:
    """The side whose value wins; None when both changed it, differently."""
    if same(fork, upstream) or same(fork, base):
        return "upstream"
    if same(upstream, base):
        return "fork"
    return None


def weave(result: list[T], fork: Sequence[T], added: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """Insert the fork's ``added`` items into ``result``, each right after its nearest
    predecessor in the fork's order that ``result`` holds (at the start when none does).
    Measured on litellm's merges, this matches people's resolutions more often than
    placing them after what upstream added at the same spot."""
    out = list(result)
    wanted = {key(x) for x in added}
    for i, item in enumerate(fork):
        if key(item) not in wanted:
            continue
        at = 0
        for prev in reversed(fork[:i]):
            pos = _index(out, key(prev), key)
            if pos is not None:
                at = pos + 1
                break
        out.insert(at, item)
    return out


def _index(items: list[T], k: Hashable, key: Callable[[T], Hashable]) -> int | None:
    for i, x in enumerate(items):
        if key(x) == k:
            return i
    return None


def merge_set(base: Sequence[H], fork: Sequence[H], upstream: Sequence[H]) -> list[H]:
    """Ordered set union: upstream's order, the fork's additions after their predecessor,
    deletions by either side respected. Items must be distinct within each side."""
    for name, side in (("base", base), ("fork", fork), ("upstream", upstream)):
        if len(set(side)) != len(side):
            raise Decline(f"repeated items in the {name}'s list")
    base_set, fork_set, up_set = set(base), set(fork), set(upstream)
    kept = [x for x in upstream if x in fork_set or x not in base_set]
    added = [x for x in fork if x not in base_set and x not in up_set]
    return weave(kept, fork, added, key=lambda x: x)


def merge_appends(base: list[T], fork: list[T], upstream: list[T]) -> tuple[list[T], str]:
    """Arrays: equal → it; one side changed → that side; both only appended → both. Else Decline."""
    side = pick(base, fork, upstream)
    if side == "upstream":
        return upstream, "kept upstream" if not same(upstream, base) else "unchanged"
    if side == "fork":
        return fork, "changed by the fork"
    n = len(base)
    if same(fork[:n], base) and same(upstream[:n], base):
        up_new = upstream[n:]
        fork_new = [x for x in fork[n:] if not any(same(x, y) for y in up_new)]
        return [*upstream, *fork_new], "both sides appended items: kept both"
    raise Decline("both sides changed the array differently")


def downgrade(fork: str, upstream: str) -> str | None:
    """Why the fork's pin must not win: both sides re-pinned one package exactly and the
    fork's version is older than upstream's (keeping it would downgrade upstream)."""
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.version import InvalidVersion, Version

    try:
        reqs = [Requirement(text.split(" #", 1)[0].strip()) for text in (fork, upstream)]
        specs = [list(r.specifier) for r in reqs]
        if not all(len(s) == 1 and s[0].operator in ("==", "===") for s in specs):
            return None
        old, new = (Version(s[0].version) for s in specs)
    except (InvalidRequirement, InvalidVersion):
        return None
    if old < new:
        name = reqs[0].name
        return f"both sides re-pinned {name}: the fork's {old} is older than upstream's {new}"
    return None


@dataclass
class Notes:
    """Per-key explanations of a structured merge, and what lowers its confidence."""

    lines: list[str] = field(default_factory=list)
    confidence: float = 1.0
    rules: set[str] = field(default_factory=set)

    def add(self, path: str, text: str, *, confidence: float = 1.0, rule: str | None = None) -> None:
        self.lines.append(f"{path}: {text}" if path else text)
        self.confidence = min(self.confidence, confidence)
        if rule:
            self.rules.add(rule)

    def details(self) -> tuple[str, ...]:
        lines = [redact(x) for x in self.lines]
        if len(lines) > MAX_DETAILS:
            lines = [*lines[:MAX_DETAILS], f"... and {len(lines) - MAX_DETAILS} more keys"]
        return tuple(lines)


def one_sided(base: bytes | None, fork: bytes, upstream: bytes, notes: Notes) -> bytes | None:
    """The answer when only one side changed the file, or both made the same change."""
    if fork == upstream:
        notes.add("", "same file on both sides")
        return upstream
    if fork == base:
        notes.add("", "only upstream changed the file")
        return upstream
    if upstream == base:
        notes.add("", "only the fork changed the file")
        return fork
    return None


def decision(rule: str, content: bytes, notes: Notes, what: str) -> Decision:
    """A file decision for a completed structured merge."""
    n = len(notes.lines)
    sub = sorted(notes.rules)
    full = f"{rule}:{sub[0]}" if len(sub) == 1 else rule
    reason = f"{what} merged key by key ({n} key{'s' if n != 1 else ''} decided)"
    return Decision(full, notes.confidence, redact(reason), content=content, details=notes.details())


def declined(rule: str, why: str, notes: Notes | None = None) -> Decision:
    """A zero-confidence answer: the engine keeps the conflict, the reason tells the reviewer why."""
    details = notes.details() if notes else ()
    return Decision(rule, 0.0, redact(why), details=details)


def attempt(rule: str, what: str, notes: Notes, merge: Callable[[], bytes]) -> Decision:
    """Run one structured merge: a Decline becomes a reasoned refusal, and so does a crash
    (a bug in a parser or in this code must leave the conflict open, never sink the run)."""
    try:
        content = merge()
    except Decline as exc:
        return declined(rule, f"{what} merge declined: {exc}", notes)
    except Exception as exc:  # reported, not raised: the hunk resolvers still get their turn
        return declined(rule, f"{what} merge failed: {type(exc).__name__}: {exc}", notes)
    return decision(rule, content, notes, what)


def dotted(path: Sequence[object]) -> str:
    return ".".join(str(p) for p in path)
