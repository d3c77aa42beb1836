"""Replay a repository's past conflicted merges and score the engine against what was committed.

No worktree is needed: `git merge-tree --write-tree` finds each merge's conflicts with their
index stages, the blobs are read in one batch, the engine resolves them from memory, and each
result is compared with the merge commit's own blob. Objects missing from the repository
(large binaries absent from a mirror, a partial clone) are skipped and counted, never fatal.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, Protocol

from .config import Config
from .difference import DIFFERENCES, classify
from .git import Git, cat_blobs, tree_entries
from .resolve.conflicts import decode
from .resolve.engine import Chain, resolve_versions, stage_versions
from .resolve.history import PATHS_KEY
from .resolve.learned import conflicted_stages as conflicted
from .resolve.model import Context, FileResult, Versions, is_binary
from .resolve.policy import is_lock_file


class AgentLike(Protocol):
    """What a replay needs of the LLM agent (llm/agent.py), without importing it here."""

    @property
    def calls(self) -> Sequence[Any]: ...

    def resolve_remaining(
        self, ctx: Context, versions: Sequence[Versions], results: Sequence[FileResult]
    ) -> list[FileResult]: ...


Parent = Literal["p1", "p2"]
Verdict = Literal["exact", "ws-equal", "unresolved", "wrong", "binary", "missing", "error"]
SCORED: tuple[Verdict, ...] = ("exact", "ws-equal", "unresolved", "wrong", "error")


@dataclass(frozen=True)
class MergeSpec:
    """One merge to replay; ``fork_side`` says which parent carries the fork's customizations."""

    sha: str
    fork_side: Parent = "p1"
    label: str = ""  # a free grouping label carried into the results (e.g. "upstream_sync")


@dataclass(frozen=True)
class FileOutcome:
    path: str
    kind: str
    verdict: Verdict
    rule: str
    reason: str
    delta: int = 0  # for a wrong result: lines in one of (result, committed) and not the other
    difference: str = ""  # for a wrong result: a loss, or which alternative (difference.py)
    agent: bool = False  # sent to the agent (`backtest --agent`): the engine had left it open
    tokens: int = 0  # the agent's input + output tokens for this file
    cost_usd: float = 0.0


@dataclass
class MergeOutcome:
    sha: str
    fork_side: Parent
    label: str
    seconds: float
    files: list[FileOutcome] = field(default_factory=list)
    skipped: str = ""  # why the merge was not replayed (not a merge, no conflict, objects missing)


@dataclass
class Backtest:
    merges: list[MergeOutcome] = field(default_factory=list)
    seconds: float = 0.0

    def counts(self, label: str | None = None, exclude: Callable[[str], bool] | None = None) -> Counter[str]:
        return Counter(
            f.verdict
            for m in self.merges
            if label is None or m.label == label
            for f in m.files
            if exclude is None or not exclude(f.path)
        )

    def replayed(self) -> list[MergeOutcome]:
        return [m for m in self.merges if not m.skipped]

    def to_json(self) -> dict[str, Any]:
        return {"summary": summary(self), "merges": [asdict(m) for m in self.merges]}


# -- finding and replaying merges --------------------------------------------------------------


def parents(git: Git, sha: str) -> list[str]:
    res = git.run("rev-list", "--no-walk", "--parents", sha, "--", check=False)
    fields = res.out.split()
    return fields[1:] if res.returncode == 0 and fields else []


def find_merges(git: Git, limit: int, start: str = "HEAD") -> list[MergeSpec]:
    """The newest ``limit`` two-parent merges reachable from ``start`` whose parents conflict."""
    res = git.run("rev-list", "--merges", "--parents", start, "--", check=False)
    found: list[MergeSpec] = []
    for line in res.out.splitlines():
        if len(found) >= limit:
            break
        fields = line.split()
        if len(fields) != 3:
            continue
        if conflicted(git, fields[1], fields[2]):
            found.append(MergeSpec(fields[0]))
    return found


def replay(
    git: Git,
    config: Config,
    specs: Sequence[MergeSpec],
    *,
    progress: Callable[[int, MergeOutcome], None] | None = None,
    chain: Callable[[Context], Chain] = Chain.default,
    agent: AgentLike | None = None,
) -> Backtest:
    """Replay each merge; ``chain`` builds the resolvers per merge (the registry's by default).
    With ``agent``, what the engine leaves open goes to the agent, as in a sync."""
    started = time.perf_counter()
    result = Backtest()
    for i, spec in enumerate(specs):
        outcome = replay_merge(git, config, spec, chain, agent)
        result.merges.append(outcome)
        if progress:
            progress(i, outcome)
    result.seconds = time.perf_counter() - started
    return result


def replay_merge(
    git: Git,
    config: Config,
    spec: MergeSpec,
    chain: Callable[[Context], Chain] = Chain.default,
    agent: AgentLike | None = None,
) -> MergeOutcome:
    started = time.perf_counter()
    outcome = MergeOutcome(spec.sha, spec.fork_side, spec.label, 0.0)
    ps = parents(git, spec.sha)
    if len(ps) != 2:
        outcome.skipped = "not a two-parent merge"
        return outcome
    fork, upstream = (ps[0], ps[1]) if spec.fork_side == "p1" else (ps[1], ps[0])
    stages = conflicted(git, ps[0], ps[1])
    if stages is None:
        outcome.skipped = "git merge-tree could not merge the parents (objects missing?)"
    elif not stages:
        outcome.skipped = "the parents merge without conflicts"
    if not stages:
        outcome.seconds = time.perf_counter() - started
        return outcome
    base = git.merge_base(ps[0], ps[1])
    truth = _committed(git, spec.sha, sorted(stages))
    oids = [oid for st in stages.values() for mode, oid in st.values() if mode != "160000"]
    oids += [oid for mode, oid in truth.values() if mode != "160000"]
    blobs = cat_blobs(git, oids)
    ctx = Context(
        git.cwd,
        git,
        config,
        fork_commit=fork,
        upstream_commit=upstream,
        base_commit=base,
        head="fork" if spec.fork_side == "p1" else "upstream",  # p1 is the checked-out side
        as_of=_commit_time(git, spec.sha),  # learn only from what existed before this merge
    )
    ctx.cache[PATHS_KEY] = sorted(stages)
    resolvers = chain(ctx)
    fork_stage, up_stage = (2, 3) if spec.fork_side == "p1" else (3, 2)
    for path, st in sorted(stages.items()):
        want = [
            oid for mode, oid in (*st.values(), *([truth[path]] if path in truth else [])) if mode != "160000"
        ]
        if any(oid not in blobs for oid in want):
            outcome.files.append(FileOutcome(path, "", "missing", "", "blob missing from the repository"))
            continue
        v = stage_versions(path, st, blobs, fork_stage, up_stage)
        outcome.files.append(_score(ctx, resolvers, v, truth.get(path), blobs, agent))
    outcome.seconds = time.perf_counter() - started
    return outcome


def _commit_time(git: Git, sha: str) -> int | None:
    res = git.run("log", "-1", "--format=%ct", sha, "--", check=False)
    return int(res.out.strip()) if res.returncode == 0 and res.out.strip().isdigit() else None


def _committed(git: Git, merge: str, paths: list[str]) -> dict[str, tuple[str, str]]:
    """Path -> (mode, oid) in the merge commit, for the paths that it has."""
    return {
        path: (mode, oid)
        for path, (mode, kind, oid) in tree_entries(git, merge, paths).items()
        if kind in ("blob", "commit")
    }


def _score(
    ctx: Context,
    chain: Chain,
    v: Versions,
    truth: tuple[str, str] | None,
    blobs: dict[str, bytes],
    agent: AgentLike | None = None,
) -> FileOutcome:
    try:
        res: FileResult = resolve_versions(ctx, v, chain)
    except Exception as exc:  # a resolver bug must show up in the score, not stop the replay
        return FileOutcome(v.path, v.kind, "error", "", f"{type(exc).__name__}: {exc}"[:300])
    if agent is not None and res.outcome != "resolved" and not is_lock_file(v.path):
        before = len(agent.calls)
        res = agent.resolve_remaining(ctx, [v], [res])[0]
        calls = list(agent.calls)[before:]
        return replace(
            _judge(res, v, truth, blobs),
            agent=True,
            tokens=sum(c.input_tokens + c.output_tokens for c in calls),
            cost_usd=round(sum(c.cost_usd for c in calls), 6),
        )
    return _judge(res, v, truth, blobs)


def _judge(
    res: FileResult, v: Versions, truth: tuple[str, str] | None, blobs: dict[str, bytes]
) -> FileOutcome:
    rule = res.rule
    if res.rule == "hunks":
        rules = sorted({h.rule for h in res.hunks if h.outcome == "resolved"})
        rule = "hunks:" + ",".join(rules) if rules else "hunks"
    if res.outcome != "resolved":
        return FileOutcome(v.path, v.kind, "unresolved", rule, res.reason)
    if rule in ("policy:regenerate", "policy:take-upstream") and is_lock_file(v.path):
        # A sync regenerates a lock file with its tool (or marks the PR needs-review until someone
        # does): neither can be replayed, so it counts as left open, never as settled.
        return FileOutcome(v.path, v.kind, "unresolved", rule, f"{res.reason} (not replayable)")
    want: bytes | None = None
    if truth is not None:
        mode, oid = truth
        want = oid.encode() if mode == "160000" else blobs[oid]
    got = verdict(res.content, want)
    if got != "wrong":
        return FileOutcome(v.path, v.kind, got, rule, res.reason)
    delta = line_delta(res.content or b"", want or b"")
    difference = (
        "loss"
        if res.content is None or want is None
        else classify(v.path, res.content, want, (v.base or b"", v.fork or b"", v.upstream or b""))
    )
    return FileOutcome(v.path, v.kind, got, rule, res.reason, delta, difference)


def verdict(got: bytes | None, want: bytes | None) -> Verdict:
    """How a resolved file compares with the committed one (None = the path is absent)."""
    if got == want:
        return "exact"
    if got is None or want is None:
        return "wrong"
    if is_binary(got) or is_binary(want):
        return "binary"
    return "ws-equal" if ws_normal(got) == ws_normal(want) else "wrong"


def line_delta(a: bytes, b: bytes) -> int:
    """How far a wrong result is from the committed one: lines present on one side only."""
    ca, cb = Counter(a.splitlines()), Counter(b.splitlines())
    return sum((ca - cb).values()) + sum((cb - ca).values())


def ws_normal(data: bytes) -> list[str]:
    """Lines with runs of whitespace collapsed, blank lines dropped."""
    return [" ".join(line.split()) for line in decode(data).splitlines() if line.strip()]


# -- reporting ---------------------------------------------------------------------------------


def summary(
    bt: Backtest, label: str | None = None, exclude: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    counts = bt.counts(label, exclude)
    merges = [m for m in bt.replayed() if label is None or m.label == label]
    scored = sum(counts[v] for v in SCORED)
    pct = {v: round(100.0 * counts[v] / scored, 1) if scored else 0.0 for v in SCORED}
    seconds = sum(m.seconds for m in merges)
    by_difference = differences(bt, label, exclude)
    return {
        "merges": len(merges),
        "skipped_merges": sum(1 for m in bt.merges if m.skipped and (label is None or m.label == label)),
        "conflicted_files": sum(counts.values()),
        "scored_files": scored,
        "counts": {v: counts[v] for v in (*SCORED, "binary", "missing")},
        "percent": pct,
        "percent_exact_or_ws": round(pct["exact"] + pct["ws-equal"], 1),
        "wrong_by_difference": by_difference,
        "percent_loss": round(100.0 * by_difference["loss"] / scored, 1) if scored else 0.0,
        "seconds": round(seconds, 3),
        "seconds_per_merge": round(seconds / len(merges), 3) if merges else 0.0,
        **(
            {"agent": agent_summary(bt, label, exclude)}
            if any(f.agent for m in merges for f in m.files)
            else {}
        ),
    }


def differences(
    bt: Backtest, label: str | None = None, exclude: Callable[[str], bool] | None = None
) -> dict[str, int]:
    """The wrong files by how they differ from the committed ones: losses, and each alternative."""
    counts = Counter(
        f.difference
        for m in bt.replayed()
        if label is None or m.label == label
        for f in m.files
        if f.verdict == "wrong" and not (exclude and exclude(f.path))
    )
    return {d: counts[d] for d in DIFFERENCES}


def agent_summary(
    bt: Backtest, label: str | None = None, exclude: Callable[[str], bool] | None = None
) -> dict[str, Any]:
    """What the agent did with the files the engine left open: verdicts, tokens and dollars."""
    files = [
        f
        for m in bt.replayed()
        if label is None or m.label == label
        for f in m.files
        if f.agent and not (exclude and exclude(f.path))
    ]
    counts = Counter(f.verdict for f in files)
    return {
        "files": len(files),
        "counts": {v: counts[v] for v in SCORED},
        "tokens": sum(f.tokens for f in files),
        "cost_usd": round(sum(f.cost_usd for f in files), 4),
    }


def worst(bt: Backtest, n: int = 20) -> list[tuple[str, FileOutcome]]:
    """Wrong results first (they look right and are not), then errors, then open conflicts."""
    order = {"wrong": 0, "error": 1, "binary": 2, "unresolved": 3}
    cases = [(m.sha, f) for m in bt.merges for f in m.files if f.verdict in order]
    cases.sort(key=lambda c: order[c[1].verdict])
    return cases[:n]


def per_rule(bt: Backtest) -> dict[str, dict[str, int]]:
    """Rule -> verdict -> files, for the files the engine resolved: which rules earn their keep."""
    out: dict[str, Counter[str]] = {}
    for m in bt.merges:
        for f in m.files:
            if f.verdict not in ("unresolved", "missing", "error"):
                out.setdefault(f.rule or "-", Counter())[f.verdict] += 1
    return {rule: dict(c) for rule, c in sorted(out.items())}


def render(bt: Backtest, n_worst: int = 20) -> str:
    s = summary(bt)
    c = s["counts"]
    lines = [
        f"backtest: {s['merges']} merges replayed ({s['skipped_merges']} skipped), "
        f"{s['conflicted_files']} conflicted files in {bt.seconds:.1f}s ({s['seconds_per_merge']:.2f}s per merge)",
    ]
    for v in SCORED:
        lines.append(f"  {v:<11} {c[v]:>6}  {s['percent'][v]:5.1f}%")
    if c["wrong"]:
        alt = {d: n for d, n in s["wrong_by_difference"].items() if d != "loss" and n}
        lines.append(
            f"  of the wrong: {s['wrong_by_difference']['loss']} lose what a side wrote ({s['percent_loss']:.1f}%)"
            + ("; alternatives: " + ", ".join(f"{d} {n}" for d, n in alt.items()) if alt else "")
        )
    if c["binary"] or c["missing"]:
        lines.append(f"  apart: {c['binary']} binary resolved differently, {c['missing']} with missing blobs")
    if "agent" in s:
        a = s["agent"]
        lines.append(
            f"agent: {a['files']} file(s) the engine left open; "
            + ", ".join(f"{v} {n}" for v, n in a["counts"].items() if n)
            + f"; {a['tokens']} tokens, ${a['cost_usd']:.4f}"
        )
    by_rule = per_rule(bt)
    if by_rule:
        lines.append("resolved files per rule:")
        for rule, counts in by_rule.items():
            lines.append(f"  {rule:<40} " + "  ".join(f"{k} {n}" for k, n in sorted(counts.items())))
    cases = worst(bt, n_worst)
    if cases:
        lines.append("worst cases:")
        for sha, f in cases:
            delta = f" ({f.difference}, differs by {f.delta} lines)" if f.verdict == "wrong" else ""
            lines.append(f"  {f.verdict:<10} {sha[:10]} {f.path}  [{f.rule or '-'}] {f.reason}{delta}")
    return "\n".join(lines)
