"""`forksync resolve` (a merge in progress) and `forksync merge-driver` (one file, for git).

Both run the same engine. `resolve` writes and stages what it settles and leaves every other
conflict exactly as git left it; the merge driver follows git's contract: the result goes to
%A, exit 0 when clean, 1 when conflicts remain.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import click

from ..config import Config, load_config_at, load_merge_config
from ..errors import ForksyncError, GitError
from ..git import Git
from ..resolve.conflicts import has_markers
from ..resolve.engine import (
    Chain,
    apply_results,
    labels_for,
    read_conflicts_full,
    resolve_all,
    resolve_versions,
)
from ..resolve.fork_config import keep_fork_config
from ..resolve.model import Context, FileResult, ForkSide, Versions
from ..secrets import redact, register_checkout


def _context(repo: Path, config_path: Path | None, fork_side: ForkSide) -> Context:
    git = Git(repo)
    if not repo.is_dir():
        raise GitError(f"folder {repo} does not exist")
    if not git.ok("rev-parse", "--git-dir"):
        raise GitError(f"{repo} is not a git repository")
    top = git.toplevel()
    git = Git(top)
    register_checkout(top)
    head, merge_head = git.rev_parse("HEAD"), git.rev_parse("MERGE_HEAD")
    if head is None or merge_head is None:
        raise GitError(
            f"no merge in progress in {top}", hint="run it after a `git merge` that stopped on conflicts"
        )
    fork, upstream = (head, merge_head) if fork_side == "ours" else (merge_head, head)
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The merge base walks history (30 ms on litellm's): found while the config is read.
        base = pool.submit(git.merge_base, head, merge_head)
        config = load_merge_config(git, top, config_path, fork, upstream)[0]  # never upstream's
        described = git.run("describe", "--tags", "--exact-match", upstream, check=False)
        version = described.out.strip() if described.returncode == 0 else None
        base_commit = base.result()
    return Context(
        repo=top,
        git=git,
        config=config,
        fork_commit=fork,
        upstream_commit=upstream,
        base_commit=base_commit,
        upstream_version=version,
        head="fork" if fork_side == "ours" else "upstream",
    )


def run(
    repo: Path,
    config_path: Path | None,
    fork_side: str,
    dry_run: bool,
    as_json: bool,
    *,
    use_agent: bool = False,
) -> int:
    side = cast(ForkSide, fork_side)
    ctx = _context(repo, config_path, side)
    versions, missing = read_conflicts_full(ctx.git, side)
    results = resolve_all(ctx, versions)
    if use_agent and any(r.outcome != "resolved" for r in results):
        results = _with_agent(ctx, versions, results)
    by_path = {v.path: v for v in versions}
    results = [_keep_fork_config(by_path[r.path], r) if r.path in by_path else r for r in results]
    results += [
        FileResult(
            p,
            "missing",
            "unresolved",
            "none",
            "a version's blob is not in this repository (partial clone?): left as git left it",
            None,
            write=False,
        )
        for p in missing
    ]
    problems = [] if dry_run else apply_results(ctx, results)
    left = [r for r in results if r.outcome == "unresolved"]
    click.echo(redact(render_json(results, dry_run) if as_json else render_table(results, dry_run)))
    for problem in problems:  # a file a command should have regenerated still holds upstream's copy
        click.echo(redact(f"forksync: regenerate: {problem}; check the regenerated files"), err=True)
    return 1 if left or problems else 0


def _keep_fork_config(v: Versions, r: FileResult) -> FileResult:
    """A resolved `[tool.forksync]` is the fork's, whatever upstream's side said (fork_config.py)."""
    if r.outcome != "resolved" or r.content is None:
        return r
    kept = keep_fork_config(r.path, v.base, v.fork, v.upstream, r.content)
    if kept is None or kept.content == r.content:
        return r
    if kept.content is None or has_markers(kept.content):
        return r
    return replace(r, content=kept.content, details=(*r.details, kept.reason))


def _with_agent(ctx: Context, versions: list[Versions], results: list[FileResult]) -> list[FileResult]:
    """What the engine left, sent to the configured agent (as a sync would); its cost on stderr."""
    from datetime import UTC, datetime

    from ..errors import ConfigError
    from ..llm.agent import make_agent
    from ..state import state_dir

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    agent = make_agent(ctx.config, state_dir(ctx.git.common_dir()) / "artifacts" / f"resolve-{stamp}")
    if agent is None:
        raise ConfigError("--agent needs an [agent] provider", hint="set [agent] provider in .forksync.toml")
    out = agent.resolve_remaining(ctx, versions, results)
    tokens = sum(c.input_tokens + c.output_tokens for c in agent.calls)
    cost = sum(c.cost_usd for c in agent.calls)
    click.echo(f"forksync: agent: {len(agent.calls)} call(s), {tokens} tokens, ${cost:.4f}", err=True)
    for note in agent.warnings:
        click.echo(redact(f"forksync: agent: {note}"), err=True)
    if agent.exhausted:
        click.echo(redact(f"forksync: agent stopped: {agent.exhausted.message}"), err=True)
    return out


def _as_dict(r: FileResult) -> dict[str, Any]:
    return {
        "path": r.path,
        "kind": r.kind,
        "outcome": r.outcome,
        "rule": r.rule,
        "reason": r.reason,
        "details": list(r.details),
        "hunks": [
            {
                "index": h.index,
                "fork_start": h.fork_start,
                "fork_lines": h.fork_lines,
                "upstream_lines": h.upstream_lines,
                "outcome": h.outcome,
                "rule": h.rule,
                "confidence": h.confidence,
                "reason": h.reason,
            }
            for h in r.hunks
        ],
    }


def render_json(results: list[FileResult], dry_run: bool) -> str:
    files = [_as_dict(r) for r in results]
    resolved = sum(1 for r in results if r.outcome == "resolved")
    summary = {
        "files": len(results),
        "resolved": resolved,
        "unresolved": len(results) - resolved,
        "dry_run": dry_run,
    }
    return json.dumps({"summary": summary, "files": files}, indent=2)


MAX_DETAILS = 5


def render_table(results: list[FileResult], dry_run: bool) -> str:
    if not results:
        return "no conflicted files"
    rows = [("file", "hunk", "rule", "outcome", "reason")]
    for r in results:
        if r.hunks:
            rows += [(r.path, str(h.index), h.rule, h.outcome, h.reason) for h in r.hunks]
        else:
            rows.append((r.path, "-", r.rule, r.outcome, r.reason))
        # What the file's rows do not say (each edit the agent made outside the hunks, the keys a
        # structured merge decided), a few lines at most; --json has them all.
        rows += [(r.path, "↳", "", "", d) for d in r.details[:MAX_DETAILS]]
        if len(r.details) > MAX_DETAILS:
            rows.append((r.path, "↳", "", "", f"… and {len(r.details) - MAX_DETAILS} more (--json)"))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    ]
    resolved = sum(1 for r in results if r.outcome == "resolved")
    verb = "would resolve" if dry_run else "resolved"
    lines.append(f"{verb} {resolved} of {len(results)} conflicted file(s); {len(results) - resolved} left")
    return "\n".join(lines)


def merge_driver(base: Path, current: Path, other: Path, path: str, fork_side: str) -> int:
    """git's merge-driver contract: read %O %A %B, write the result to %A, exit 0 clean, 1 conflicted."""
    try:
        data = {name: p.read_bytes() for name, p in (("base", base), ("current", current), ("other", other))}
    except OSError as exc:
        raise GitError(f"merge driver cannot read its input: {exc}") from None
    fork, upstream = (
        (data["current"], data["other"]) if fork_side == "ours" else (data["other"], data["current"])
    )
    repo = Path.cwd()
    try:  # the fork's committed config, never the half-merged working tree (upstream's files)
        config = _driver_config(repo, fork_side)
    except ForksyncError:  # e.g. an unreadable config: the defaults still resolve safely
        config = Config()
    ctx = Context(repo=repo, git=Git(repo), config=config, head="fork" if fork_side == "ours" else "upstream")
    v = Versions(path or current.name, data["base"], fork, upstream)
    result = resolve_versions(ctx, v, Chain.default(ctx))
    if result.outcome == "resolved" and result.content is not None:
        current.write_bytes(result.content)
        return 0
    content = result.content
    if content is None:  # settled at file level as "a person decides", or a deletion: show the line merge
        from ..resolve.conflicts import merge_file

        content = (
            merge_file(v.base or b"", fork, upstream, labels=labels_for(ctx))
            .render()
            .encode("utf-8", "surrogateescape")
        )
    current.write_bytes(content)
    return 1


def _driver_config(repo: Path, fork_side: str) -> Config:
    """git runs a merge driver mid-merge: the fork's side is HEAD (ours) or MERGE_HEAD (theirs)."""
    git = Git(repo)
    fork = git.rev_parse("HEAD" if fork_side == "ours" else "MERGE_HEAD")
    return load_config_at(git, fork)[0] if fork else Config()
