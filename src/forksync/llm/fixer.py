"""Fix failing checks with a small tool loop; each successful fix becomes its own commit.

The tool list is a constant (prompts.FIX_TOOLS) and dispatch goes through a fixed table, so
nothing the model reads can widen what it may do. A fix is kept only when the check passes
when we re-run it ourselves; otherwise the edits are undone and the check stays failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import BudgetExceeded
from ..git import Git
from ..report import CheckRecord
from ..secrets import redact
from .prompts import FIX_SYSTEM, FIX_TOOLS, fix_prompt
from .providers import Message, ProviderError, Request, ToolResult
from .session import Session
from .tools import ToolError, Workspace


class CheckFixer:
    def __init__(self, session: Session, max_turns: int, conventions: str = "") -> None:
        self.session = session
        self.max_turns = max_turns
        self.conventions = conventions
        self.notes: list[str] = []
        self.stopped: ProviderError | None = None

    def fix_all(
        self,
        worktree: Path,
        failures: Sequence[CheckRecord],
        rerun: Callable[[str], CheckRecord],
        allowed: Sequence[str] = (),
    ) -> list[str]:
        """Raises BudgetExceeded between fixes (an abandoned fix's edits are undone first)."""
        allowed = list(allowed) or [f.name for f in failures]
        shas = []
        for failure in failures:
            if self.stopped is not None:
                break
            sha = self.fix_one(Workspace(worktree, allowed, rerun), failure)
            if sha:
                shas.append(sha)
        return shas

    def fix_one(self, ws: Workspace, failure: CheckRecord) -> str | None:
        messages = [
            Message(
                "user",
                fix_prompt(failure.name, failure.command, failure.output_tail, ws.checks, self.conventions),
            )
        ]
        rationale = ""
        try:
            for turn in range(1, self.max_turns + 1):
                answer = self.session.call(
                    f"fix:{failure.name}:turn{turn}",
                    Request(FIX_SYSTEM, tuple(messages), FIX_TOOLS, None, 4096),
                )
                messages.append(Message("assistant", answer.text, tuple(answer.tool_calls)))
                results = []
                finish = None
                for call in answer.tool_calls:
                    if call.name == "finish":
                        finish = call
                        continue
                    try:
                        results.append(ToolResult(call.id, ws.call(call.name, call.arguments)))
                    except ToolError as exc:
                        results.append(ToolResult(call.id, str(exc), True))
                if finish is not None or not answer.tool_calls:
                    rationale = str(finish.arguments.get("rationale", "")) if finish else answer.text
                    break
                messages.append(Message("user", tool_results=tuple(results)))
            else:
                self.notes.append(f"fix of {failure.name}: stopped after {self.max_turns} turns")
        except ProviderError as exc:
            self.notes.append(f"fix of {failure.name}: {exc}")
            if exc.fatal:
                self.stopped = exc
            undo(ws, ws.changed)
            return None
        except BudgetExceeded:
            undo(ws, ws.changed)
            raise
        return self.commit(ws, failure.name, rationale)

    def commit(self, ws: Workspace, check: str, rationale: str) -> str | None:
        changed = ws.changed  # only what the tools edited: files a check run produced are not the fix
        if not changed:
            self.notes.append(f"fix of {check}: no edit made")
            return None
        record = ws.last_check if ws.last_check is not None else ws.rerun(check)
        if not record.passed:
            self.notes.append(f"fix of {check}: still failing after the agent's edits; edits undone")
            undo(ws, changed)
            return None
        return commit_fix(ws.git, changed, check, rationale, self.session.provider.model)


def undo(ws: Workspace, paths: Sequence[str]) -> None:
    """Put back the files an abandoned fix touched (tracked: from HEAD; new: removed)."""
    if not paths:
        return
    tracked = set(ws.git.run("ls-files", "-z", "--", *paths).out.split("\0"))
    for rel in paths:
        if rel in tracked:
            ws.git.run("checkout", "HEAD", "--", rel, check=False)
        else:
            (ws.root / rel).unlink(missing_ok=True)


def commit_fix(git: Git, paths: Sequence[str], check: str, rationale: str, model: str) -> str:
    line = " ".join(rationale.split())[:200] or f"make {check} pass"
    message = redact(f"fix({check}): {line}\n\nForksync agent ({model}) fixed the failing check '{check}'.\n")
    git.run("add", "-A", "--", *paths)
    git.run("commit", "--no-verify", "-q", "-m", message, "--", *paths)
    return git.out("rev-parse", "HEAD")
