"""`forksync fleet plan` on a fleet of N forks, each with its own upstream (local bare repos):
wall time and the number of git processes it starts. Target: under 10 s for 200 forks on 2 cores.

    python bench/fleet_plan.py [--forks 200] [--jobs 8] [--runs 3] [--dir /tmp/fs-fleet]

Every upstream carries 50 tags (stable, rc, nightly); half the forks are behind. git is counted
through a wrapper put first on PATH that logs one line per process and then runs the real git.
Prints the figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
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
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, env=ENV, check=True).stdout


def build(root: Path, forks: int) -> Path:
    """One template upstream with 50 tags, cloned bare per upstream and per fork (hard links)."""
    template = root / "template"
    template.mkdir(parents=True)
    git(template, "init", "-q", "-b", "main")
    for minor in range(25):
        (template / "v.txt").write_text(f"{minor}\n")
        git(template, "add", "-A")
        git(template, "commit", "-q", "-m", f"1.{minor}")
        git(template, "tag", f"v1.{minor}.0")
        git(template, "tag", f"v1.{minor + 1}.0rc1" if minor % 2 else f"v1.{minor}.0-nightly")
    old = git(template, "rev-list", "-n1", "v1.20.0").strip()
    lines = ["[defaults.upstream]", "release-tags = 're:^v(\\d+\\.\\d+\\.\\d+)$'"]
    for i in range(forks):
        up, fork = root / "up" / f"u{i}.git", root / "forks" / f"f{i}.git"
        git(root, "clone", "-q", "--bare", str(template), str(up))
        git(root, "clone", "-q", "--bare", str(template), str(fork))
        if i % 2:
            git(fork, "update-ref", "refs/heads/main", old)  # behind
        lines += [
            "[[forks]]",
            f'repository = "acme/f{i}"',
            f'url = "{fork}"',
            "[forks.upstream]",
            f'url = "{up}"',
        ]
    (root / "fleet.toml").write_text("\n".join(lines) + "\n")
    return root / "fleet.toml"


def wrapper(root: Path) -> Path:
    real = shutil.which("git")
    assert real
    folder = root / "bin"
    folder.mkdir()
    script = folder / "git"
    script.write_text(f'#!/bin/sh\necho "$1" >> "{root}/git-calls.log"\nexec {real} "$@"\n')
    script.chmod(0o755)
    return folder


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forks", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/fs-fleet"))
    args = ap.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    t0 = time.perf_counter()
    fleet = build(args.dir, args.forks)
    print(f"built {args.forks} forks and upstreams in {time.perf_counter() - t0:.1f} s")
    env = {**ENV, "PATH": f"{wrapper(args.dir)}{os.pathsep}{ENV['PATH']}"}
    log = args.dir / "git-calls.log"
    forksync = shutil.which("forksync")
    assert forksync, "install forksync first (pip install -e .)"
    times, calls, plan = [], 0, {}
    for _ in range(args.runs):
        log.unlink(missing_ok=True)
        t = time.perf_counter()
        res = subprocess.run(
            [forksync, "fleet", "plan", "--file", str(fleet), "--jobs", str(args.jobs)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        times.append(time.perf_counter() - t)
        calls = len(log.read_text().splitlines())
        plan = json.loads(res.stdout)
    kinds: dict[str, int] = {}
    for line in log.read_text().splitlines():
        kinds[line] = kinds.get(line, 0) + 1
    print(
        f"fleet plan, {args.forks} forks, --jobs {args.jobs}: median {statistics.median(times):.2f} s "
        f"(runs: {', '.join(f'{t:.2f}' for t in times)}); {calls} git processes {kinds}; "
        f"{plan['due']} due, {len(plan['settled'])} settled, {len(plan['problems'])} problems"
    )


if __name__ == "__main__":
    main()
