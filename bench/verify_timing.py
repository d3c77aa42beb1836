"""Time `forksync verify` (static checks, tests not run) on real sync merges.

    python bench/verify_timing.py --repo /path/to/litellm.git [--merge SHA ...] [--runs 3] [--profile OUT]

Each merge's first parent is the fork before the sync, its second the upstream release. The
merge commit itself is verified (no worktree), with the default configuration. Prints each run's
wall time, the median wall and CPU time, and every finding's kind and path. It measures; it
asserts nothing.

A mirror may lack a few large blobs (images); git cannot diff a tree that names one. Point each
missing id at the empty blob in your local copy (never in a shared mirror) first:

    git cat-file --batch-check < ids | grep missing | while read oid _; do
        git update-ref refs/replace/$oid $(git hash-object -w --stdin </dev/null); done
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import statistics
import time
from collections import Counter
from pathlib import Path

from forksync.config import Config
from forksync.verify import verify

# CartoDB/litellm's syncs of v1.81.0-stable, v1.81.3-stable and v1.81.9-stable.
DEFAULT_MERGES = ["31e39aceaf", "88d167369a", "89375ff4a9"]


def _cpu() -> float:
    """CPU seconds of this process and its finished children (git): on a shared machine the
    wall time also counts waiting for a core."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--merge", action="append", help="merge commit (repeatable)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the first run of each merge here")
    args = parser.parse_args()
    config = Config()
    for merge in args.merge or DEFAULT_MERGES:
        times: list[float] = []
        cpu: list[float] = []
        findings = []
        for run in range(args.runs):
            profiler = cProfile.Profile() if args.profile and run == 0 else None
            start, start_cpu = time.perf_counter(), _cpu()
            if profiler:
                profiler.enable()
            findings = verify(
                args.repo,
                config,
                fork_before=f"{merge}^1",
                upstream=f"{merge}^2",
                merged=merge,
                run_tests=False,
            )
            if profiler:
                profiler.disable()
                profiler.dump_stats(f"{args.profile}.{merge}")
            times.append(time.perf_counter() - start)
            cpu.append(_cpu() - start_cpu)
        print(
            f"{merge}: wall {' '.join(f'{t:.2f}s' for t in times)}  median {statistics.median(times):.2f}s; "
            f"cpu (this process and its git children) median {statistics.median(cpu):.2f}s"
        )
        print(f"  {len(findings)} finding(s): {dict(Counter(f.kind for f in findings))}")
        for f in findings[:40]:
            print(f"    {f.kind:<21} {f.path}:{f.line}  {f.message[:140]}")


if __name__ == "__main__":
    main()
