"""Hunks git leaves although nobody really disagrees: the same change on both sides, sides
that differ only in whitespace or line endings, and one side that only reformatted.

Whitespace is compared conservatively. Line endings and trailing blanks never count; blank
lines and spacing inside a line count as formatting only in code whose syntax ignores them;
indentation counts as formatting only where it carries no meaning (not in Python, YAML,
Makefiles). Text inside string literals is always compared exactly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .conflicts import n_lines
from .model import Context, Decision, Hunk, Versions

# Files where leading indentation is syntax.
_INDENT_SENSITIVE = (".py", ".pyi", ".pyx", ".yaml", ".yml", ".mk", ".sass", ".coffee", ".nim", ".haml")
_INDENT_NAMES = ("makefile", "gnumakefile", "snakefile")
# Code where spacing inside a line and blank lines are formatting (outside string literals).
_FREE_FORM = (
    ".py",
    ".pyi",
    ".pyx",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".hpp",
    ".cxx",
    ".java",
    ".kt",
    ".kts",
    ".scala",
    ".go",
    ".rs",
    ".cs",
    ".js",
    ".jsx",
    ".mjs",
    ".cjs",
    ".ts",
    ".tsx",
    ".css",
    ".scss",
    ".less",
    ".json",
    ".swift",
    ".php",
    ".rb",
    ".sql",
    ".proto",
    ".dart",
    ".groovy",
    ".gradle",
)
_TOKENS = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'|`[^`\n]*`|\s+|[^\s\"'`]+|.")


def _endings(lines: Sequence[str]) -> tuple[str, ...]:
    return tuple(line.rstrip("\r\n") for line in lines)


def indent_sensitive(path: str) -> bool:
    name = path.rsplit("/", 1)[-1].lower()
    return name.endswith(_INDENT_SENSITIVE) or name in _INDENT_NAMES


def _squeeze(line: str) -> str:
    """A line without whitespace outside string literals."""
    return "".join(tok for tok in _TOKENS.findall(line) if not tok.isspace())


def format_key(path: str, lines: Sequence[str]) -> tuple[str, ...]:
    """What stays of ``lines`` once formatting that cannot change meaning is dropped."""
    name = path.rsplit("/", 1)[-1].lower()
    stripped = [line.rstrip() for line in _endings(lines)]
    if name.endswith(".md") or not name.endswith(_FREE_FORM):
        return tuple(stripped)  # prose, YAML and unknown formats: only endings and trailing blanks
    out = []
    for line in stripped:
        if not line.strip():
            continue
        if indent_sensitive(path):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(indent + _squeeze(line))
        else:
            out.append(_squeeze(line))
    return tuple(out)


def _newline_of(lines: Sequence[str]) -> str | None:
    kinds = {"\r\n" if line.endswith("\r\n") else "\n" for line in lines if line.endswith("\n")}
    return kinds.pop() if len(kinds) == 1 else None


def _with_newline(lines: Sequence[str], nl: str) -> tuple[str, ...]:
    out = []
    for line in lines:
        body = line.rstrip("\r\n")
        out.append(body + nl if line.endswith("\n") else line)
    return tuple(out)


def context_newline(hunk: Hunk) -> str | None:
    """The line ending of the stable lines around the hunk, when they agree."""
    return _newline_of([*hunk.before, *hunk.after])


class TrivialResolver:
    name = "trivial"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        base, fork, up = hunk.base, hunk.fork, hunk.upstream
        if fork == up:
            return Decision(
                "trivial:same-change", 1.0, f"fork and upstream made the same change ({_n(fork)})", lines=up
            )
        if fork == base:
            return Decision("trivial:one-side", 1.0, "only upstream changed these lines", lines=up)
        if up == base:
            return Decision("trivial:one-side", 1.0, "only the fork changed these lines", lines=fork)
        if _endings(fork) == _endings(up):
            return self._line_endings(hunk)
        kf, ku, kb = format_key(v.path, fork), format_key(v.path, up), format_key(v.path, base)
        if kf == ku:
            return Decision(
                "trivial:whitespace-only",
                0.95,
                f"fork and upstream differ only in whitespace ({_n(fork)} vs {_n(up)}); "
                "took upstream's formatting",
                lines=self._in_context_endings(hunk, up),
            )
        if kf == kb:
            lines = up
            fork_nl, base_nl = _newline_of(fork), _newline_of(base)
            if fork_nl and base_nl and fork_nl != base_nl:
                lines = _with_newline(up, fork_nl)  # the fork's only change was the line endings: keep them
            return Decision(
                "trivial:fork-reformat-only",
                0.95,
                "the fork only reformatted these lines (whitespace); took upstream's content change",
                lines=lines,
            )
        if ku == kb:
            lines = fork
            up_nl, base_nl = _newline_of(up), _newline_of(base)
            if up_nl and base_nl and up_nl != base_nl:
                lines = _with_newline(fork, up_nl)
            return Decision(
                "trivial:upstream-reformat-only",
                0.95,
                "upstream only reformatted these lines (whitespace); took the fork's content change",
                lines=lines,
            )
        return None

    def _line_endings(self, hunk: Hunk) -> Decision:
        base, fork, up = hunk.base, hunk.fork, hunk.upstream
        if len(base) == len(fork) and _endings(base) == _endings(fork):
            # Line by line: a line whose ending the fork kept takes upstream's, and the other way round.
            lines = tuple(f if f != b else u for b, f, u in zip(base, fork, up, strict=True))
            why = "fork and upstream differ only in line endings; took each line's changed ending"
        else:
            lines = self._in_context_endings(hunk, up)
            why = "fork and upstream differ only in line endings; kept the surrounding lines' ending"
        return Decision("trivial:whitespace-only", 1.0, why, lines=lines)

    @staticmethod
    def _in_context_endings(hunk: Hunk, lines: tuple[str, ...]) -> tuple[str, ...]:
        nl = context_newline(hunk)
        return _with_newline(lines, nl) if nl else lines


def _n(lines: Sequence[str]) -> str:
    return n_lines(len(lines))
