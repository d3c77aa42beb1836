"""Fork sections marked in the code (`# FORK: why` … `# FORK END`, `x = 1  # FORK`) are kept
from the fork and placed into upstream's version of the hunk.

The marker word comes from ``[fork] marker`` (e.g. "CARTO"). A block runs from a begin
comment to its END comment; a begin comment with no END marks its paragraph (up to a blank
line or a dedent); a trailing marker comment marks its own line. The rule applies only
when every change the fork made in the hunk is marked, and each marked change has exactly
one place in upstream's version: the same unchanged base lines on both sides of it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache

from .conflicts import decode, split_lines
from .finer import MAX_LINES, edits
from .model import Context, Decision, Hunk, Versions

_LEAD = r"(?:#+|//+|/\*+|--|;+|%|<!--|\{#|\*)"


@lru_cache(maxsize=16)
def _patterns(marker: str) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    m = re.escape(marker)
    end = re.compile(rf"^\s*{_LEAD}\s*(?:{m}\s*[-:]?\s*(?i:END|STOP)|(?i:END)\s*[-:]?\s*{m})\b")
    begin = re.compile(rf"^\s*{_LEAD}\s*{m}\b")
    trailing = re.compile(rf"^\s*[^\s#/;%*<{{-].*?\s{_LEAD}\s*{m}\b")
    return begin, end, trailing


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def marked_lines(lines: Sequence[str], marker: str) -> list[bool]:
    """Which lines belong to a marked fork section."""
    marks = [False] * len(lines)
    if not any(marker in line for line in lines):
        return marks  # every pattern names the marker: 20,000 lines of a price list in 2 ms, not 40
    begin, end, trailing = _patterns(marker)
    i = 0
    while i < len(lines):
        line = lines[i]
        if end.match(line):
            marks[i] = True
        elif begin.match(line):
            close = next((j for j in range(i + 1, len(lines)) if end.match(lines[j])), None)
            if close is not None and not any(
                begin.match(lines[k]) and not end.match(lines[k]) for k in range(i + 1, close)
            ):
                for k in range(i, close + 1):
                    marks[k] = True
                i = close + 1
                continue
            marks[i] = True  # no END: the comment marks its paragraph
            level = _indent(line)
            j = i + 1
            while (
                j < len(lines)
                and lines[j].strip()
                and _indent(lines[j]) >= level
                and not begin.match(lines[j])
                and not end.match(lines[j])
            ):
                marks[j] = True
                j += 1
            i = j
            continue
        elif trailing.match(line):
            marks[i] = True
        i += 1
    return marks


def _fork_marks(ctx: Context, v: Versions, hunk: Hunk, marker: str) -> list[bool] | None:
    """Marks of the hunk's fork lines, judged in the whole fork file (a block may open above)."""
    key = f"markers:{v.path}:{marker}"
    cached = ctx.cache.get(key)
    # Keyed on the fork blob itself: one Context may serve many merges of the same path (backtest).
    if not (isinstance(cached, tuple) and cached[0] is v.fork):
        lines = split_lines(decode(v.fork or b""))
        cached = (v.fork, lines, marked_lines(lines, marker))
        ctx.cache[key] = cached
    _blob, lines, marks = cached
    start = hunk.fork_start - 1
    if start < 0 or tuple(lines[start : start + len(hunk.fork)]) != hunk.fork:
        return None
    return list(marks[start : start + len(hunk.fork)])


def _base_to_upstream(base: Sequence[str], up: Sequence[str]) -> dict[int, int]:
    """Base line index -> upstream line index, for the lines upstream kept (with sentinels)."""
    matcher = difflib.SequenceMatcher(None, base, up, autojunk=False)
    out = {-1: -1, len(base): len(up)}
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            out[block.a + k] = block.b + k
    return out


class ForkMarkersResolver:
    name = "fork-markers"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        marker = ctx.config.fork.marker
        if not marker:
            return None
        base, fork, up = hunk.base, hunk.fork, hunk.upstream
        if len(base) + len(fork) + len(up) > MAX_LINES:
            return None
        marks = _fork_marks(ctx, v, hunk, marker)
        if marks is None or not any(marks):
            return None
        fork_edits = edits(base, fork)
        if not fork_edits:
            return None
        # Positions of each fork edit's lines inside ``fork``, to read their marks.
        matcher = difflib.SequenceMatcher(None, base, fork, autojunk=False)
        spans = [(j1, j2) for op, _i1, _i2, j1, j2 in matcher.get_opcodes() if op != "equal"]
        if any(j1 == j2 or not all(marks[j1:j2]) for j1, j2 in spans):
            return None  # the fork changed unmarked lines (or deleted some) here: not ours to place
        where = _base_to_upstream(base, up)
        placed: list[tuple[int, int, int, tuple[str, ...]]] = []  # (up start, up end, order, lines)
        replaced = 0
        for order, e in enumerate(fork_edits):
            if e.start == e.end:
                left, right = where.get(e.start - 1), where.get(e.start)
                if left is not None and right is not None and left + 1 != right:
                    return None  # upstream inserted lines exactly here: the place is ambiguous
                pos = right if right is not None else (left + 1 if left is not None else None)
                if pos is None:
                    return None
                placed.append((pos, pos, order, e.new))
            else:
                mapped = [where.get(k) for k in range(e.start, e.end)]
                first = mapped[0]
                if first is None or mapped != list(range(first, first + len(mapped))):
                    return None  # upstream changed the lines the fork's section replaces
                placed.append((first, first + len(mapped), order, e.new))
                replaced += len(mapped)
        out: list[str] = []
        pos = 0
        for start, end, _order, lines in sorted(placed):
            if start < pos:
                return None
            out.extend(up[pos:start])
            out.extend(lines)
            pos = end
        out.extend(up[pos:])
        kept = sum(len(e.new) for e in fork_edits)
        first_mark = next((line.strip() for line, m in zip(fork, marks, strict=True) if m), "")
        extra = f", replacing {replaced} unchanged base line(s)" if replaced else ""
        return Decision(
            "fork-markers",
            0.9 if replaced else 0.95,
            f"kept {kept} fork-marked line(s) ({first_mark[:60]!r}) in upstream's version{extra}",
            lines=tuple(out),
        )
