"""Time `git merge` against `git merge` + `forksync resolve` on a real upstream sync merge.

    python bench/merge_timing.py --repo /path/to/CartoDB-litellm.git [--merge SHA --fork p1|p2] [--runs 3]
    python bench/merge_timing.py --repo /path/to/CartoDB-litellm.git --sample 20 [--runs 1]

Each run gets a fresh worktree (checked out untimed, with the few paths whose blobs the
repository lacks marked skip-worktree), then times `git merge` of the merge's second parent
into its first, then `forksync resolve` on the conflicts it left. Prints every run, the
medians and the resolve/merge ratio. With ``--sample N``, the merges are every upstream sync
of the benchmark TSV plus N others spread evenly over it (each with its own fork side): one line
per merge and the median ratio over them. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

DEFAULT_TSV = Path(__file__).resolve().parents[2] / "shared" / "bench" / "cartodb-litellm-merges.tsv"
# The largest upstream sync of the benchmark TSV: 42 conflicted files, the fork is p2.
DEFAULT_MERGE = "4a2426ed54acc504b69e9f25cf8f20fc2936eed4"
ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}
# A pip install compiles forksync's bytecode; a PYTHONDONTWRITEBYTECODE=1 left in the environment
# (this machine sets it) would time compiling an editable checkout's sources on every run instead.
ENV.pop("PYTHONDONTWRITEBYTECODE", None)


def git(cwd: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=ENV, check=False)
    if check and proc.returncode != 0:
        sys.exit(f"git {args[0]} failed: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", "surrogateescape")


def missing_paths(repo: Path, commits: list[str]) -> list[str]:
    """Paths whose blob is absent from the repository in any of these commits."""
    by_oid: dict[str, set[str]] = {}
    for c in commits:
        for rec in git(repo, "ls-tree", "-r", "-z", c).split("\0"):
            meta, _, path = rec.partition("\t")
            fields = meta.split()
            if len(fields) == 3 and fields[1] == "blob":
                by_oid.setdefault(fields[2], set()).add(path)
    out = git(repo, "cat-file", "--batch-check", input="\n".join(by_oid).encode() + b"\n", check=False)
    return sorted(
        {p for line in out.splitlines() if line.endswith(" missing") for p in by_oid[line.split()[0]]}
    )


def fresh_worktree(repo: Path, commit: str, skip: list[str]) -> Path:
    wt = Path(tempfile.mkdtemp(prefix="forksync-bench-")) / "wt"
    git(repo, "worktree", "add", "-q", "--detach", "--no-checkout", str(wt), commit)
    git(wt, "read-tree", commit)
    listed = set(git(wt, "ls-files", "-z").split("\0")) if skip else set()
    skip = [p for p in skip if p in listed]  # a path only the other parent has is not in the index
    if skip:
        git(wt, "update-index", "--skip-worktree", "--", *skip)
    git(wt, "checkout-index", "-a", "-f")
    git(wt, "update-index", "-q", "--refresh", check=False)
    return wt


FORKSYNC: Path | None = None  # --forksync: another install's command, to time one against another


def forksync_cmd() -> list[str]:
    if FORKSYNC is not None:
        return [str(FORKSYNC)]
    exe = Path(sys.executable).with_name("forksync")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "forksync.cli"]


def one_run(repo: Path, p1: str, p2: str, fork: str, skip: list[str]) -> dict[str, float | int]:
    wt = fresh_worktree(repo, p1, skip)
    try:
        t0 = time.perf_counter()
        subprocess.run(
            ["git", "merge", "--no-edit", "-q", p2], cwd=wt, env=ENV, capture_output=True, check=False
        )
        t_merge = time.perf_counter() - t0
        conflicts = len(git(wt, "diff", "--name-only", "--diff-filter=U").split())
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                *forksync_cmd(),
                "resolve",
                "--repo",
                str(wt),
                "--fork",
                "ours" if fork == "p1" else "theirs",
                "--json",
            ],
            cwd=wt,
            env=ENV,
            capture_output=True,
            check=False,
        )
        t_resolve = time.perf_counter() - t0
        left = len(git(wt, "diff", "--name-only", "--diff-filter=U").split())
        try:
            resolved = sum(
                1 for f in json.loads(proc.stdout).get("files", []) if f.get("outcome") == "resolved"
            )
        except (ValueError, AttributeError):
            resolved = -1
        return {
            "merge_s": t_merge,
            "resolve_s": t_resolve,
            "conflicts": conflicts,
            "left": left,
            "resolved": resolved,
            "resolve_exit": proc.returncode,
        }
    finally:
        git(repo, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt.parent, ignore_errors=True)


class _Timed:
    """A resolver wrapped to add up the time it takes."""

    def __init__(self, inner: Any, totals: dict[str, float]) -> None:
        self.inner, self.totals, self.name = inner, totals, inner.name

    def _time(self, method: str, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return getattr(self.inner, method)(*args)
        finally:
            self.totals[self.name] = self.totals.get(self.name, 0.0) + time.perf_counter() - t0

    def resolve_file(self, *args: Any) -> Any:
        return self._time("resolve_file", *args)

    def resolve_hunk(self, *args: Any) -> Any:
        return self._time("resolve_hunk", *args)


def by_resolver(repo: Path, p1: str, p2: str, fork: str, skip: list[str]) -> None:
    """In-process: seconds spent in each resolver, and in the engine around them."""
    from forksync.config import Config
    from forksync.git import Git
    from forksync.resolve.engine import Chain, read_conflicts_full, resolve_all
    from forksync.resolve.model import Context

    wt = fresh_worktree(repo, p1, skip)
    try:
        subprocess.run(
            ["git", "merge", "--no-edit", "-q", p2], cwd=wt, env=ENV, capture_output=True, check=False
        )
        g = Git(wt)
        side: Literal["ours", "theirs"] = "ours" if fork == "p1" else "theirs"
        fork_c, up_c = (p1, p2) if fork == "p1" else (p2, p1)
        t0 = time.perf_counter()
        ctx = Context(
            wt,
            g,
            Config(),
            fork_commit=fork_c,
            upstream_commit=up_c,
            base_commit=g.merge_base(p1, p2),
        )
        versions, _ = read_conflicts_full(g, side)
        totals: dict[str, float] = {}
        chain = Chain.default(ctx)
        timed = Chain([_Timed(r, totals) for r in chain.files], [_Timed(r, totals) for r in chain.hunks])
        resolve_all(ctx, versions, timed)
        total = time.perf_counter() - t0
        for name, secs in sorted(totals.items(), key=lambda kv: -kv[1]):
            print(f"  {name:<20} {secs:6.2f}s")
        print(f"  {'engine, total':<20} {total:6.2f}s for {len(versions)} files (in-process, no start-up)")
    finally:
        git(repo, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt.parent, ignore_errors=True)


def sample(tsv: Path, others: int) -> list[dict[str, str]]:
    """Every upstream sync of the TSV, then ``others`` of the remaining merges, evenly spaced."""
    with tsv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    syncs = [r for r in rows if r["kind"] == "upstream_sync"]
    rest = [r for r in rows if r["kind"] != "upstream_sync"]
    step = max(len(rest) / max(others, 1), 1.0)
    return syncs + [rest[int(i * step)] for i in range(min(others, len(rest)))]


def sampled(repo: Path, rows: list[dict[str, str]], runs: int) -> None:
    """One line per merge (medians over ``runs``), then the median ratio over the merges."""
    ratios: list[float] = []
    for row in rows:
        p1, p2, fork = row["p1"], row["p2"], row["fork_side"]
        skip = missing_paths(repo, [p1, p2])
        done = [one_run(repo, p1, p2, fork, skip) for _ in range(runs)]
        merge = statistics.median(float(r["merge_s"]) for r in done)
        resolve = statistics.median(float(r["resolve_s"]) for r in done)
        ratios.append(resolve / max(merge, 1e-9))
        print(
            f"{row['merge'][:10]} {row['kind']:<13} {done[0]['conflicts']:>3} conflicted: git merge "
            f"{merge:.2f}s, forksync resolve {resolve:.2f}s, {ratios[-1]:.2f}x ({done[0]['left']} left)",
            flush=True,
        )
    ratios.sort()
    print(
        f"resolve/merge over {len(ratios)} merges: median {statistics.median(ratios):.2f}x, "
        f"min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, required=True)
    ap.add_argument("--merge", default=DEFAULT_MERGE)
    ap.add_argument("--fork", choices=["p1", "p2"], default="p2", help="which parent is the fork")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--by-resolver", action="store_true", help="also time each resolver in-process")
    ap.add_argument("--sample", type=int, help="every upstream sync of --tsv plus this many other merges")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV)
    ap.add_argument("--forksync", type=Path, help="the forksync command to time (default: this Python's)")
    args = ap.parse_args(argv)
    global FORKSYNC
    FORKSYNC = args.forksync
    repo = args.repo.resolve()
    if args.sample is not None:
        sampled(repo, sample(args.tsv, args.sample), args.runs)
        return 0
    p1, p2 = git(repo, "rev-list", "--no-walk", "--parents", args.merge).split()[1:3]
    skip = missing_paths(repo, [p1, p2])
    runs = []
    for i in range(args.runs):
        r = one_run(repo, p1, p2, args.fork, skip)
        runs.append(r)
        print(
            f"run {i + 1}: git merge {r['merge_s']:.2f}s ({r['conflicts']} conflicted), forksync resolve "
            f"{r['resolve_s']:.2f}s (exit {r['resolve_exit']}, {r['left']} left)",
            flush=True,
        )
    merge = statistics.median(float(r["merge_s"]) for r in runs)
    resolve = statistics.median(float(r["resolve_s"]) for r in runs)
    print(
        f"median: git merge {merge:.2f}s, forksync resolve {resolve:.2f}s, "
        f"resolve/merge {resolve / merge:.2f}x, (merge+resolve)/merge {(merge + resolve) / merge:.2f}x"
    )
    ratios = sorted(float(r["resolve_s"]) / max(float(r["merge_s"]), 1e-9) for r in runs)
    print(  # run by run, so a drift of the machine's speed cancels out
        f"resolve/merge run by run: median {statistics.median(ratios):.2f}x, "
        f"min {ratios[0]:.2f}x, max {ratios[-1]:.2f}x over {len(ratios)} runs"
    )
    print(f"({len(skip)} paths skipped: their blobs are not in the repository)")
    if args.by_resolver:
        print("time per resolver:")
        by_resolver(repo, p1, p2, args.fork, skip)
    return 0


if __name__ == "__main__":
    sys.exit(main())
