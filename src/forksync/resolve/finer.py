"""Independent edits that git's line diff3 lumps into one hunk, merged with a finer diff.

git reports a conflict as soon as the two sides' changes touch or sit next to each other.
Re-diffing just the hunk (difflib, which aligns differently from git's Myers diff) often
shows edits that do not overlap at all; those are applied together. A line that both sides
changed differently is merged word by word when the words changed do not overlap. Any
overlap leaves the hunk open.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from .model import Context, Decision, Hunk, Versions

T = TypeVar("T")

# Names, numbers, paths and dotted or dashed identifiers are one word each: two sides editing
# inside one ("gpt-5-mini" -> "gpt-4o-mini" and "gpt-5-codex") changed the same thing.
_WORDS = re.compile(r"[\w./:@-]+|\s+|[^\w\s]")
# difflib is quadratic at worst: minified bundles (one 200 kB line) and huge hunks are left to
# other rules rather than stall the run.
MAX_LINES = 2000
MAX_LINE_CHARS = 1000
# Re-aligning a large hunk finds anchors in blank lines, brackets and docstring quotes that
# split one rewrite into "independent" pieces; measured on real history, only small hunks
# whose fork and upstream edits do not interleave are merged with confidence.
MAX_HUNK_LINES = 12


@dataclass(frozen=True)
class Edit:
    """Replace ``base[start:end]`` with ``new`` (start == end: an insertion)."""

    start: int
    end: int
    new: tuple[str, ...]


def edits(base: Sequence[T], side: Sequence[T]) -> list[Edit]:
    matcher = difflib.SequenceMatcher(None, base, side, autojunk=False)
    return [
        Edit(i1, i2, tuple(side[j1:j2]))  # type: ignore[arg-type]
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op != "equal"
    ]


def _clash(a: Edit, b: Edit) -> bool:
    """Do two edits (one per side) touch the same base items, or insert at the same point?"""
    if a.start == a.end and b.start == b.end:
        return a.start == b.start
    if a.start == a.end:
        return b.start < a.start < b.end
    if b.start == b.end:
        return a.start < b.start < a.end
    return a.start < b.end and b.start < a.end


def merge3(base: Sequence[T], fork: Sequence[T], upstream: Sequence[T]) -> list[T] | None:
    """A three-way merge of sequences that applies both sides' edits, or None when any two clash.

    Edits that are identical on both sides count once. Both sides inserting the same item in
    different edits is one change made twice (applying both would duplicate it): a clash."""
    fe, ue = edits(base, fork), edits(base, upstream)
    same = set(fe) & set(ue)
    fe = [e for e in fe if e not in same]
    ue = [e for e in ue if e not in same]
    for a in fe:
        for b in ue:
            if _clash(a, b):
                return None
    if _meaningful(fe) & _meaningful(ue):
        return None
    every = sorted([*fe, *ue, *same], key=lambda e: (e.start, e.end))
    out: list[T] = []
    pos = 0
    for e in every:
        out.extend(base[pos : e.start])
        out.extend(e.new)  # type: ignore[arg-type]
        pos = max(pos, e.end)
    out.extend(base[pos:])
    return out


def _meaningful(side: list[Edit]) -> set[object]:
    """What a side's edits insert, without whitespace and lone punctuation."""
    return {
        item
        for e in side
        for item in e.new
        if not (
            isinstance(item, str)
            and (not item.strip() or (len(item.strip()) == 1 and not item.strip().isalnum()))
        )
    }


def _words(line: str) -> list[str]:
    return _WORDS.findall(line)


def _strict_merge3(base: Sequence[str], fork: Sequence[str], upstream: Sequence[str]) -> list[str] | None:
    """Like ``merge3`` but edits must also be separated by at least one unchanged word."""
    fe, ue = edits(base, fork), edits(base, upstream)
    for a in fe:
        for b in ue:
            if a == b:
                continue
            if a.start <= b.end and b.start <= a.end:
                return None
    return merge3(base, fork, upstream)


# A declaration's header: def/class (Python), function/fn/func (JS, Rust, Go), a method signature.
_DECLARATION = re.compile(
    r"^\s*(?:@\w|(?:export\s+|pub(?:\([^)]*\))?\s+|async\s+|static\s+|public\s+|private\s+)*"
    r"(?:def|class|function|fn|func|interface|struct|enum|trait|impl)\b)"
)


def _both_rewrite_declaration(base: Sequence[str], fork: Sequence[str], up: Sequence[str]) -> bool:
    """Both sides changed a declaration's header (a signature rewritten twice). Merging their
    words or lines yields a signature neither side wrote, or two declarations of one thing."""

    def touched(side: Sequence[str]) -> set[int]:
        out: set[int] = set()
        for e in edits(base, side):
            out.update(range(e.start, max(e.end, e.start + 1)))
        return out

    headers = {i for i, line in enumerate(base) if _DECLARATION.match(line)}
    if headers & touched(fork) & touched(up):
        return True
    added = [
        {line.strip() for line in side if _DECLARATION.match(line)} - {b.strip() for b in base}
        for side in (fork, up)
    ]
    return bool(added[0] and added[1])


class FinerResolver:
    name = "finer"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        base, fork, up = hunk.base, hunk.fork, hunk.upstream
        if not base or base in (fork, up):
            return None  # pure insertions on both sides have no finer structure; one-sided is trivial
        if len(base) + len(fork) + len(up) > MAX_LINES:
            return None
        if _both_rewrite_declaration(base, fork, up):
            return None
        merged = merge3(base, fork, up) if self._small_and_apart(base, fork, up) else None
        if merged is not None:
            return Decision(
                "finer:lines",
                0.92,
                f"fork and upstream edited different lines of this hunk "
                f"({len(edits(base, fork))} fork, {len(edits(base, up))} upstream edit(s)); kept both",
                lines=tuple(merged),
            )
        words = self._by_words(base, fork, up)
        if words is not None:
            return Decision(
                "finer:words",
                0.9,
                "fork and upstream changed different words of the same line(s); kept both",
                lines=words,
            )
        return None

    @staticmethod
    def _small_and_apart(base: tuple[str, ...], fork: tuple[str, ...], up: tuple[str, ...]) -> bool:
        if max(len(base), len(fork), len(up)) > MAX_HUNK_LINES:
            return False
        fe, ue = edits(base, fork), edits(base, up)
        fe, ue = [e for e in fe if e not in ue], [e for e in ue if e not in fe]
        if not fe or not ue:
            return True
        if len(fe) > 1 or len(ue) > 1:
            return False  # several edits in one small hunk: a rewrite that difflib cut at stray anchors
        # At least one unchanged line between the two edits: edits that touch (an insertion right
        # before a changed line) are usually one change of meaning, as git itself judges.
        apart = max(e.end for e in fe) < min(e.start for e in ue) or max(e.end for e in ue) < min(
            e.start for e in fe
        )
        # A block one side deleted right next to the other's edit is usually code that moved or
        # was rewritten there: not independent.
        touching_delete = any(
            a.start <= b.end and b.start <= a.end and not (a.new and b.new) for a in fe for b in ue
        )
        return apart and not touching_delete

    @staticmethod
    def _by_words(
        base: tuple[str, ...], fork: tuple[str, ...], up: tuple[str, ...]
    ) -> tuple[str, ...] | None:
        """Line-aligned changes (every side keeps the line count) merged word by word."""
        if not len(base) == len(fork) == len(up) or len(base) > 20:
            return None
        out = []
        for b, f, u in zip(base, fork, up, strict=True):
            if f == u or u == b:
                out.append(f)
            elif f == b:
                out.append(u)
            elif max(len(b), len(f), len(u)) > MAX_LINE_CHARS:
                return None
            else:
                merged = _strict_merge3(_words(b), _words(f), _words(u))
                if merged is None:
                    return None
                out.append("".join(merged))
        return tuple(out)
