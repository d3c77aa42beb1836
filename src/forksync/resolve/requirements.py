"""One dependency requirement changed on both sides, merged by what its specifiers mean.

A line merge of `pkg>=1.4` (fork) and `pkg>=1.5` (upstream) has to pick one text; by
meaning, both sides raised the minimum and the tighter bound satisfies both (keeping the
fork's lower one would drop upstream's security bump). Each kind of bound is merged three-way
on its own: lower bounds take the higher of two raised minimums, an upper bound moved by one
side only is that side's, exclusions (`!=`) are a three-way set. Anything that cannot be read
this way (two different upper bounds, exact pins, `~=`, different extras or markers, several
bounds of one kind) is left to the caller, which declines.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import Specifier
from packaging.version import InvalidVersion, Version

_LOWER, _UPPER, _EXCLUDE = (">=", ">"), ("<", "<="), ("!=",)


@dataclass(frozen=True)
class _Bounds:
    name: str
    extras: frozenset[str]
    marker: str
    lower: Specifier | None
    upper: Specifier | None
    exclude: frozenset[str]


def _bounds(text: str) -> _Bounds | None:
    try:
        req = Requirement(text.split(" #", 1)[0].strip())
    except InvalidRequirement:
        return None
    lower: list[Specifier] = []
    upper: list[Specifier] = []
    exclude: set[str] = set()
    for spec in req.specifier:
        if spec.operator in _LOWER:
            lower.append(spec)
        elif spec.operator in _UPPER:
            upper.append(spec)
        elif spec.operator in _EXCLUDE:
            exclude.add(spec.version)
        else:
            return None  # ==, ===, ~=: a pin, not a range
    if len(lower) > 1 or len(upper) > 1:
        return None
    return _Bounds(
        req.name,
        frozenset(req.extras),
        str(req.marker or ""),
        lower[0] if lower else None,
        upper[0] if upper else None,
        frozenset(exclude),
    )


def _key(spec: Specifier | None) -> tuple[Version, int] | None:
    """Order lower bounds by strictness: `>1.5` is tighter than `>=1.5`."""
    if spec is None:
        return None
    try:
        return Version(spec.version), 1 if spec.operator == ">" else 0
    except InvalidVersion:
        return None


def merge_requirement(base: str, fork: str, upstream: str) -> tuple[str, str] | None:
    """The merged requirement text and why, or None when its meaning cannot be merged."""
    sides = [_bounds(x) for x in (base, fork, upstream)]
    if any(s is None for s in sides):
        return None
    b, f, u = sides
    assert b is not None and f is not None and u is not None
    if not (f.name == u.name and f.extras == u.extras and f.marker == u.marker):
        return None
    why: list[str] = []
    # Lower bound: one side's change is taken; two raised minimums give the tighter.
    if f.lower == b.lower:
        lower = u.lower
    elif u.lower == b.lower:
        lower = f.lower
    else:
        fk, uk = _key(f.lower), _key(u.lower)
        if fk is None or uk is None:
            return None  # one side removed the minimum, or a version that does not parse
        lower = f.lower if fk > uk else u.lower
        why.append(f"both raised the minimum: kept the tighter {lower}")
    # Upper bound: only one side may move it.
    if f.upper == b.upper:
        upper = u.upper
        if u.upper != b.upper:
            why.append(f"upstream's upper bound {u.upper or '(none)'}")
    elif u.upper == b.upper:
        upper = f.upper
        why.append(f"the fork's upper bound {f.upper or '(none)'}")
    else:
        return None
    exclude = (f.exclude & u.exclude) | (f.exclude - b.exclude) | (u.exclude - b.exclude)
    specs = [s for s in (lower, upper) if s is not None] + [Specifier(f"!={v}") for v in sorted(exclude)]
    if lower is not None and upper is not None:
        lk, top = _key(lower), _key(upper)
        if lk is not None and top is not None and lk[0] >= top[0]:
            return None  # an empty range: the sides disagree about which releases work
    extras = f"[{','.join(sorted(f.extras))}]" if f.extras else ""
    marker = f"; {f.marker}" if f.marker else ""
    text = f"{u.name}{extras}{','.join(str(s) for s in specs)}{marker}"
    return text, "; ".join(why) or "merged the two sides' bounds"
