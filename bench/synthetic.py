"""Build a large synthetic fork/upstream pair and time `forksync sync` against a plain `git merge`.

    python bench/synthetic.py build  --dir /tmp/fs-bench [--files 20000] [--upstream-commits 2000]
    python bench/synthetic.py time   --dir /tmp/fs-bench [--runs 3]

`build` writes history with `git fast-import` (seconds, not minutes): a base tree of N
files, fork commits that customize a few hundred of them, and upstream commits that touch
many files, some of them the fork's (so the release conflicts), tagged v1.0.0 / v1.1.0.
`time` resets the fork between runs and measures wall time of both commands; it prints the
medians and their ratio. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(cwd: Path, *args: str, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=ENV, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)}: {proc.stderr.decode()}")
    return proc.stdout.decode().strip()


class FastImport:
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.mark = 0
        self.when = 1_700_000_000

    def commit(self, ref: str, message: str, files: dict[str, str], parent: int | None, who: str) -> int:
        self.mark += 1
        self.when += 60
        out = [f"commit {ref}\nmark :{self.mark}\ncommitter {who} {self.when} +0000\n".encode()]
        msg = message.encode()
        out.append(b"data %d\n%s\n" % (len(msg), msg))
        if parent is not None:
            out.append(f"from :{parent}\n".encode())
        for path, text in files.items():
            data = text.encode()
            out.append(f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (len(data), data))
        self.chunks.append(b"".join(out))
        return self.mark

    def tag(self, name: str, mark: int) -> None:
        self.chunks.append(f"reset refs/tags/{name}\nfrom :{mark}\n\n".encode())

    def data(self) -> bytes:
        return b"".join(self.chunks) + b"done\n"


def module(i: int, variant: str = "") -> str:
    lines = [f'"""Module {i}."""', "", "import os", ""]
    for f in range(8):
        lines += [f"def func_{f}(x):", f"    return x + {f}{variant}", ""]
    return "\n".join(lines) + "\n"


def build(root: Path, files: int, upstream_commits: int) -> None:
    if root.exists():
        shutil.rmtree(root)
    src = root / "source"
    src.mkdir(parents=True)
    git(src, "init", "-q", "-b", "main")
    rnd = random.Random(42)
    fi = FastImport()
    base_files = {f"pkg/sub{i % 100}/mod_{i}.py": module(i) for i in range(files)}
    base_files["pyproject.toml"] = '[project]\nname = "big"\nversion = "1.0.0"\n'
    base = fi.commit("refs/heads/main", "base", base_files, None, "Up <up@example.com>")
    fi.tag("v1.0.0", base)
    fork_owned = rnd.sample(range(files), 300)
    head = base
    for n in range(30):
        chunk = fork_owned[n * 10 : (n + 1) * 10]
        head = fi.commit(
            "refs/heads/fork",
            f"fork change {n}",
            {
                f"pkg/sub{i % 100}/mod_{i}.py": module(i).replace("return x + 0", "return x + 0  # FORK")
                for i in chunk
            },
            head,
            "Fork <dev@fork.example>",
        )
    head_up = base
    conflicting = fork_owned[:100]
    for n in range(upstream_commits):
        touched = rnd.sample(range(files), 5)
        if n < len(conflicting):
            touched.append(conflicting[n])
        head_up = fi.commit(
            "refs/heads/upstream",
            f"upstream change {n}",
            {
                f"pkg/sub{i % 100}/mod_{i}.py": module(i).replace("return x + 0", f"return x + 0 + {n}")
                for i in touched
            },
            head_up,
            "Up <up@example.com>",
        )
    head_up = fi.commit(
        "refs/heads/upstream",
        "release 1.1.0",
        {"pyproject.toml": '[project]\nname = "big"\nversion = "1.1.0"\n'},
        head_up,
        "Up <up@example.com>",
    )
    fi.tag("v1.1.0", head_up)
    git(src, "fast-import", "--quiet", input=fi.data())
    # upstream = a bare repo with main + tags; fork = a clone whose main is the fork branch.
    git(root, "clone", "-q", "--bare", "--branch", "upstream", str(src), "upstream.git")
    git(root, "clone", "-q", "--branch", "fork", str(src), "fork")
    fork = root / "fork"
    git(fork, "branch", "-q", "-M", "main")
    git(fork, "remote", "remove", "origin")
    git(fork, "tag", "-d", "v1.1.0")
    git(fork, "remote", "add", "upstream", str(root / "upstream.git"))
    print(f"built {files} files, 30 fork commits, {upstream_commits} upstream commits in {root}")


def reset(fork: Path) -> None:
    subprocess.run(["git", "merge", "--abort"], cwd=fork, capture_output=True, env=ENV, check=False)
    git(fork, "checkout", "-q", "-f", "main")
    for ref in git(
        fork, "for-each-ref", "--format=%(refname)", "refs/heads/upstream-sync", "refs/forksync"
    ).split():
        git(fork, "update-ref", "-d", ref)
    shutil.rmtree(fork / ".git" / "forksync", ignore_errors=True)
    git(fork, "worktree", "prune")


def timed(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, capture_output=True, env={**ENV, "CI": "true"}, check=False)
    return time.perf_counter() - start


def time_runs(root: Path, runs: int) -> None:
    fork = root / "fork"
    forksync = str(Path(sys.executable).parent / "forksync")
    merge_times, sync_times = [], []
    for _ in range(runs):
        reset(fork)
        git(fork, "fetch", "-q", "upstream", "+refs/tags/v1.1.0:refs/tags/v1.1.0")
        merge_times.append(
            timed(
                [
                    "git",
                    "-c",
                    "user.name=b",
                    "-c",
                    "user.email=b@x",
                    "merge",
                    "-q",
                    "--no-ff",
                    "--no-edit",
                    "v1.1.0",
                ],
                fork,
            )
        )
        reset(fork)
        git(fork, "tag", "-d", "v1.1.0")
        sync_times.append(timed([forksync, "sync", "--repo", str(fork), "--no-push"], fork))
    reset(fork)
    m, s = statistics.median(merge_times), statistics.median(sync_times)
    files = git(fork, "ls-files").count("\n") + 1
    print(f"files: {files}   runs: {runs}")
    print(
        f"git merge (fetch excluded, conflicts left):  median {m:.2f}s  {[round(t, 2) for t in merge_times]}"
    )
    print(
        f"forksync sync --no-push (fetch + merge + resolve + commit): median {s:.2f}s  "
        f"{[round(t, 2) for t in sync_times]}"
    )
    print(f"ratio sync/merge: {s / m:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("action", choices=["build", "time"])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/forksync-bench"))
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--upstream-commits", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    if args.action == "build":
        build(args.dir, args.files, args.upstream_commits)
    else:
        time_runs(args.dir, args.runs)


if __name__ == "__main__":
    main()
