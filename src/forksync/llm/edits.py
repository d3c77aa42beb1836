"""Edits the agent makes outside the conflict hunks: an import the merged code needs, a call renamed.

A hunk's answer may only replace its own region; some right resolutions also change a line
elsewhere (people add the import a merged hunk uses). Such an edit is anchored, never free-form:
it names whole lines of the file's text outside the hunks, found exactly once there, and says what
they become. It is small, keeps the fork's marked lines, and the file must still parse with it
(checked by the caller); otherwise it is refused with one line saying why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..resolve.conflicts import MergedDoc
from ..secrets import MASK

MAX_EDITS = 8  # per file
# Lines found and written outside the hunks, all edits of a file together: a budget per file, not
# per edit, which a model could split. A person's deletion of a 73-line function outside the hunks
# (CartoDB/litellm 9ca7b1ad9b) fits; rewriting a large file around its hunks does not.
MAX_FIND_LINES = 120
MAX_REPLACE_LINES = 120

_MARKER = re.compile(r"^(<{7}|>{7}|\|{7})( |$)|^={7}$")


@dataclass(frozen=True)
class Edit:
    find: tuple[str, ...]
    replace: tuple[str, ...]
    rationale: str


def parse(entry: object, nl: str) -> Edit | str:
    """One ``edits`` entry of the model's answer as an Edit, or why it is not one."""
    if not isinstance(entry, dict):
        return "an edit must be an object with find and replace"
    find, new = entry.get("find"), entry.get("replace")
    if not isinstance(find, str) or not isinstance(new, str) or not find.strip():
        return "an edit needs a non-empty find and a replace"
    rationale = " ".join(str(entry.get("rationale", "")).split())[:200] or "no rationale given"
    return Edit(_lines(find, nl), _lines(new, nl), rationale)


def _lines(text: str, nl: str) -> tuple[str, ...]:
    return tuple(line.rstrip("\r\n") + nl for line in text.splitlines())


def apply(doc: MergedDoc, edit: Edit, marker: str, taken: Sequence[Edit] = ()) -> str | None:
    """Apply ``edit`` to the doc's stable text in place, or say why it may not be applied."""
    if len(taken) >= MAX_EDITS:
        return f"more than {MAX_EDITS} edits outside the hunks"
    found = len(edit.find) + sum(len(e.find) for e in taken)
    written = len(edit.replace) + sum(len(e.replace) for e in taken)
    if found > MAX_FIND_LINES or written > MAX_REPLACE_LINES:
        return (
            f"edits outside the hunks may find at most {MAX_FIND_LINES} lines and write "
            f"{MAX_REPLACE_LINES} in one file ({found} and {written} with this one)"
        )
    if any(MASK in line for line in (*edit.find, *edit.replace)):
        return "an edit outside the hunks holds redacted text"
    if any(_MARKER.match(line.rstrip("\r\n")) for line in edit.replace):
        return "an edit outside the hunks holds conflict markers"
    if marker:
        kept = {line.strip() for line in edit.replace}
        dropped = [line for line in edit.find if marker in line and line.strip() not in kept]
        if dropped:
            return f"an edit outside the hunks drops the fork's marked line {dropped[0].strip()[:80]!r}"
    places = [
        (i, start)
        for i, part in enumerate(doc.parts)
        if isinstance(part, list)
        for start in _starts(part, edit.find)
    ]
    if len(places) != 1:
        where = "nowhere" if not places else f"{len(places)} times"
        return f"an edit's find must match whole lines outside the hunks exactly once; it matches {where}"
    i, start = places[0]
    part = doc.parts[i]
    assert isinstance(part, list)
    doc.parts[i] = [*part[:start], *edit.replace, *part[start + len(edit.find) :]]
    return None


def describe(edit: Edit) -> str:
    """One line for the report and the PR: where the agent edited outside the hunks, and why."""
    first = edit.find[0].strip()[:60]
    return (
        f"the agent edited outside the hunks: {len(edit.find)} line(s) from {first!r} became "
        f"{len(edit.replace)}: {edit.rationale}"
    )


def _starts(lines: Sequence[str], find: Sequence[str]) -> list[int]:
    n = len(find)
    return [s for s in range(len(lines) - n + 1) if list(lines[s : s + n]) == list(find)]
