"""Turn the model's answer for one hunk into lines, and check it before anything is written.

The model is never trusted: an answer is applied only when it holds no conflict markers, no
redacted text, touches only the hunk's region, keeps the fork's marked lines, and leaves a
file that still parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..secrets import MASK, redact
from .prompts import HunkView

_MARKER = re.compile(r"^(<{7}|>{7}|\|{7})( |$)|^={7}$")


def to_lines(text: str, view: HunkView) -> tuple[str, ...]:
    """The answer split into lines with the hunk's line ending, ending the way the region did."""
    sides = [*view.fork, *view.upstream, *view.base]
    nl = "\r\n" if any(x.endswith("\r\n") for x in sides) else "\n"
    lines = [line.rstrip("\r\n") + nl for line in text.splitlines()]
    region_ends_open = bool(view.fork) and not view.fork[-1].endswith("\n") and not view.after
    if lines and region_ends_open:
        lines[-1] = lines[-1].rstrip("\r\n")
    return tuple(lines)


def unredact(lines: Sequence[str], view: HunkView) -> tuple[str, ...] | None:
    """Put back lines the prompt showed redacted; None if a redaction mask would be written."""
    known = {}
    for line in (*view.base, *view.fork, *view.upstream, *view.before, *view.after):
        masked = redact(line)
        if masked != line:
            known[masked.rstrip("\r\n")] = line.rstrip("\r\n")
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        if MASK in body:
            if body not in known:
                return None
            line = known[body] + line[len(body) :]
        out.append(line)
    return tuple(out)


def marked_required(view: HunkView, open_before: bool, marker: str) -> list[str]:
    """Fork-side lines in marked sections: lines naming the marker and lines inside marker blocks."""
    if not marker:
        return []
    word = re.compile(rf"\b{re.escape(marker)}\b")
    required = []
    inside = open_before
    for line in view.fork:
        hit = word.search(line) is not None
        lower = line.lower()
        if hit and re.search(r"\b(start|begin)\b", lower):
            inside = True
        if (hit or inside) and line.strip():
            required.append(line.strip())
        if hit and re.search(r"\bend\b", lower):
            inside = False
    return required


def block_open_after(lines: Sequence[str], marker: str, inside: bool) -> bool:
    """Track whether a marked block (`# FORK START` … `# FORK END`) is open after these lines."""
    if not marker:
        return False
    word = re.compile(rf"\b{re.escape(marker)}\b")
    for line in lines:
        if word.search(line):
            lower = line.lower()
            if re.search(r"\b(start|begin)\b", lower):
                inside = True
            elif re.search(r"\bend\b", lower):
                inside = False
    return inside


def region_error(lines: Sequence[str], view: HunkView, required: Sequence[str]) -> str | None:
    """Why this answer may not be applied to the hunk's region (parsing is checked by the caller)."""
    for line in lines:
        if _MARKER.match(line.rstrip("\r\n")):
            return "answer still holds conflict markers"
    before, after = list(view.before), list(view.after)
    if (
        before
        and list(lines[: len(before)]) == before
        and list(view.fork[: len(before)]) != before
        and list(view.upstream[: len(before)]) != before
    ):
        return "answer repeats the context before the hunk: only the hunk's region may change"
    if (
        after
        and len(lines) >= len(after)
        and list(lines[-len(after) :]) == after
        and list(view.fork[-len(after) :]) != after
        and list(view.upstream[-len(after) :]) != after
    ):
        return "answer repeats the context after the hunk: only the hunk's region may change"
    limit = 2 * (len(view.fork) + len(view.upstream)) + 20
    if len(lines) > limit:
        sizes = f"{len(view.fork)}/{len(view.upstream)}"
        return f"answer has {len(lines)} lines for a region of {sizes} lines: too much changed"
    stripped = [line.strip() for line in lines]
    pos = 0
    for need in required:
        try:
            pos = stripped.index(need, pos) + 1
        except ValueError:
            return f"the fork's marked line was dropped: {need[:80]!r}"
    return None
