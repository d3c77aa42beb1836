"""Untrusted text made inert for Markdown (PR bodies) and Slack.

Upstream writes commit subjects, release notes, file paths and tag names; a reason or a check's
output quotes them. On a forge such text is live: "Fixes #12" closes the fork's issue when the
PR merges, "@org/team" pings people, `<img src=…>` or `<!--` changes what a reviewer sees, and
a backtick run closes a code fence early. Everything here is a pure function of its text.

- `text`: prose in a list item or table cell: closing keywords and @mentions broken by a
  zero-width space, HTML escaped, `|` escaped, one line;
- `code`: a path, tag or branch name as inline code (fence longer than any backtick run);
- `fenced`: a block (output, release notes) in a fence no line of the content can close;
- `capped`: a list with an honest "… and N more"; `cap_body`: the whole body under the limit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
ZWSP = "\u200b"
BODY_LIMIT = 60_000  # GitHub refuses a body over 65,536 characters; leave room for edits
_KEYWORDS = r"close[sd]?|fix(?:e[sd])?|resolve[sd]?"
# "Fixes #1", "closes owner/repo#2", "resolved: GH-3", "fix https://…/issues/4": GitHub links the
# keyword to the reference; breaking the keyword itself keeps the reference readable.
_CLOSING = re.compile(rf"\b({_KEYWORDS})(?=[ \t]*:?[ \t]*(?:(?:[\w.-]+/[\w.-]+)?#\d|gh-\d|https?://))", re.I)
_MENTION = re.compile(r"(?<![\w`])@(?=[A-Za-z0-9])")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def _break_keyword(m: re.Match[str]) -> str:
    word = m.group(1)
    return word[0] + ZWSP + word[1:]


def no_triggers(value: str) -> str:
    """Closing keywords and @mentions broken with a zero-width space; the text reads the same."""
    return _MENTION.sub("@" + ZWSP, _CLOSING.sub(_break_keyword, value))


def text(value: str) -> str:
    """Prose for a Markdown list item or table cell: inert and on one line."""
    one_line = " ".join(value.split())
    return no_triggers(one_line.translate(_HTML)).replace("|", "\\|")


def code(value: str) -> str:
    """Inline code (a path, a tag, a branch): no backtick run inside can end it, no `|` can end
    a table cell, and nothing in it is a mention or HTML."""
    one_line = " ".join(value.split()) or " "
    longest = max((len(run) for run in re.findall(r"`+", one_line)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if one_line.startswith("`") or one_line.endswith("`") else ""
    return f"{ticks}{pad}{one_line.replace('|', chr(92) + '|')}{pad}{ticks}"


def fence_for(content: str) -> str:
    """A backtick fence longer than any backtick run in the content (at least three)."""
    longest = max((len(run) for run in re.findall(r"`+", content)), default=0)
    return "`" * max(3, longest + 1)


def fenced(content: str, info: str = "text") -> str:
    """A fenced block whose content cannot close it; `info` tells the renderer it is plain text."""
    ticks = fence_for(content)
    body = content if content.endswith("\n") or not content else content + "\n"
    return f"{ticks}{info}\n{body}{ticks}"


def capped(
    items: Sequence[T], limit: int, render: Callable[[T], str], more: str = "- … and {n} more"
) -> list[str]:
    """At most `limit` rendered items, then an honest count of the rest."""
    out = [render(item) for item in items[:limit]]
    if len(items) > limit:
        out.append(more.format(n=len(items) - limit))
    return out


def slack(value: str) -> str:
    """Slack mrkdwn: `&`, `<`, `>` escaped (no `<!channel>`, `<@U…>`, `<url|text>`) and
    @here / @channel / @everyone and @names broken."""
    return _MENTION.sub("@" + ZWSP, value.translate(_HTML))


def cap_body(body: str, limit: int = BODY_LIMIT, note: str = "") -> str:
    """`body` cut at a line boundary below `limit`, its open fence and `<details>` closed, with
    a note saying how much was left out."""
    if len(body) <= limit:
        return body
    tail = note or "the full report is in the run's JSON report"
    room = limit - 400
    cut = body.rfind("\n", 0, room)
    kept = body[: cut if cut > 0 else room]
    closers = _closers(kept)
    dropped = len(body) - len(kept)
    return f"{kept}\n{closers}\n\n**… body truncated: {dropped:,} more characters left out; {tail}.**\n"


def _closers(kept: str) -> str:
    """What closes the fence and the `<details>` blocks left open at the cut."""
    fence = ""
    opened_details = 0
    for line in kept.split("\n"):
        stripped = line.strip()
        if fence:
            if stripped.startswith(fence) and set(stripped) == {"`"}:
                fence = ""
            continue
        m = re.match(r"(`{3,})", stripped)
        if m:
            fence = m.group(1)
            continue
        opened_details += stripped.count("<details>") - stripped.count("</details>")
    parts = [fence] if fence else []
    parts += ["</details>"] * max(0, opened_details)
    return "\n".join(parts)
