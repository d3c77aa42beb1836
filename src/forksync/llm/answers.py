"""Turn the model's answer for one hunk into lines, and check it before anything is written.

The model is never trusted: an answer is applied only when it holds no conflict markers, no
redacted text, touches only the hunk's region, keeps the fork's marked lines, and leaves a
file that still parses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..secrets import MASK, redact
from .prompts import HunkView

_MARKER = re.compile(r"^(<{7}|>{7}|\|{7})( |$)|^={7}$")


def to_lines(text: str, view: HunkView) -> tuple[str, ...]:
    """The answer split into lines with the hunk's line ending, ending the way the region did."""
    sides = [*view.fork, *view.upstream, *view.base]
    nl = "\r\n" if any(x.endswith("\r\n") for x in sides) else "\n"
    lines = [line.rstrip("\r\n") + nl for line in text.splitlines()]
    # The region ends the file: without a final newline only where a side has none. A model often
    # drops the last newline, but never means to take away one that both sides have.
    open_end = any(not side[-1].endswith("\n") for side in (view.fork, view.upstream) if side)
    if lines and not view.after and not text.endswith("\n") and open_end:
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


_COMMENT_OPENERS = ("#", "//", "/*", "<!--", "--", ";")
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Need:
    """Something of the fork's marked lines an answer must keep, within one of its lines."""

    text: str  # found within the line
    words: tuple[str, ...] = ()  # the fork's own words on that line (absent from base and upstream)


def _marker_need(line: str, start: int, others: set[str]) -> Need:
    """A line naming the marker must keep its comment from the opener on (`# FORK: FORK-1234 …`)
    and the fork's own words on it; upstream's change to the rest of the line may be merged in."""
    head = line[:start]
    at = max(head.rfind(opener) for opener in _COMMENT_OPENERS)
    if at < 0:
        return Need(line.strip())  # the marker is part of the code itself: keep the line
    own = tuple(dict.fromkeys(w for w in _TOKEN.findall(line[:at]) if w not in others))
    return Need(line[at:].strip(), own)


def marked_required(view: HunkView, open_before: bool, marker: str) -> list[Need]:
    """What the fork's marked sections require of an answer, in order: for each line naming the
    marker, its marker comment and the fork's own words; each line inside a marker block whole."""
    if not marker:
        return []
    word = re.compile(rf"\b{re.escape(marker)}\b")
    others = {w for line in (*view.base, *view.upstream) for w in _TOKEN.findall(line)}
    required = []
    inside = open_before
    for line in view.fork:
        found = word.search(line)
        hit = found is not None
        lower = line.lower()
        if hit and re.search(r"\b(start|begin)\b", lower):
            inside = True
        if found is not None and not inside and line.strip():
            required.append(_marker_need(line, found.start(), others))
        elif (hit or inside) and line.strip():
            required.append(Need(line.strip()))
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


def region_error(lines: Sequence[str], view: HunkView, required: Sequence[Need]) -> str | None:
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
        found = next(
            (
                i
                for i in range(pos, len(stripped))
                if need.text in stripped[i]
                and set(need.words) <= set(_TOKEN.findall(stripped[i].replace(need.text, "", 1)))
            ),
            None,
        )
        if found is None:
            return f"the fork's marked line was dropped: {need.text[:80]!r}"
        pos = found + 1
    return None
