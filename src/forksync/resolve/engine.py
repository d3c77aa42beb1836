"""Runs the resolver chain over conflicted paths and writes the outcome.

Per path: file resolvers first; then a line merge whose hunks go through the hunk
resolvers. A decision below `min-confidence` is never applied (a wrong resolution that
looks right is worse than an open conflict); its reason is kept for the reviewer. A fully
resolved file must still parse where its type has a parser (Python, JSON, TOML, YAML).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from ..git import Git, cat_blobs
from . import calibration, registry
from .conflicts import MergedDoc, decode, encode, has_markers, merge_file, n_lines
from .model import (
    Context,
    Decision,
    FileResolver,
    FileResult,
    ForkSide,
    Hunk,
    HunkResolver,
    HunkResult,
    Outcome,
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


def resolve_versions(ctx: Context, v: Versions, chain: Chain, doc: MergedDoc | None = None) -> FileResult:
    """Settle one conflicted path: file resolvers, else a line merge whose hunks go to the hunk resolvers.

    ``doc`` is the line merge when the caller already computed it (``resolve_all`` runs them in
    parallel)."""
    kind = v.kind
    early = _file_pass(ctx, v, chain)
    if isinstance(early, FileResult):
        return early
    if doc is None:
        doc = merge_file(v.base or b"", v.fork or b"", v.upstream or b"", labels=labels_for(ctx))
    return _hunk_pass(ctx, v, kind, chain, doc)


def _file_pass(ctx: Context, v: Versions, chain: Chain) -> FileResult | None:
    """A FileResult when the path is settled (or must stay open) without a line merge."""
    kind = v.kind
    threshold = ctx.config.resolve.min_confidence
    doubt: Decision | None = None
    for resolver in chain.files:
        try:
            decision = resolver.resolve_file(ctx, v)
        except Exception as exc:  # one resolver's fault leaves the path to the others, with a trace
            decision = Decision(resolver.name, 0.0, f"{resolver.name} failed: {type(exc).__name__}: {exc}")
        if decision is None:
            continue
        decision = calibration.adjust(ctx, decision)
        if not decision.stop and decision.content is None and not decision.delete:
            doubt = doubt or decision  # a decline with its reason, whatever its confidence
            continue
        if decision.stop:
            return _unresolved(v, kind, decision.rule, decision.reason)
        if decision.confidence >= threshold:
            return _file_decision(v, kind, decision)
        doubt = doubt or decision
    if kind not in ("content", "add/add") or v.fork is None or v.upstream is None:
        why = doubt.reason if doubt else _kind_reason(kind)
        return _unresolved(v, kind, doubt.rule if doubt else "none", why)
    return None


def _hunk_pass(ctx: Context, v: Versions, kind: str, chain: Chain, doc: MergedDoc) -> FileResult:
    if not doc.hunks:
        return FileResult(
            v.path, kind, "resolved", "git-merge-file", "merged cleanly line by line", encode(doc.render({}))
        )
    threshold = ctx.config.resolve.min_confidence
    resolved: dict[int, tuple[str, ...]] = {}
    results: list[HunkResult] = []
    for hunk in doc.hunks:
        applied, doubt = _decide_hunk(ctx, v, hunk, chain, threshold)
        if applied is not None and applied.lines is not None:
            resolved[hunk.index] = applied.lines
            results.append(_hunk_result(hunk, "resolved", applied.rule, applied.confidence, applied.reason))
        elif doubt is not None:
            results.append(
                _hunk_result(
                    hunk, "unresolved", doubt.rule, doubt.confidence, f"not confident: {doubt.reason}"
                )
            )
        else:
            results.append(_hunk_result(hunk, "unresolved", "none", 0.0, open_reason(hunk)))
    marked = encode(doc.render({}))
    content = encode(doc.render(resolved))
    if len(resolved) == len(doc.hunks):
        problem = (
            "the result still holds conflict markers"
            if has_markers(content)
            else validation_error(v, content)
        )
        if problem:
            rejected = [replace(r, outcome="unresolved", reason=f"rejected: {problem}") for r in results]
            return FileResult(
                v.path,
                kind,
                "unresolved",
                "hunks",
                f"merged result rejected: {problem}",
                marked,
                tuple(rejected),
                write=False,
            )
        return FileResult(v.path, kind, "resolved", "hunks", "every hunk resolved", content, tuple(results))
    left = len(doc.hunks) - len(resolved)
    reason = f"{left} of {len(doc.hunks)} hunks left for review"
    # Nothing settled: keep git's own worktree file; the role-labelled version is for review mode.
    return FileResult(
        v.path,
        kind,
        "unresolved",
        "hunks",
        reason,
        content if resolved else marked,
        tuple(results),
        write=bool(resolved),
    )


def _decide_hunk(
    ctx: Context, v: Versions, hunk: Hunk, chain: Chain, threshold: float
) -> tuple[Decision | None, Decision | None]:
    """The first confident decision, else the first doubtful one (kept for the reviewer)."""
    doubt: Decision | None = None
    for resolver in chain.hunks:
        try:
            decision = resolver.resolve_hunk(ctx, v, hunk)
        except Exception as exc:  # one faulty resolver must not sink the whole run
            decision = Decision(resolver.name, 0.0, f"{resolver.name} failed: {type(exc).__name__}: {exc}")
            doubt = doubt or decision
            continue
        if decision is None or (decision.lines is None and not decision.stop):
            continue
        decision = calibration.adjust(ctx, decision)
        if decision.stop:
            return None, decision
        if decision.confidence >= threshold:
            return decision, doubt
        doubt = doubt or decision
    return None, doubt


def open_reason(hunk: Hunk) -> str:
    """What the two sides did to a hunk no rule settles: the reviewer's first question."""
    base, fork, up = len(hunk.base), len(hunk.fork), len(hunk.upstream)
    fork_lines, up_lines = (
        Counter(t.strip() for t in side if t.strip()) for side in (hunk.fork, hunk.upstream)
    )
    shared = sum((fork_lines & up_lines).values())  # blank lines aside
    alike = f"; {shared} of their lines alike" if shared else ""
    if not base:
        what = (
            f"both sides added different lines here (the fork {n_lines(fork)}, upstream {n_lines(up)}{alike})"
        )
    elif not fork:
        what = f"the fork deleted {n_lines(base)} that upstream changed (into {n_lines(up)})"
    elif not up:
        what = f"upstream deleted {n_lines(base)} that the fork changed (into {n_lines(fork)})"
    else:
        what = (
            f"both sides changed the same {n_lines(base)} differently "
            f"(the fork into {n_lines(fork)}, upstream into {n_lines(up)}{alike})"
        )
    return f"{what}; no rule settles it"


def _hunk_result(hunk: Hunk, outcome: Outcome, rule: str, confidence: float, reason: str) -> HunkResult:
    return HunkResult(
        hunk.index, hunk.fork_start, len(hunk.fork), len(hunk.upstream), outcome, rule, confidence, reason
    )


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


def read_conflicts(
    git: Git, fork_side: ForkSide = "ours", paths: Sequence[str] | None = None
) -> list[Versions]:
    """The unmerged index entries of a merge in progress, by role (paths whose blobs are missing
    from the repository, as in a partial clone that cannot fetch, are left out)."""
    return read_conflicts_full(git, fork_side, paths)[0]


def read_conflicts_full(
    git: Git, fork_side: ForkSide = "ours", paths: Sequence[str] | None = None
) -> tuple[list[Versions], list[str]]:
    """Like ``read_conflicts``, plus the paths left out because a blob could not be read.

    A missing blob must never look like a deleted side. All blobs come from one
    `git cat-file --batch`."""
    entries = git.unmerged()
    if paths is not None:
        keep = set(paths)
        entries = {p: e for p, e in entries.items() if p in keep}
    fork_stage, up_stage = (2, 3) if fork_side == "ours" else (3, 2)
    return versions_from_stages(git, entries, fork_stage, up_stage)


Stages = dict[int, tuple[str, str]]  # stage -> (mode, object id), as `ls-files -u` and merge-tree give


def versions_from_stages(
    git: Git, entries: dict[str, Stages], fork_stage: int = 2, up_stage: int = 3
) -> tuple[list[Versions], list[str]]:
    """Conflicted paths by role, with the paths left out because a blob could not be read.

    A missing blob must never look like a deleted side. All blobs come from one
    `git cat-file --batch`."""
    shas = [sha for stages in entries.values() for mode, sha in stages.values() if mode != "160000"]
    blobs = cat_blobs(git, shas)
    out: list[Versions] = []
    missing: list[str] = []
    for path, stages in sorted(entries.items()):
        if any(mode != "160000" and sha not in blobs for mode, sha in stages.values()):
            missing.append(path)
        else:
            out.append(stage_versions(path, stages, blobs, fork_stage, up_stage))
    return out, missing


def stage_versions(
    path: str, stages: Stages, blobs: dict[str, bytes], fork_stage: int, up_stage: int
) -> Versions:
    """One path's stages as Versions (a submodule's side is its commit id)."""

    def data(stage: int) -> bytes | None:
        if stage not in stages:
            return None
        mode, sha = stages[stage]
        return sha.encode() if mode == "160000" else blobs[sha]

    def mode(stage: int) -> str | None:
        return stages[stage][0] if stage in stages else None

    return Versions(
        path, data(1), data(fork_stage), data(up_stage), mode(1), mode(fork_stage), mode(up_stage)
    )


def resolve_all(ctx: Context, versions: Sequence[Versions], chain: Chain | None = None) -> list[FileResult]:
    """Resolve many paths. The line merges (one `git merge-file` each) run in a small thread pool:
    they are subprocesses, so they overlap while Python settles hunks."""
    chain = chain or Chain.default(ctx)
    # History-based resolvers answer for every path of the merge at once (one `git log`, not one each).
    paths = tuple(sorted(v.path for v in versions))
    ctx.cache.setdefault("conflicted-paths", paths)
    labels = labels_for(ctx)

    def merge(v: Versions) -> MergedDoc:
        return merge_file(v.base or b"", v.fork or b"", v.upstream or b"", labels=labels)

    # The history queries and the line merges are all `git` processes: run them side by side
    # (a line merge a file resolver then makes moot costs a few milliseconds, in parallel).
    texts = [
        v
        for v in versions
        if v.kind in ("content", "add/add") and v.fork is not None and v.upstream is not None
    ]
    with ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2)) as pool:
        # A resolver may read what it needs for all paths up front (`prefetch(ctx, paths)`); a hunk
        # resolver only when some path will have hunks to settle.
        warmed = [*chain.files, *(chain.hunks if texts else [])]
        for resolver in warmed:
            if warm := getattr(resolver, "prefetch", None):
                pool.submit(warm, ctx, paths)
        merges = {v.path: pool.submit(merge, v) for v in texts}
        # No wait for the read-ahead: a rule needing what it makes waits in `ctx.memo`, and the
        # rules that need none of it (policies, structured merges) run meanwhile.
        early = [_file_pass(ctx, v, chain) for v in versions]
        return [
            e
            if e is not None
            else _hunk_pass(ctx, v, v.kind, chain, merges[v.path].result() if v.path in merges else merge(v))
            for v, e in zip(versions, early, strict=True)
        ]


def apply_results(
    ctx: Context, results: Sequence[FileResult], *, stage_unresolved: bool = False
) -> list[str]:
    """Write resolved files and `git add` them; unresolved ones keep markers, unstaged
    unless ``stage_unresolved`` (the review mode that commits them for a person). Returns
    what went wrong in `regenerate` commands, one line each."""
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
            if (res.write or stage_unresolved) and res.content is not None:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(res.content)
            if stage_unresolved and (target.exists() or target.is_symlink()):
                to_add.append(res.path)
            elif stage_unresolved:
                to_rm.append(res.path)
    if to_rm:
        ctx.git.rm_cached(to_rm)
    if to_add:
        ctx.git.add(to_add)
    return _regenerate(ctx, results)


def _regenerate(ctx: Context, results: Sequence[FileResult]) -> list[str]:
    """Run the configured commands of `regenerate` policies once each, as checks run (sandboxed,
    without secrets, output bounded: they run the merged, partly upstream, tree), then stage
    what they wrote."""
    from .policy import regenerate_commands

    commands = regenerate_commands(ctx, results)
    if not commands:
        return []
    from ..checks import run_check  # the sandbox and the report's records: only when a command runs

    problems: list[str] = []
    for argv in commands:
        shown = " ".join(argv)
        rec = run_check(ctx.repo, f"regenerate: {shown}", argv, 1800.0)
        if rec.exit_code is None and not rec.timed_out:
            problems.append(f"`{shown}` did not run: {rec.output_tail.strip()[-200:]}")
        elif not rec.passed:
            tail = rec.output_tail.strip().splitlines()[-1:]
            why = "timed out" if rec.timed_out else f"exit {rec.exit_code}"
            problems.append(f"`{shown}` failed ({why}){': ' + tail[0] if tail else ''}")
    paths = [r.path for r in results if r.rule == "policy:regenerate"]
    ctx.git.run("add", "-A", "--", *paths, check=False)
    return problems


def file_text(data: bytes | None) -> str:
    return decode(data) if data is not None else ""
