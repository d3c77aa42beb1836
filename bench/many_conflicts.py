"""A release that conflicts in thousands of files: does the sync handle each, and how fast?

    python bench/many_conflicts.py --files 5000 [--dir /tmp/fs-many]

The fork reformats N small modules; upstream changes each of them. Every file conflicts, and
each is settled by a rule (the fork only reformatted: upstream's change is taken). Prints the
`git merge` time, the sync's stage times, and how many files ended resolved. Measures only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "b",
    "GIT_AUTHOR_EMAIL": "b@x",
    "GIT_COMMITTER_NAME": "b",
    "GIT_COMMITTER_EMAIL": "b@x",
    "CI": "true",
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=ENV, check=True).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/fs-many"))
    args = ap.parse_args()
    root: Path = args.dir
    shutil.rmtree(root, ignore_errors=True)
    up, fork = root / "up", root / "fork"
    up.mkdir(parents=True)
    git(up, "init", "-q", "-b", "main")
    base = {f"pkg/m{i}.py": f"VALUE = {i}\n" for i in range(args.files)}
    write(up, {**base, "pyproject.toml": '[project]\nname = "many"\nversion = "1.0.0"\n'})
    git(up, "add", "-A")
    git(up, "commit", "-qm", "base")
    git(up, "tag", "v1.0.0")
    git(root, "clone", "-q", str(up), str(fork))
    git(fork, "remote", "rename", "origin", "upstream")
    write(fork, {k: v.replace("VALUE =", "VALUE  =") for k, v in base.items()})
    git(fork, "commit", "-qam", "fork reformats")
    write(up, {k: f"VALUE = {i + 1}\n" for i, k in enumerate(base)})
    write(up, {"pyproject.toml": '[project]\nname = "many"\nversion = "1.1.0"\n'})
    git(up, "commit", "-qam", "release")
    git(up, "tag", "v1.1.0")

    git(fork, "fetch", "-q", "upstream", "+refs/tags/v1.1.0:refs/tags/probe")
    start = time.perf_counter()
    subprocess.run(
        ["git", "merge", "-q", "--no-edit", "probe"], cwd=fork, env=ENV, capture_output=True, check=False
    )
    merge_s = time.perf_counter() - start
    subprocess.run(["git", "merge", "--abort"], cwd=fork, env=ENV, capture_output=True, check=False)
    git(fork, "tag", "-d", "probe")

    forksync = str(Path(sys.executable).parent / "forksync")
    start = time.perf_counter()
    proc = subprocess.run(
        [forksync, "sync", "--repo", str(fork), "--no-push", "--json"],
        cwd=fork,
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    sync_s = time.perf_counter() - start
    report = json.loads(proc.stdout)
    outcomes: dict[str, int] = {}
    for c in report["conflicts"]:
        outcomes[c["outcome"]] = outcomes.get(c["outcome"], 0) + 1
    print(f"conflicted files: {len(report['conflicts'])}  outcomes: {outcomes}  status: {report['status']}")
    print(f"git merge (leaving the conflicts): {merge_s:.2f}s   forksync sync --no-push: {sync_s:.2f}s")
    print("stages: " + ", ".join(f"{s['name']} {s['duration_s']:.2f}s" for s in report["stages"]))


if __name__ == "__main__":
    main()
