"""Line-set files (requirements, constraints, ignore files) merged as ordered sets.

Order does not change what these files mean, so both sides' additions can be kept without
guessing: upstream's order, each fork addition after its predecessor, deletions respected.
Requirement lines are keyed by package name, so a re-pinned package is one key whose value
changed: the fork's pin wins where the fork changed it (its reason to exist), upstream's
otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from .model import Context, Decision, Versions
from .threeway import MISSING, Decline, Notes, attempt, downgrade, one_sided, pick, weave

RULE = "lineset"
Key = tuple[str, ...]


def is_lineset(path: str) -> bool:
    p = PurePosixPath(path)
    name = p.name.lower()
    if name.endswith(".txt") and (
        name.startswith(("requirements", "constraints")) or p.parent.name == "requirements"
    ):
        return True
    return name.startswith(".") and name.endswith("ignore")


def is_requirements(path: str) -> bool:
    return PurePosixPath(path).name.lower().endswith(".txt")


@dataclass(frozen=True)
class Line:
    key: Key
    text: str  # without the line ending
    label: str  # what the details call it


class LineSetResolver:
    name = "lineset"

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        if not is_lineset(v.path) or v.kind not in ("content", "add/add"):
            return None
        if v.fork is None or v.upstream is None:
            return None
        notes = Notes()
        fork, upstream, reqs = v.fork, v.upstream, is_requirements(v.path)
        return attempt(
            RULE,
            "line-set",
            notes,
            lambda: merge_lines(v.base or b"", fork, upstream, notes, requirements=reqs),
        )


def merge_lines(base: bytes, fork: bytes, upstream: bytes, notes: Notes, *, requirements: bool) -> bytes:
    settled = one_sided(base, fork, upstream, notes)
    if settled is not None:
        return settled
    sides = {}
    for name, data in (("base", base), ("fork", fork), ("upstream", upstream)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise Decline(f"the {name}'s file is not UTF-8") from None
        sides[name] = parse(text, name, requirements=requirements)
    b, f, u = ({ln.key: ln for ln in sides[s]} for s in ("base", "fork", "upstream"))
    chosen: dict[Key, Line] = {}
    for key in [*u, *(k for k in f if k not in u), *(k for k in b if k not in u and k not in f)]:
        line = _decide(b.get(key), f.get(key), u.get(key), notes)
        if line is not None:
            chosen[key] = line
    kept = [k for k in u if k in chosen]
    added = [k for k in f if k in chosen and k not in u]
    order = weave(kept, list(f), added, key=lambda k: k)
    up_text = upstream.decode("utf-8")
    newline = "\r\n" if "\r\n" in up_text else "\n"
    out = newline.join(chosen[k].text for k in order)
    if order and (up_text.endswith("\n") or not up_text):
        out += newline
    return out.encode("utf-8")


def _decide(base: Line | None, fork: Line | None, upstream: Line | None, notes: Notes) -> Line | None:
    b, f, u = (MISSING if x is None else x.text.rstrip() for x in (base, fork, upstream))
    label = next(x.label for x in (fork, upstream, base) if x is not None)
    side = pick(b, f, u)
    if side == "fork":
        notes.add(label, _what(base, fork, "the fork"))
        return fork
    if side == "upstream":
        if b is not MISSING or u is not MISSING:
            if f == u and f != b:
                notes.add(label, "same change on both sides")
            elif u != b:
                notes.add(label, _what(base, upstream, "upstream"))
        return upstream
    if fork is None or upstream is None:
        gone, kept = ("the fork", "upstream") if fork is None else ("upstream", "the fork")
        raise Decline(f"{label}: removed by {gone} but changed by {kept}")
    older = downgrade(str(f), str(u))
    if older:
        raise Decline(older)
    notes.add(label, f"kept fork pin {f} (fork changed it; upstream has {u})", confidence=0.95)
    return fork


def _what(base: Line | None, new: Line | None, who: str) -> str:
    if new is None:
        return f"removed by {who}"
    if base is None:
        return f"added by {who}" + (f" ({new.text.strip()})" if new.label != new.text.strip() else "")
    return f"changed by {who} to {new.text.strip()}"


_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*(.*)$")


def parse(text: str, side: str, *, requirements: bool) -> list[Line]:
    """The file's lines with their keys; comments and blanks are keyed by text and occurrence."""
    out: list[Line] = []
    seen: dict[Key, int] = {}
    for raw in text.splitlines():
        if requirements and raw.rstrip().endswith("\\"):
            raise Decline(f"the {side}'s file continues lines with '\\' (hashes?): not a plain set")
        key = _requirement_key(raw) if requirements else None
        if key is None:
            stripped = raw.rstrip()
            n = seen.get(("line", stripped), 0)
            seen[("line", stripped)] = n + 1
            out.append(Line(("line", stripped, str(n)), raw, stripped or "(blank line)"))
            continue
        if key in seen:
            raise Decline(f"package {key[1]} is listed twice in the {side}'s file")
        seen[key] = 1
        out.append(Line(key, raw, key[1] + (f" ({key[2]})" if key[2] else "")))
    return out


def _requirement_key(raw: str) -> Key | None:
    """('req', canonical name, marker) for a requirement line; None for anything else."""
    line = raw.split(" #", 1)[0].strip()
    if not line or line.startswith(("#", "-")):
        return None
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    try:
        req = Requirement(line)
    except InvalidRequirement:
        return None
    return ("req", canonicalize_name(req.name), str(req.marker) if req.marker else "")
