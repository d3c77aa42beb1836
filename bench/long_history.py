"""How the history rules (history, learned) scale with the number of merges in a fork's history.

    python bench/long_history.py [--merges 500,1000,2000,5000] [--branches 50] [--dir /tmp/fs-long]

For each size, `git fast-import` writes a fork with that many merges spread over long-lived
branches (each merge brings one feature commit; every 50th merge is a sync of upstream), and an
upstream release that conflicts with one fork customization (``app/core.py``). The engine then
resolves that one conflicted file in-process, twice: cold (no index in ``.git/forksync/``) and
warm (a new run reusing it). Prints per size the seconds and git processes the history and
learned rules took (wall), the git processes of the whole run and their CPU time (steadier than
wall time on a busy machine). It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
FILES = 200


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=ENV, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


class Stream:
    """A `git fast-import` stream: commits with any number of parents, files given whole."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.mark = 0
        self.when = 1_700_000_000

    def commit(self, ref: str, msg: str, files: dict[str, str], parents: list[int], who: str) -> int:
        self.mark += 1
        self.when += 60
        out = [f"commit {ref}\nmark :{self.mark}\ncommitter {who} {self.when} +0000\n".encode()]
        out.append(b"data %d\n%s\n" % (len(msg.encode()), msg.encode()))
        if parents:
            out.append(f"from :{parents[0]}\n".encode())
        out += [f"merge :{p}\n".encode() for p in parents[1:]]
        for path, text in files.items():
            data = text.encode()
            out.append(f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (len(data), data))
        self.chunks.append(b"".join(out))
        return self.mark


def text(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


def build(repo: Path, merges: int, branches: int) -> tuple[str, str]:
    """A bare repository; returns (fork tip, upstream tip)."""
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "--bare", "-b", "main")
    up_who, fork_who = "Up <up@example.com>", "Fork <dev@fork.example>"
    files = {f"pkg/m{i}.py": [f"# module {i}"] + [f"v{j} = {j}" for j in range(20)] for i in range(FILES)}
    files["app/core.py"] = ["def handler(request):", "    timeout = 30", "    return timeout"]
    s = Stream()
    base = s.commit("refs/heads/upstream", "base", {p: text(v) for p, v in files.items()}, [], up_who)
    up, up_files = base, {p: list(v) for p, v in files.items()}
    core = list(files["app/core.py"])
    core[1] = "    timeout = 60  # fork: slow backends"
    main = s.commit("refs/heads/main", "fork: longer timeout", {"app/core.py": text(core)}, [base], fork_who)
    tips: dict[int, int] = {}
    for k in range(merges):
        if k % 50 == 49:  # a sync of upstream: one upstream commit, merged into the fork
            path = f"pkg/m{k % FILES}.py"
            up_files[path][1] = f"v0 = 'upstream {k}'"
            up = s.commit("refs/heads/upstream", f"upstream {k}", {path: text(up_files[path])}, [up], up_who)
            files[path][1] = up_files[path][1]
            main = s.commit("refs/heads/main", f"sync {k}", {path: text(files[path])}, [main, up], fork_who)
            continue
        b = k % branches
        path = f"pkg/m{(k * 7) % FILES}.py"
        files[path][2 + b % 18] = f"v{1 + b % 18} = 'fork {k}'"
        change = {path: text(files[path])}
        tip = s.commit(f"refs/heads/feature{b}", f"feature {k}", change, [tips.get(b, main)], fork_who)
        tips[b] = tip
        main = s.commit("refs/heads/main", f"merge feature{b}", change, [main, tip], fork_who)
    up_core = list(up_files["app/core.py"])
    up_core[1] = "    timeout = 45"
    up = s.commit("refs/heads/upstream", "release 2.0", {"app/core.py": text(up_core)}, [up], up_who)
    git(repo, "fast-import", "--quiet", input=b"".join(s.chunks) + b"done\n")
    return git(repo, "rev-parse", "main"), git(repo, "rev-parse", "upstream")


def resolve_once(repo: Path, fork: str, upstream: str, trace: Path) -> dict[str, Any]:
    """Resolve the release's conflicts in-process; seconds per rule and git processes in all."""
    from forksync.config import Config
    from forksync.git import Git
    from forksync.resolve.engine import Chain, resolve_all, versions_from_stages
    from forksync.resolve.learned import conflicted_stages
    from forksync.resolve.model import Context

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from merge_timing import _Timed

    plain = Git(repo)
    stages = conflicted_stages(plain, fork, upstream) or {}
    versions, _ = versions_from_stages(plain, stages)
    trace.unlink(missing_ok=True)
    g = Git(repo, env={"GIT_TRACE2_EVENT": str(trace)})
    t0, cpu0 = time.perf_counter(), _children_cpu()
    base = plain.merge_base(fork, upstream)
    ctx = Context(repo, g, Config(), fork_commit=fork, upstream_commit=upstream, base_commit=base)
    totals: dict[str, float] = {}
    chain = Chain.default(ctx)
    timed = Chain([_Timed(r, totals) for r in chain.files], [_Timed(r, totals) for r in chain.hunks])
    results = resolve_all(ctx, versions, timed)
    total, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
    events = trace.read_text().splitlines() if trace.exists() else []
    processes = sum(1 for e in events if '"event":"start"' in e)
    return {
        "files": len(versions),
        "left": sum(1 for r in results if r.outcome != "resolved"),
        "history": totals.get("history", 0.0),
        "learned": totals.get("learned", 0.0),
        "total": total,
        "git": processes,
        "git_cpu": cpu,
    }


def _children_cpu() -> float:
    """CPU seconds of the finished child processes (git): steadier than wall time on a busy machine."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--merges", default="500,1000,2000,5000")
    ap.add_argument("--branches", type=int, default=50)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/forksync-long-history"))
    args = ap.parse_args(argv)
    print(
        f"{'merges':>7} {'commits':>8} {'run':>5} {'history':>8} {'learned':>8} {'total':>7} {'git':>5} {'git cpu':>8}"
    )
    for n in (int(x) for x in args.merges.split(",")):
        repo = args.dir / f"m{n}.git"
        fork, upstream = build(repo, n, args.branches)
        commits = git(repo, "rev-list", "--count", "--all")
        for run in ("cold", "warm"):
            r = resolve_once(repo, fork, upstream, args.dir / "trace.json")
            print(
                f"{n:>7} {commits:>8} {run:>5} {r['history']:>7.2f}s {r['learned']:>7.2f}s "
                f"{r['total']:>6.2f}s {r['git']:>5} {r['git_cpu']:>7.2f}s   ({r['files']} conflicted, {r['left']} left)",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
