"""The pipeline's entry to the LLM agent: resolve what the engine left, fix failing checks.

One Agent per run: it owns the provider, the budget and the audit trail, so every call of
both tasks counts against the same limits and lands in the same report list. When the budget
runs out the agent stops asking and keeps what it has: the rest stays for review, and
``exhausted`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from ..config import Config
from ..errors import BudgetExceeded
from ..report import CheckRecord, LLMCallRecord
from ..resolve.model import Context, FileResult, Versions
from .audit import Auditor
from .budget import Budget
from .factory import make_provider
from .fixer import CheckFixer, commit_fix, undo
from .pricing import PriceTable
from .prompts import CLAUDE_FIX_SYSTEM, fix_prompt
from .providers import Completion, Message, Provider, ProviderError, Request
from .resolver import AgentResolver, conventions_text
from .session import Session
from .tools import Workspace


def make_agent(config: Config, artifacts_dir: Path) -> Agent | None:
    """None when no provider is configured; ConfigError for a missing key or `claude` CLI."""
    provider = make_provider(config.agent)
    if provider is None:
        return None
    return Agent(config, provider, artifacts_dir)


class Agent:
    def __init__(self, config: Config, provider: Provider, artifacts_dir: Path) -> None:
        self.config = config
        self.provider = provider
        prices = PriceTable(config.agent.prices)
        _, known = prices.lookup(provider.model)
        self.warnings: list[str] = []
        if not known and provider.name != "claude-code":
            self.warnings.append(
                f"no price known for model {provider.model}: budget uses the highest listed price;"
                " set [agent] prices"
            )
        self.budget = Budget(config.agent.max_tokens, config.agent.max_cost_usd, prices)
        self.session = Session(provider, self.budget, Auditor(artifacts_dir))
        self.exhausted: BudgetExceeded | None = None

    @property
    def calls(self) -> list[LLMCallRecord]:
        return self.session.calls

    # -- conflicts ---------------------------------------------------------------------
    def resolve_remaining(
        self, ctx: Context, versions: Sequence[Versions], results: Sequence[FileResult]
    ) -> list[FileResult]:
        by_path = {v.path: v for v in versions}
        resolver = AgentResolver(self.session)
        out: list[FileResult] = []
        for res in results:
            v = by_path.get(res.path)
            if v is None or res.outcome == "resolved" or "agent" in ctx.config.resolve.disable:
                out.append(res)
                continue
            stop = self.exhausted or resolver.stopped
            if stop is not None:
                out.append(_note(res, f"not sent to the agent: {stop.message}"))
                continue
            out.append(resolver.resolve(ctx, v, res))
            self.exhausted = resolver.exhausted
        return out

    # -- failing checks ----------------------------------------------------------------
    def fix_checks(
        self, worktree: Path, failures: Sequence[CheckRecord], rerun: Callable[[str], CheckRecord]
    ) -> list[str]:
        if not self.config.agent.fix_checks or not failures:
            return []
        conventions = conventions_text(worktree, self.config.agent.conventions_file)
        if self.provider.name == "claude-code":
            return self._fix_with_claude_code(worktree, failures, rerun, conventions)
        fixer = CheckFixer(self.session, self.config.agent.max_turns, conventions)
        shas: list[str] = []
        for failure in failures:
            if self.exhausted is not None or fixer.stopped is not None:
                break
            try:
                shas += fixer.fix_all(worktree, [failure], rerun, allowed=[f.name for f in failures])
            except BudgetExceeded as exc:
                self.exhausted = exc
        self.warnings += fixer.notes
        return shas

    def _fix_with_claude_code(
        self,
        worktree: Path,
        failures: Sequence[CheckRecord],
        rerun: Callable[[str], CheckRecord],
        conventions: str,
    ) -> list[str]:
        from .claude_code import ClaudeCodeProvider

        provider = self.provider
        assert isinstance(provider, ClaudeCodeProvider)
        fixer = CheckFixer(self.session, self.config.agent.max_turns, conventions)
        shas = []
        for failure in failures:
            ws = Workspace(worktree, [f.name for f in failures], rerun)
            already = set(ws.status_paths())  # e.g. caches the failing check left behind
            prompt = fix_prompt(failure.name, failure.command, failure.output_tail, [], conventions)
            left = max(0.0, self.budget.max_cost_usd - self.budget.cost_usd)
            request = Request(CLAUDE_FIX_SYSTEM, (Message("user", prompt),), max_output_tokens=4096)

            def run(r: Request, prompt: str = prompt, left: float = left) -> Completion:
                return provider.fix(worktree, prompt, r.system, self.config.agent.max_turns, left)

            try:
                answer = self.session.call(f"fix:{failure.name}", request, run=run)
            except BudgetExceeded as exc:
                self.exhausted = exc
                break
            except ProviderError as exc:
                fixer.notes.append(f"fix of {failure.name}: {exc}")
                undo(ws, [p for p in ws.status_paths() if p not in already])
                continue
            changed = [p for p in ws.status_paths() if p not in already]
            if not changed:
                fixer.notes.append(f"fix of {failure.name}: no edit made")
                continue
            if not rerun(failure.name).passed:
                fixer.notes.append(
                    f"fix of {failure.name}: still failing after the agent's edits; edits undone"
                )
                undo(ws, changed)
                continue
            shas.append(commit_fix(ws.git, changed, failure.name, answer.text, provider.model))
        self.warnings += fixer.notes
        return shas


def _note(res: FileResult, reason: str) -> FileResult:
    hunks = tuple(
        replace(h, reason=f"{h.reason}; {reason}") if h.outcome == "unresolved" else h for h in res.hunks
    )
    return replace(res, reason=f"{res.reason}; {reason}", hunks=hunks)
