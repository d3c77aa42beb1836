"""The fixer's tools, confined to the sync worktree.

Paths are relative to the worktree; anything that escapes it (absolute paths, `..`, symlinks
pointing out) or reaches into `.git` is refused, so a model steered by hostile repository
text can still only edit tracked-tree files of this one worktree.

No argument crashes the run: an over-long name, lone surrogates, a path through a file, a bad
glob, a symlink loop, a file named like pathspec magic (`:(glob)**`; git reads every path
literally here) each become a refused call whose message goes back to the model. Results
and refusals are returned inside the prompt envelope: they are repository data.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..git import Git
from ..report import CheckRecord
from ..resolve.paths import matches
from ..secrets import redact
from .prompts import data

MAX_READ_CHARS = 20_000
MAX_HITS = 50
MAX_NAME_BYTES = 255  # one path component, as most file systems allow


class ToolError(Exception):
    """A refused or failed tool call; its message goes back to the model."""


class Workspace:
    def __init__(self, root: Path, checks: Sequence[str], rerun: Callable[[str], CheckRecord]) -> None:
        self.root = root.resolve()
        self.git = Git(self.root, env={"GIT_LITERAL_PATHSPECS": "1"})  # a path is never pathspec magic
        self.checks = list(checks)
        self.rerun = rerun
        self.changed: list[str] = []
        self.last_check: CheckRecord | None = None

    def confine(self, rel: Any) -> Path:
        if not isinstance(rel, str) or not rel or "\0" in rel:
            raise ToolError("path must be a non-empty relative path")
        if Path(rel).is_absolute():
            raise ToolError(f"absolute paths are not allowed: {rel}")
        if any(len(part.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES for part in Path(rel).parts):
            raise ToolError(f"a path component is longer than {MAX_NAME_BYTES} bytes")
        try:
            target = (self.root / rel).resolve()
        except (OSError, RuntimeError) as exc:  # a symlink loop, a name the OS refuses
            raise ToolError(f"cannot resolve {rel}: {exc.__class__.__name__}") from None
        if not target.is_relative_to(self.root):
            raise ToolError(f"path escapes the worktree: {rel}")
        if ".git" in target.relative_to(self.root).parts:
            raise ToolError("the .git folder is off limits")
        return target

    def read_file(self, path: Any, start: Any = None, end: Any = None) -> str:
        target = self.confine(path)
        if not target.is_file():
            raise ToolError(f"no such file: {path}")
        lines = target.read_text(encoding="utf-8", errors="replace").splitlines()
        first = max(1, int(start)) if isinstance(start, int) else 1
        last = min(len(lines), int(end)) if isinstance(end, int) else len(lines)
        out = "\n".join(f"{n}: {lines[n - 1]}" for n in range(first, last + 1))
        if len(out) > MAX_READ_CHARS:
            out = out[:MAX_READ_CHARS] + "\n… (truncated: ask for a line range)"
        return out or "(empty)"

    def search(self, text: Any, path_glob: Any = None) -> str:
        if not isinstance(text, str) or not text:
            raise ToolError("text must be a non-empty string")
        if path_glob is not None and not isinstance(path_glob, str):
            raise ToolError("path_glob must be a string")
        if path_glob:
            try:
                matches(path_glob, "")
            except re.error as exc:
                raise ToolError(f"invalid path_glob: {exc}") from None
        files = self.git.run("ls-files", "-z").out.split("\0")
        hits: list[str] = []
        for name in files:
            if not name or (path_glob and not matches(path_glob, name)):
                continue
            try:
                target = self.confine(name)
                body = target.read_text(encoding="utf-8", errors="replace") if target.is_file() else ""
            except (ToolError, OSError, RuntimeError):
                continue
            for n, line in enumerate(body.splitlines(), 1):
                if text in line:
                    hits.append(f"{name}:{n}: {line.strip()[:200]}")
                    if len(hits) >= MAX_HITS:
                        return "\n".join(hits) + "\n… (more hits: narrow the search)"
        return "\n".join(hits) or "no match"

    def apply_edit(self, path: Any, old_text: Any, new_text: Any) -> str:
        if not isinstance(old_text, str) or not isinstance(new_text, str):
            raise ToolError("old_text and new_text must be strings")
        target = self.confine(path)
        rel = str(target.relative_to(self.root))
        if not target.exists():
            if old_text:
                raise ToolError(f"no such file: {path}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(new_text, encoding="utf-8")
        else:
            if not target.is_file():
                raise ToolError(f"not a regular file: {path}")
            body = target.read_text(encoding="utf-8", errors="surrogateescape")
            count = body.count(old_text) if old_text else 0
            if count != 1:
                raise ToolError(f"old_text must occur exactly once in {path} (found {count})")
            target.write_text(body.replace(old_text, new_text, 1), encoding="utf-8", errors="surrogateescape")
        if rel not in self.changed:
            self.changed.append(rel)
        self.last_check = None
        return f"edited {rel}"

    def run_check(self, name: Any) -> str:
        if name not in self.checks:
            raise ToolError(f"unknown check {name!r}; allowed: {', '.join(self.checks)}")
        record = self.rerun(str(name))
        self.last_check = record
        state = "passed" if record.passed else f"failed (exit {record.exit_code})"
        return f"check {name} {state}\n{redact(record.output_tail[-4000:])}"

    def call(self, name: str, args: dict[str, Any]) -> str:
        """Dispatch by a fixed table: a name outside it is refused, whatever the model asks.

        The result is repository data, returned inside the envelope; any failure is a refusal.
        """
        if not isinstance(args, dict):
            raise ToolError("arguments must be an object")
        bad = [k for k, v in args.items() if _has_surrogates(k) or _has_surrogates(v)]
        if bad or _has_surrogates(name):
            raise ToolError(f"arguments must be valid Unicode text (lone surrogates in {clean(bad)})")
        try:
            return envelope(self._dispatch(name, args))
        except ToolError as exc:
            raise ToolError(envelope(clean(str(exc)))) from None
        except (OSError, ValueError, RuntimeError, UnicodeError, re.error) as exc:
            raise ToolError(envelope(clean(f"{name} failed: {exc.__class__.__name__}: {exc}"))) from None

    def _dispatch(self, name: str, args: dict[str, Any]) -> str:
        table: dict[str, Callable[..., str]] = {
            "read_file": lambda: self.read_file(args.get("path"), args.get("start"), args.get("end")),
            "search": lambda: self.search(args.get("text"), args.get("path_glob")),
            "apply_edit": lambda: self.apply_edit(
                args.get("path"), args.get("old_text"), args.get("new_text")
            ),
            "run_check": lambda: self.run_check(args.get("name")),
        }
        if name not in table:
            raise ToolError(f"no tool named {name!r}")
        return table[name]()

    def status_paths(self) -> list[str]:
        """Files changed in the worktree (by any means), for the Claude Code path."""
        out = self.git.run("status", "--porcelain", "-z", "--untracked-files=all").out
        paths = []
        for rec in out.split("\0"):
            if len(rec) > 3:
                paths.append(rec[3:])
        return [p for p in paths if not re.match(r"^\.git(/|$)", p)]


def _has_surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any("\ud800" <= ch <= "\udfff" for ch in value)
    if isinstance(value, list | tuple):
        return any(_has_surrogates(v) for v in value)
    if isinstance(value, dict):
        return any(_has_surrogates(k) or _has_surrogates(v) for k, v in value.items())
    return False


def clean(value: Any) -> str:
    """Text safe to echo back: lone surrogates replaced, secrets redacted."""
    text = value if isinstance(value, str) else repr(value)
    return redact(text.encode("utf-8", "replace").decode("utf-8"))


def envelope(text: str) -> str:
    return f"<repository-content>\n{data(text)}\n</repository-content>"
