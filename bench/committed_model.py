"""A loopback "model" that answers each hunk with what a real merge committed there (benchmarks only).

`bench/real_syncs.py --oracle-agent` runs a whole `forksync sync` with an `[agent]` pointed at the
test suite's loopback Messages API, scripted with this: it reads the prompt forksync sent (the
file, each hunk's context and sides), finds the region between that context in the file the real
merge committed, and answers it as a model would, by a side's name when the region is exactly that
side, else as text. Where the context does not place the region exactly once it leaves the hunk.
So the sync shows what the agent path makes of a real release when every answer is right: the
answers forksync accepts, the PR body a reviewer reads, the verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from tests.standins.llm_api import Reply

_FILE = re.compile(r"^File: (.+)$", re.M)
_HUNK = re.compile(r"^## Hunk (\d+)", re.M)
_RETRY = re.compile(r"^- hunk (\d+):", re.M)
_FENCE = re.compile(r"^(`{3,})\n(.*?)^\1$", re.S | re.M)
_PARTS = ("before", "base", "fork", "upstream", "after")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "\n".join(
        str(b.get("text") or b.get("content") or "") for b in content or [] if isinstance(b, dict)
    )


def hunks(prompt: str) -> dict[int, dict[str, list[str]]]:
    """Each hunk's context and sides as the prompt showed them (lines with their newlines)."""
    marks = list(_HUNK.finditer(prompt))
    out = {}
    for i, m in enumerate(marks):
        section = prompt[m.end() : marks[i + 1].start() if i + 1 < len(marks) else len(prompt)]
        fences = [f.group(2) for f in _FENCE.finditer(section)][: len(_PARTS)]
        if len(fences) == len(_PARTS):
            out[int(m.group(1))] = {
                k: v.splitlines(keepends=True) for k, v in zip(_PARTS, fences, strict=True)
            }
    return out


def region(truth: list[str], before: list[str], after: list[str]) -> tuple[str, ...] | None:
    """The committed lines between this context, if the context places them exactly once."""

    def at(block: list[str]) -> list[int]:
        n = len(block)
        return [i for i in range(len(truth) - n + 1) if truth[i : i + n] == block]

    starts = [i + len(before) for i in at(before)] if before else [0]
    ends = at(after) if after else [len(truth)]
    spans = {(s, e) for s in starts if (e := next((x for x in ends if x >= s), None)) is not None}
    if len(spans) != 1:
        return None
    s, e = spans.pop()
    return tuple(truth[s:e])


def committed_model(truth_of: Callable[[str], bytes | None]) -> Callable[[dict[str, Any]], Reply]:
    """The reply function: ``truth_of(path)`` is the file the real merge committed."""

    def reply(body: dict[str, Any]) -> Reply:
        messages = body.get("messages", [])
        first, last = _text(messages[0]), _text(messages[-1])
        path = _FILE.search(first) or _FILE.search(last)
        shown = hunks(first)
        wanted = [int(n) for n in _RETRY.findall(last)] if len(messages) > 1 else list(shown)
        data = truth_of(path.group(1).strip()) if path else None
        truth = data.decode("utf-8", "replace").splitlines(keepends=True) if data is not None else []
        entries = []
        for n in wanted:
            h = shown.get(n)
            lines = region(truth, h["before"], h["after"]) if h and data is not None else None
            if lines is None or h is None:
                entries.append(
                    {"hunk": n, "decision": "leave", "rationale": "not placed in the committed file"}
                )
            elif list(lines) in (h["fork"], h["upstream"]):
                side = "fork" if list(lines) == h["fork"] else "upstream"
                entries.append({"hunk": n, "decision": side, "rationale": "as the real merge committed"})
            else:
                text = "".join(lines)
                entries.append(
                    {"hunk": n, "decision": "resolve", "resolved": text, "rationale": "as committed"}
                )
        return Reply(tool_calls=[("submit_resolution", {"hunks": entries})])

    return reply
