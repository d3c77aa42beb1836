"""What the GitHub and GitLab clients share: a remote URL's project path, label colours, and a
pull request body fitted to the forge's size limit."""

from __future__ import annotations

import re

from ..config import Config
from .urls import web_base

BODY_POINTER = "the full text is in the run's report artifact"
_HEADING = re.compile(r"#{2,4} ")


def repo_path(git_url: str) -> tuple[str, str] | None:
    """(host, "owner/name[/…]") of a remote URL, or None for a local path."""
    base = web_base(git_url)
    if base is None:
        return None
    host, _, path = base.removeprefix("https://").partition("/")
    return (host, path) if "/" in path else None


def label_colour(name: str, config: Config) -> str:
    forge = config.forge
    colours = {forge.label_sync: "1d76db", forge.label_ready: "0e8a16", forge.label_review: "d93f0b"}
    return colours.get(name, "c5def5")


# -- the PR body ---------------------------------------------------------------------------
def fit_body(body: str, limit: int, pointer: str = BODY_POINTER) -> str:
    """The body within ``limit`` characters: the largest sections (``##`` to ``####``) are shortened first,
    each folded into ``<details>`` with a note saying how much was cut and where the rest is."""
    if len(body) <= limit:
        return body
    parts = re.split(r"(?m)^(?=#{2,4} )", body)
    for _ in range(len(parts)):
        excess = sum(map(len, parts)) - limit
        if excess <= 0:
            break
        i = max(range(len(parts)), key=lambda k: len(parts[k]))
        parts[i] = _fold(parts[i], len(parts[i]) - excess, pointer)
    text = "".join(parts)
    if len(text) > limit:
        note = f"\n\n… (shortened; {pointer})\n"
        text = _close_fence(text[: max(0, limit - len(note) - 4)]) + note
    return text[:limit]


def _fold(section: str, budget: int, pointer: str) -> str:
    title, _, content = section.partition("\n") if _HEADING.match(section) else ("", "", section)
    head = f"{title}\n\n" if title else ""
    summary = (
        f"<details><summary>Shortened: {{kept:,}} of {len(content):,} characters shown; {pointer}</summary>"
    )
    wrapper = len(head) + len(summary) + 40 + len("\n\n\n\n</details>\n\n")
    keep = content[: max(0, budget - wrapper)]
    if "\n" in keep:
        keep = keep[: keep.rfind("\n")]
    keep = _close_fence(keep)
    return f"{head}{summary.format(kept=len(keep))}\n\n{keep}\n\n</details>\n\n"


def _close_fence(text: str) -> str:
    fences = sum(1 for line in text.splitlines() if line.lstrip().startswith("```"))
    return text + "\n```" if fences % 2 else text
