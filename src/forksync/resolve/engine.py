"""Runs the resolver chain over conflicted paths and writes the outcome.

Per path: file resolvers first; then a line merge whose hunks go through the hunk
resolvers. A decision below `min-confidence` is never applied (a wrong resolution that
looks right is worse than an open conflict); its reason is kept for the reviewer. A fully
resolved file must still parse where its type has a parser (Python, JSON, TOML, YAML).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from ..git import Git, cat_blobs
from . import registry
from .conflicts import decode, encode, has_markers, merge_file
from .model import (
    Context,
    Decision,
    FileResolver,
    FileResult,
    ForkSide,
    HunkResolver,
    HunkResult,
    Versions,
)
from .validate import validation_error


@dataclass
class Chain:
    files: list[FileResolver]
    hunks: list[HunkResolver]

    @classmethod
    def default(cls, ctx: Context) -> Chain:
        return cls(registry.file_resolvers(ctx), registry.hunk_resolvers(ctx))


def labels_for(ctx: Context) -> tuple[str, str, str]:
    fork = ctx.config.fork.branch
    up = ctx.upstream_version
    return (f"fork ({fork})", "base", f"upstream ({up})" if up else "upstream")


def resolve_versions(ctx: Context, v: Versions, chain: Chain) -> FileResult:
    kind = v.kind
    threshold = ctx.config.resolve.min_confidence
    doubt: Decision | None = None
    for resolver in chain.files:
        decision = resolver.resolve_file(ctx, v)
        if decision is None:
            continue
        if decision.stop:
            return _unresolved(v, kind, decision.rule, decision.reason)
        if decision.confidence >= threshold:
            return _file_decision(v, kind, decision)
        doubt = doubt or decision
    if kind not in ("content", "add/add") or v.fork is None or v.upstream is None:
        why = doubt.reason if doubt else _kind_reason(kind)
        return _unresolved(v, kind, "none", why)
    doc = merge_file(v.base or b"", v.fork, v.upstream, labels=labels_for(ctx))
    resolved: dict[int, tuple[str, ...]] = {}
    results: list[HunkResult] = []
    for hunk in doc.hunks:
        applied: Decision | None = None
        hunk_doubt: Decision | None = None
        for hresolver in chain.hunks:
            decision = hresolver.resolve_hunk(ctx, v, hunk)
            if decision is None or decision.lines is None:
                continue
            if decision.stop:
                hunk_doubt = decision
                break
            if decision.confidence >= threshold:
                applied = decision
                break
            hunk_doubt = hunk_doubt or decision
        if applied is not None and applied.lines is not None:
            resolved[hunk.index] = applied.lines
            results.append(HunkResult(hunk.index, hunk.fork_start, len(hunk.fork), len(hunk.upstream),
                                      "resolved", applied.rule, applied.confidence, applied.reason))
        else:
            reason = (f"not confident: {hunk_doubt.reason}" if hunk_doubt else "no rule applies")
            results.append(HunkResult(hunk.index, hunk.fork_start, len(hunk.fork), len(hunk.upstream),
                                      "unresolved", hunk_doubt.rule if hunk_doubt else "none",
                                      hunk_doubt.confidence if hunk_doubt else 0.0, reason))
    text = doc.render(resolved)
    content = encode(text)
    if doc.hunks and len(resolved) == len(doc.hunks):
        problem = validation_error(v, content)
        if problem:
            results = [HunkResult(r.index, r.fork_start, r.fork_lines, r.upstream_lines, "unresolved", r.rule,
                                  r.confidence, f"rejected: {problem}") for r in results]
            return FileResult(v.path, kind, "unresolved", "hunks", f"merged result rejected: {problem}",
                              encode(doc.render({})), tuple(results), write=True)
    outcome = "resolved" if len(resolved) == len(doc.hunks) else "unresolved"
    if not doc.hunks:
        return FileResult(v.path, kind, "resolved", "git-merge-file", "merged cleanly line by line", content)
    left = len(doc.hunks) - len(resolved)
    reason = "every hunk resolved" if not left else f"{left} of {len(doc.hunks)} hunks left for review"
    return FileResult(v.path, kind, outcome, "hunks", reason, content, tuple(results), write=bool(resolved) or True)


def _file_decision(v: Versions, kind: str, d: Decision) -> FileResult:
    content = None if d.delete else d.content
    if not d.delete and content is None:
        return _unresolved(v, kind, d.rule, "resolver returned no content")
    if content is not None and has_markers(content):
        return _unresolved(v, kind, d.rule, "resolver output still holds conflict markers")
    if content is not None:
        problem = validation_error(v, content)
        if problem:
            return _unresolved(v, kind, d.rule, f"rejected {d.rule}: {problem}")
    return FileResult(v.path, kind, "resolved", d.rule, d.reason, content, details=d.details)


def _unresolved(v: Versions, kind: str, rule: str, reason: str) -> FileResult:
    return FileResult(v.path, kind, "unresolved", rule, reason, None, write=False)


def _kind_reason(kind: str) -> str:
    return {
        "binary": "binary file changed on both sides: choose a side (policy keep-fork or take-upstream)",
        "submodule": "submodule moved on both sides: choose the commit by hand",
        "symlink": "symlink changed on both sides: choose a target by hand",
        "fork-deleted": "the fork deleted this file and upstream changed it",
        "upstream-deleted": "upstream deleted this file and the fork changed it",
    }.get(kind, "no rule applies")


# -- merges in progress -------------------------------------------------------------


def read_conflicts(git: Git, fork_side: ForkSide = "ours", paths: Sequence[str] | None = None) -> list[Versions]:
    """The unmerged index entries of a merge in progress, by role."""
    entries = git.unmerged()
    if paths is not None:
        keep = set(paths)
        entries = {p: e for p, e in entries.items() if p in keep}
    shas = [sha for stages in entries.values() for mode, sha in stages.values() if mode != "160000"]
    blobs = cat_blobs(git, shas)
    fork_stage, up_stage = (2, 3) if fork_side == "ours" else (3, 2)
    out = []
    for path, stages in sorted(entries.items()):
        def blob(stage: int, _stages: dict[int, tuple[str, str]] = stages) -> bytes | None:
            if stage not in _stages:
                return None
            mode, sha = _stages[stage]
            return sha.encode() if mode == "160000" else blobs.get(sha)

        def mode(stage: int, _stages: dict[int, tuple[str, str]] = stages) -> str | None:
            return _stages[stage][0] if stage in _stages else None

        out.append(Versions(path, blob(1), blob(fork_stage), blob(up_stage), mode(1), mode(fork_stage), mode(up_stage)))
    return out


def resolve_all(ctx: Context, versions: Sequence[Versions], chain: Chain | None = None) -> list[FileResult]:
    chain = chain or Chain.default(ctx)
    return [resolve_versions(ctx, v, chain) for v in versions]


def apply_results(ctx: Context, results: Sequence[FileResult], *, stage_unresolved: bool = False) -> None:
    """Write resolved files and `git add` them; unresolved ones keep markers, unstaged
    unless ``stage_unresolved`` (the review mode that commits them for a person)."""
    to_add: list[str] = []
    to_rm: list[str] = []
    for res in results:
        target = ctx.repo / res.path
        if res.outcome == "resolved":
            if res.content is None:
                if target.exists() or target.is_symlink():
                    target.unlink()
                to_rm.append(res.path)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_symlink():
                    target.unlink()
                target.write_bytes(res.content)
                to_add.append(res.path)
        else:
            if res.write and res.content is not None:
                target.write_bytes(res.content)
            if stage_unresolved and (target.exists() or target.is_symlink()):
                to_add.append(res.path)
            elif stage_unresolved:
                to_rm.append(res.path)
    if to_rm:
        ctx.git.rm_cached(to_rm)
    if to_add:
        ctx.git.add(to_add)
    _regenerate(ctx, results)


def _regenerate(ctx: Context, results: Sequence[FileResult]) -> None:
    """Run the configured commands of `regenerate` policies once each, then stage their output."""
    from .policy import policy_for

    done: set[str] = set()
    for res in results:
        if res.rule != "policy:regenerate":
            continue
        rule = policy_for(ctx, res.path)
        if rule is None or not rule.command:
            continue
        argv = rule.command if isinstance(rule.command, list) else __import__("shlex").split(rule.command)
        key = "\0".join(argv)
        if key in done:
            continue
        done.add(key)
        subprocess.run(argv, cwd=ctx.repo, check=False, capture_output=True, timeout=1800)
        ctx.git.run("add", "-A", "--", res.path, check=False)


def file_text(data: bytes | None) -> str:
    return decode(data) if data is not None else ""
