"""`forksync backtest`: how would the engine have done on this repository's own merges?"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from msgspec.structs import replace

from ..backtest import MergeSpec, find_merges, parents, render, replay
from ..config import Config, load_config
from ..errors import ExitCode, ForksyncError, GitError
from ..git import Git
from ..secrets import redact

if TYPE_CHECKING:
    from ..llm.agent import Agent


class UsageError(ForksyncError):
    exit_code = ExitCode.USAGE
    kind = "usage"


def run(
    repo: Path,
    config_path: Path | None,
    limit: int,
    merges: list[str],
    as_json: bool,
    *,
    calibrate: bool = False,
    use_agent: bool = False,
    budget_usd: float | None = None,
) -> int:
    if limit < 1:
        raise UsageError(f"--limit must be at least 1 (got {limit})")
    if budget_usd is not None and (not use_agent or budget_usd < 0):
        raise UsageError("--budget-usd needs --agent and an amount of 0 or more")
    if use_agent and calibrate:
        raise UsageError("--calibrate measures the engine's rules: run it without --agent")
    if not repo.is_dir():
        raise GitError(f"folder {repo} does not exist")
    git = Git(repo)
    if git.run("rev-parse", "--git-dir", check=False).returncode != 0:
        raise GitError(f"{repo} is not a git repository")
    config, _ = load_config(repo, config_path)
    if calibrate:  # measure the rules as they are, not as an earlier calibration capped them
        config = replace(config, resolve=replace(config.resolve, calibrate=False))
    specs = [_spec(git, m) for m in merges] if merges else find_merges(git, limit)
    if not specs:
        print("no conflicted merge found to replay" if not as_json else json.dumps({"merges": []}))
        return 0

    def progress(i: int, outcome: object) -> None:
        if not as_json and sys.stderr.isatty():
            print(f"\rreplayed {i + 1}/{len(specs)}", end="", file=sys.stderr, flush=True)

    agent = _agent(git, config, budget_usd) if use_agent else None
    result = replay(git, config, specs, progress=progress, agent=agent)
    if not as_json and sys.stderr.isatty():
        print(file=sys.stderr)
    print(redact(json.dumps(result.to_json(), indent=2) if as_json else render(result)))
    if agent is not None and agent.exhausted:
        print(f"forksync: the agent stopped early: {agent.exhausted.message}", file=sys.stderr)
    if calibrate:
        from ..resolve import calibration

        pairs = [(f.rule, f.verdict) for m in result.merges for f in m.files]
        path = calibration.save(git.common_dir(), calibration.measure(pairs), len(result.merges))
        print(f"calibration written to {path}", file=sys.stderr)
    return 0


def _agent(git: Git, config: Config, budget_usd: float | None) -> Agent:
    """One agent for the whole replay, so the budget caps all of it; its audit goes with the runs'."""
    from datetime import UTC, datetime

    from ..llm.agent import make_agent
    from ..state import state_dir

    if budget_usd is not None:
        config = replace(config, agent=replace(config.agent, max_cost_usd=budget_usd))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    agent = make_agent(config, state_dir(git.common_dir()) / "artifacts" / f"backtest-{stamp}")
    if agent is None:
        raise UsageError("--agent needs an [agent] provider in the configuration")
    return agent


def _spec(git: Git, arg: str) -> MergeSpec:
    """`<rev>` or `<rev>:p2` when the merge's second parent is the fork (a sync branch cut from upstream)."""
    rev, _, side = arg.rpartition(":") if arg.endswith((":p1", ":p2")) else (arg, "", "p1")
    sha = git.rev_parse(rev) if not rev.startswith("-") else None
    if sha is None:
        raise GitError(f"--merge {rev!r} is not a commit in this repository")
    if len(parents(git, sha)) != 2:
        raise UsageError(f"--merge {rev!r} is not a two-parent merge commit")
    return MergeSpec(sha, "p2" if side == "p2" else "p1")
