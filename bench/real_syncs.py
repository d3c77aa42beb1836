"""Replay CARTO's three real litellm release syncs end to end through `forksync sync`, as a user would.

    python bench/real_syncs.py --repo /path/to/CartoDB-litellm.git            # all three syncs
    python bench/real_syncs.py --repo ... --only v1.81.3-stable --keep        # one, left for inspection
    python bench/real_syncs.py --repo ... --no-checks                         # skip the compileall check

CartoDB/litellm merged three upstream releases with commits named "sync: merge vX.Y.Z-stable
tag" (parent 1 = the fork before the sync, parent 2 = the release). For each one this script
builds, under `--work` (default `bench/work/real_syncs/`, reused across runs):

- `upstream.git`: the release commit tagged with its tag, plus the earlier releases of the same
  list, so detection and the fork's version from ancestry are exercised; with `--old-tags`, also
  the mirror's copies of upstream's older tags (v1.32 to v1.74: stable, nightly, rc, dev…), which
  exercise the tag filters and "also includes";
- `origin.git`: a bare copy of the fork whose `main` is parent 1;
- `fork`: a `git clone` of origin, then `forksync init --upstream upstream.git`, with
  `[checks] commands = ["python -m compileall -q -j 2 litellm"]` and `[forge] kind = "local"`.
  The config stays uncommitted, so the sync merges CARTO's exact parent 1.

Both bare repositories borrow the mirror's objects (`objects/info/alternates`): nothing is
copied, and the fetch stage finds the release's objects already there (it measures almost no
transfer). The mirror lacks a few large image blobs; the clone gets placeholder blobs for them
through `refs/replace/` so that checkouts work (git's own merge never reads them).

Then it times `git merge-tree --write-tree` of the same two commits (the merge git itself would
make, no checkout), runs `forksync sync --no-push --report`, and prints per sync: the conflicted
files and how each came out against the file CARTO committed (exact / ws-equal / open /
different), findings by kind, the recommendation and its reasons, the version change, the
stage times (checks apart) and the whole run. PR bodies go to
`bench/results/real_syncs/<tag>.md`, every figure to `bench/results/real_syncs/real_syncs.json`.
It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forksync.backtest import ws_normal  # the same "equal up to whitespace" as bench/litellm.py

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.standins: the loopback LLM API the test suite uses

from bench.committed_model import committed_model  # noqa: E402
from tests.standins.llm_api import LLMStandIn  # noqa: E402

ORACLE_KEY = "bench-oracle-key"
ENV = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
CHECK = "python -m compileall -q -j 2 litellm"


@dataclass(frozen=True)
class Sync:
    tag: str
    merge: str  # CARTO's "sync: merge <tag> tag" commit on main


SYNCS = (
    Sync("v1.81.0-stable", "31e39aceaf"),
    Sync("v1.81.3-stable", "88d167369a"),
    Sync("v1.81.9-stable", "89375ff4a9"),
)


def git(cwd: Path, *args: str, check: bool = True, input: bytes | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, input=input, capture_output=True, env=ENV, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"real_syncs: git {' '.join(args[:4])} in {cwd}: {proc.stderr.decode().strip()}")
    return proc.stdout.decode().strip()


def blob(repo: Path, rev: str, path: str) -> bytes | None:
    proc = subprocess.run(
        ["git", "cat-file", "blob", f"{rev}:{path}"], cwd=repo, capture_output=True, env=ENV
    )
    return proc.stdout if proc.returncode == 0 else None


def verdict(ours: bytes | None, carto: bytes | None, outcome: str) -> str:
    """One conflicted file of forksync's sync against the file CARTO committed in its merge."""
    if outcome != "resolved":
        return "open"
    if ours == carto:
        return "exact"
    if ours is not None and carto is not None and ws_normal(ours) == ws_normal(carto):
        return "ws-equal"
    return "different"


def lines_unlike(ours: bytes | None, carto: bytes | None) -> int:
    """Lines added or removed between forksync's file and CARTO's (how far apart they are)."""
    a = (ours or b"").decode("utf-8", "replace").splitlines()
    b = (carto or b"").decode("utf-8", "replace").splitlines()
    diff = difflib.unified_diff(a, b, lineterm="", n=0)
    return sum(1 for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---"))


# -- building the repositories -------------------------------------------------------------
def objects_dir(mirror: Path) -> Path:
    return Path(git(mirror, "rev-parse", "--path-format=absolute", "--git-path", "objects"))


def bare_with_alternates(path: Path, mirror: Path) -> None:
    if path.exists():
        return
    git(path.parent, "init", "-q", "--bare", "-b", "main", path.name)
    (path / "objects" / "info" / "alternates").write_text(f"{objects_dir(mirror)}\n")


def old_upstream_tags(mirror: Path) -> dict[str, str]:
    """The mirror's own copies of upstream's tags (v…), not CARTO's (…carto…)."""
    out = git(mirror, "for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/tags")
    tags = {}
    for line in out.splitlines():
        oid, name = line.split(" ", 1)
        if name.startswith("v") and "carto" not in name:
            tags[name] = oid
    return tags


def tracked_blobs(repo: Path, commit: str) -> dict[str, str]:
    """Path -> blob id in ``commit``."""
    out = {}
    for line in git(repo, "ls-tree", "-r", "-z", commit).split("\0"):
        meta, _, path = line.partition("\t")
        fields = meta.split()
        if len(fields) == 3 and fields[1] == "blob":
            out[path] = fields[2]
    return out


def missing_blobs(mirror: Path, commits: list[str]) -> set[str]:
    oids = set()
    for c in commits:
        for line in git(mirror, "ls-tree", "-r", c).splitlines():
            meta = line.split("\t", 1)[0].split()
            if meta[1] == "blob":
                oids.add(meta[2])
    proc = subprocess.run(
        ["git", "cat-file", "--batch-check", "--buffer"],
        cwd=mirror,
        input="\n".join(sorted(oids)).encode() + b"\n",
        capture_output=True,
        env=ENV,
        check=True,
    )
    return {line.split()[0] for line in proc.stdout.decode().splitlines() if line.endswith(" missing")}


def build(
    work: Path, mirror: Path, sync: Sync, p1: str, p2: str, releases: dict[str, str], old: bool
) -> Path:
    root = work / sync.tag
    root.mkdir(parents=True, exist_ok=True)
    upstream = root / "upstream.git"
    bare_with_alternates(upstream, mirror)
    tags = {**(old_upstream_tags(mirror) if old else {}), **releases}
    wanted = {f"refs/tags/{t}": oid for t, oid in tags.items()} | {"refs/heads/main": p2}
    have = {}
    for line in git(upstream, "for-each-ref", "--format=%(refname) %(objectname)").splitlines():
        ref, oid = line.split(" ", 1)
        have[ref] = oid
    if have != wanted:
        for ref in set(have) - set(wanted):
            git(upstream, "update-ref", "-d", ref)
        lines = "".join(f"update {ref} {oid}\n" for ref, oid in wanted.items())
        git(upstream, "update-ref", "--stdin", input=lines.encode())
    origin = root / "origin.git"
    bare_with_alternates(origin, mirror)
    git(origin, "update-ref", "refs/heads/main", p1)
    fork = root / "fork"
    if not (fork / ".git").exists():
        git(root, "clone", "-q", "--no-checkout", str(origin), "fork")
        git(fork, "config", "user.name", "forksync bench")
        git(fork, "config", "user.email", "bench@forksync.invalid")
        for oid in sorted(missing_blobs(mirror, [p1, p2])):
            text = f"placeholder: blob {oid} is missing from the mirror\n".encode()
            git(
                fork,
                "update-ref",
                f"refs/replace/{oid}",
                git(fork, "hash-object", "-w", "--stdin", input=text),
            )
        git(fork, "checkout", "-q", "-f", "-B", "main", "origin/main")
    reset(fork, p1)
    # The checkout holds placeholders where the mirror lacks a blob: git, hashing a racily clean
    # one again, would call it modified and forksync would (rightly) refuse a dirty checkout.
    replaced = set(git(fork, "for-each-ref", "--format=%(refname:strip=2)", "refs/replace").split())
    placeholders = [path for path, oid in tracked_blobs(fork, p1).items() if oid in replaced]
    if placeholders:
        git(fork, "update-index", "--assume-unchanged", "--", *placeholders)
    if not (fork / ".forksync.toml").exists():
        # A local run: the workflow init also writes must name the action to pin (never used here).
        done = forksync(
            fork, "init", "--repo", str(fork), "--upstream", str(upstream), "--action", ACTION_FOR_INIT
        )
        if done.returncode != 0:
            raise SystemExit(f"forksync init failed: {done.stderr.strip()}")
    return fork


ACTION_FOR_INIT = "example/forksync@" + "0" * 40


def reset(fork: Path, p1: str, keep_cache: bool = False) -> None:
    """The fork as a user has it before the sync: main at parent 1, no trace of an earlier run
    (with ``keep_cache``, forksync's cache stays, as the nightly workflow restores it)."""
    git(fork, "checkout", "-q", "-f", "main")
    git(fork, "reset", "-q", "--hard", p1)
    refs = git(fork, "for-each-ref", "--format=%(refname)", "refs/heads/upstream-sync", "refs/forksync")
    for ref in refs.split():
        git(fork, "update-ref", "-d", ref)
    if keep_cache:
        state = fork / ".git" / "forksync"
        for entry in state.iterdir() if state.is_dir() else []:
            if entry.name not in ("learned.json", "calibration.json"):
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    else:
        shutil.rmtree(fork / ".git" / "forksync", ignore_errors=True)
    git(fork, "worktree", "prune")


ORACLE_KEY_ENV = "FORKSYNC_BENCH_ORACLE_KEY"


def configure(fork: Path, checks: bool, oracle_url: str = "") -> None:
    path = fork / ".forksync.toml"
    text = path.read_text(encoding="utf-8")
    commands = f'commands = ["{CHECK}"]' if checks else "commands = []"
    text = re.sub(r"(?m)^commands = .*$", commands, text, count=1)
    text = re.sub(r'(?m)^kind = "[a-z]*"', 'kind = "local"', text, count=1)
    # The [agent] section `init` wrote, provider "none" unless --oracle-agent points it at the model
    # that answers what CARTO committed (bench/committed_model.py).
    agent = (
        f'provider = "anthropic"\nbase-url = "{oracle_url}"\napi-key-env = "{ORACLE_KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\nfix-checks = false\n'
        if oracle_url
        else 'provider = "none"\n'
    )
    text = re.sub(
        r"(?ms)^(\[agent\]\n)(?:provider|base-url|api-key-env|model|fix-checks) = [^\n]*\n(?:(?:base-url|api-key-env|model|fix-checks) = [^\n]*\n)*",
        lambda m: m.group(1) + agent,
        text,
        count=1,
    )
    path.write_text(text, encoding="utf-8")


# -- running and measuring -----------------------------------------------------------------
def forksync_bin() -> str:
    local = Path(sys.executable).parent / "forksync"
    return str(local) if local.exists() else shutil.which("forksync") or "forksync"


def forksync(fork: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**ENV, "CI": "true", "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    config = fork / ".forksync.toml"
    if config.is_file() and ORACLE_KEY_ENV in config.read_text(encoding="utf-8"):
        # Only with --oracle-agent: a key in reach makes forksync refuse to run the check unsandboxed.
        env[ORACLE_KEY_ENV] = ORACLE_KEY
    return subprocess.run([forksync_bin(), *args], cwd=fork, capture_output=True, text=True, env=env)


def time_merge_tree(fork: Path, p1: str, p2: str, runs: int) -> tuple[float, int]:
    times, conflicted = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            ["git", "merge-tree", "--write-tree", "--name-only", "--no-messages", p1, p2],
            cwd=fork,
            capture_output=True,
            env=ENV,
        )
        times.append(time.perf_counter() - start)
        conflicted = len(proc.stdout.decode().splitlines()) - 1
    return statistics.median(times), conflicted


def time_git_merge(fork: Path, p1: str, p2: str, runs: int) -> float:
    """`git merge --no-commit` of the release into a checkout of parent 1: what a person syncing by
    hand waits for (the checkout itself is made before the clock starts)."""
    wt = fork.parent / "git-merge-worktree"
    if wt.exists():
        git(fork, "worktree", "remove", "--force", str(wt), check=False)
        shutil.rmtree(wt, ignore_errors=True)
    git(fork, "worktree", "add", "-q", "--detach", str(wt), p1)
    env = {**ENV, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@forksync.invalid"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@forksync.invalid"}
    times = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                ["git", "merge", "-q", "--no-commit", "--no-ff", p2], cwd=wt, capture_output=True, env=env
            )
            times.append(time.perf_counter() - start)
            git(wt, "merge", "--abort", check=False)
            git(wt, "reset", "-q", "--hard", p1)
    finally:
        git(fork, "worktree", "remove", "--force", str(wt), check=False)
    return statistics.median(times)


def run_one(args: argparse.Namespace, mirror: Path, sync: Sync, releases: dict[str, str]) -> dict[str, Any]:
    merge = git(mirror, "rev-parse", f"{sync.merge}^{{commit}}")
    p1, p2 = git(mirror, "rev-parse", f"{merge}^1", f"{merge}^2").split()
    t0 = time.perf_counter()
    fork = build(args.work, mirror, sync, p1, p2, releases, args.old_tags)
    configure(fork, args.checks, args.oracle.url if args.oracle else "")
    if args.oracle:
        args.oracle.script.clear()
        args.oracle.add(*[committed_model(lambda path: blob(mirror, merge, path))] * 200)
    setup_s = time.perf_counter() - t0
    merge_s, merge_conflicts = time_merge_tree(fork, p1, p2, args.merge_runs)
    git_merge_s = time_git_merge(fork, p1, p2, args.merge_runs)
    if args.warm:  # the night before ran: its cache (.git/forksync) is there, as the workflow restores it
        forksync(fork, "sync", "--repo", str(fork), "--no-push")
        reset(fork, p1, keep_cache=True)
    report_path = args.out / f"{sync.tag}.report.json"
    start = time.perf_counter()
    proc = forksync(fork, "sync", "--repo", str(fork), "--no-push", "--report", str(report_path))
    wall = time.perf_counter() - start
    if not report_path.exists():
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"\n=== {sync.tag}: forksync sync wrote no report (exit {proc.returncode}): {tail}")
        return {"tag": sync.tag, "carto_merge": merge, "exit_code": proc.returncode, "error": tail}
    rep = json.loads(report_path.read_text(encoding="utf-8"))
    stages = {s["name"]: s["duration_s"] for s in rep.get("stages", [])}
    tip = git(fork, "rev-parse", "--verify", "-q", f"refs/heads/{rep.get('sync_branch', '')}", check=False)
    files = []
    for c in rep.get("conflicts", []):
        ours = blob(fork, tip, c["path"]) if tip else None
        carto = blob(fork, merge, c["path"])
        files.append(
            {
                "path": c["path"],
                "outcome": c["outcome"],
                "rule": c["rule"],
                "verdict": verdict(ours, carto, c["outcome"]),
                "lines_unlike_carto": lines_unlike(ours, carto),
            }
        )
    body_path = args.out / f"{sync.tag}.md"
    body_path.write_text(rep.get("pr_body", ""), encoding="utf-8")
    vu = rep.get("version_update") or {}
    result = {
        "tag": sync.tag,
        "carto_merge": merge,
        "fork_p1": p1,
        "release_p2": p2,
        "exit_code": proc.returncode,
        "status": rep["status"],
        "error": rep.get("error"),
        "fork_version": rep.get("fork_version"),
        "fork_version_source": rep.get("fork_version_source"),
        "also_includes": [r["tag"] for r in rep.get("skipped_releases", [])],
        "upstream_commits": rep.get("upstream_commits"),
        "files_changed": rep.get("files_changed"),
        "merge_tree_conflicted_files": merge_conflicts,
        "conflicted_files": files,
        "verdicts": dict(Counter(f["verdict"] for f in files)),
        "findings": len(rep.get("findings", [])),
        "findings_by_kind": dict(Counter(f["kind"] for f in rep.get("findings", []))),
        "recommendation": rep.get("recommendation"),
        "agent_calls": len(rep.get("llm_calls", [])),
        "agent_hunks": sum(
            1 for c in rep.get("conflicts", []) for h in c.get("hunks", []) if h.get("by_agent")
        ),
        "reasons": rep.get("reasons", []),
        "warnings": rep.get("warnings", []),
        "version": {"file": vu.get("file"), "old": vu.get("old"), "new": vu.get("new")},
        "checks": [
            {
                "command": c["command"],
                "exit_code": c["exit_code"],
                "passed": c["passed"],
                "s": c["duration_s"],
            }
            for c in rep.get("checks", [])
        ],
        "stages_s": stages,
        "sync_wall_s": round(wall, 3),
        "sync_wall_without_checks_s": round(wall - stages.get("checks", 0.0), 3),
        "git_merge_tree_s": round(merge_s, 3),
        "git_merge_s": round(git_merge_s, 3),
        "budget_s": round(5 * git_merge_s + 2, 3),
        "warm": bool(args.warm),
        "setup_s": round(setup_s, 3),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "pr_body": str(body_path),
        "report": str(report_path),
    }
    if not args.keep:
        reset(fork, p1)
    return result


def show(r: dict[str, Any]) -> None:
    print(f"\n=== {r['tag']}  (CARTO merge {r['carto_merge'][:10]}; exit {r['exit_code']}, {r['status']})")
    if r["error"]:
        print(f"  error: {r['error']}")
    print(
        f"  fork version {r['fork_version']} ({r['fork_version_source']}); also includes: "
        f"{', '.join(r['also_includes']) or '-'}; {r['upstream_commits']} upstream commits, "
        f"{r['files_changed']} files changed"
    )
    v = r["verdicts"]
    n = len(r["conflicted_files"])
    print(
        f"  conflicted files: {n} (git merge-tree: {r['merge_tree_conflicted_files']}) — "
        + ", ".join(f"{k} {v.get(k, 0)}" for k in ("exact", "ws-equal", "open", "different"))
    )
    for f in r["conflicted_files"]:
        apart = f" ({f['lines_unlike_carto']} lines unlike CARTO's)" if f["verdict"] == "different" else ""
        print(f"    {f['verdict']:<9} {f['path']}  [{f['outcome']}: {f['rule']}]{apart}")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(r["findings_by_kind"].items()))
    print(f"  findings: {r['findings']}" + (f" ({kinds})" if kinds else ""))
    if r.get("agent_calls"):
        print(f"  agent: {r['agent_calls']} call(s), {r['agent_hunks']} hunk(s) resolved by it")
    print(f"  recommendation: {r['recommendation']}")
    for reason in r["reasons"]:
        print(f"    - {reason}")
    ver = r["version"]
    print(f"  version ({ver['file']}): {ver['old']} → {ver['new']}")
    for c in r["checks"]:
        print(f"  check `{c['command']}`: exit {c['exit_code']}, {c['s']:.1f} s")
    st = r["stages_s"]
    print("  stages (s): " + ", ".join(f"{k} {val:.2f}" for k, val in st.items()))
    print(
        f"  verify {st.get('verify', 0):.2f} s; forksync sync --no-push {r['sync_wall_without_checks_s']:.2f} s "
        f"without checks (checks {st.get('checks', 0):.2f} s, whole {r['sync_wall_s']:.2f} s); "
        f"git merge-tree --write-tree {r['git_merge_tree_s']:.2f} s, git merge {r['git_merge_s']:.2f} s "
        f"(budget 5x git merge + 2 s = {r['budget_s']:.2f} s)"
    )
    print(f"  PR body: {r['pr_body']}  (load average {r['load_average_1m']} when it finished)")


def table(results: list[dict[str, Any]]) -> None:
    print(
        "\n| sync | conflicted | exact | ws-equal | open | different | findings | recommendation "
        "| verify s | sync s (no checks) | checks s | git merge-tree s | git merge s | budget s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if "status" not in r:
            print(f"| {r['tag']} | error: {r['error']} |")
            continue
        v, st = r["verdicts"], r["stages_s"]
        print(
            f"| {r['tag']} | {len(r['conflicted_files'])} | {v.get('exact', 0)} | {v.get('ws-equal', 0)} "
            f"| {v.get('open', 0)} | {v.get('different', 0)} | {r['findings']} | {r['recommendation']} "
            f"| {st.get('verify', 0):.1f} | {r['sync_wall_without_checks_s']:.1f} | {st.get('checks', 0):.1f} "
            f"| {r['git_merge_tree_s']:.2f} | {r['git_merge_s']:.2f} | {r['budget_s']:.2f} |"
        )


def main() -> None:
    ap = argparse.ArgumentParser(
        description="Replay CARTO's three real litellm release syncs through `forksync sync --no-push`.",
        epilog="Measures; asserts nothing. See bench/README.md.",
    )
    ap.add_argument(
        "--repo", type=Path, required=True, help="a (bare) mirror of CartoDB/litellm; never modified"
    )
    ap.add_argument("--only", action="append", metavar="TAG", help="only this release (repeatable)")
    ap.add_argument("--work", type=Path, default=HERE / "work" / "real_syncs", help="repositories (reused)")
    ap.add_argument(
        "--out", type=Path, default=HERE / "results" / "real_syncs", help="PR bodies, reports, JSON"
    )
    ap.add_argument(
        "--keep", action="store_true", help="leave each fork as its sync left it (branch, report)"
    )
    ap.add_argument("--fresh", action="store_true", help="rebuild the repositories under --work first")
    ap.add_argument("--no-checks", dest="checks", action="store_false", help="configure no check command")
    ap.add_argument(
        "--old-tags",
        action="store_true",
        help="upstream also gets the mirror's copies of upstream's older tags (stable, nightly, rc…)",
    )
    ap.add_argument(
        "--warm",
        action="store_true",
        help="sync once untimed first and keep forksync's cache (learned.json, calibration.json), as the "
        "nightly workflow restores it",
    )
    ap.add_argument("--merge-runs", type=int, default=3, help="git merge-tree timings (median)")
    ap.add_argument(
        "--oracle-agent",
        action="store_true",
        help="configure an [agent] whose loopback model answers each hunk with what CARTO committed",
    )
    args = ap.parse_args()
    mirror = args.repo.resolve()
    args.work, args.out = args.work.resolve(), args.out.resolve()
    known = {s.tag for s in SYNCS}
    for tag in args.only or []:
        if tag not in known:
            raise SystemExit(f"real_syncs: unknown tag {tag}; choose from {', '.join(sorted(known))}")
    if args.fresh:
        shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    options = {
        "checks": CHECK if args.checks else None,
        "old_tags": args.old_tags,
        "repo": str(mirror),
        "oracle_agent": args.oracle_agent,
    }
    print(f"forksync: {forksync_bin()}; options: {options}")
    with contextlib.ExitStack() as stack:
        args.oracle = stack.enter_context(LLMStandIn(api_key=ORACLE_KEY)) if args.oracle_agent else None
        results = run_all(args, mirror, options)
    summary = args.out / "real_syncs.json"
    summary.write_text(
        json.dumps({"forksync": forksync_bin(), "options": options, "syncs": results}, indent=2),
        encoding="utf-8",
    )
    print(f"\nfigures: {summary}")


def run_all(args: argparse.Namespace, mirror: Path, options: dict[str, Any]) -> list[dict[str, Any]]:
    results = []
    releases: dict[str, str] = {}
    for sync in SYNCS:
        releases[sync.tag] = git(mirror, "rev-parse", f"{sync.merge}^2")
        if args.only and sync.tag not in args.only:
            continue
        result = run_one(args, mirror, sync, dict(releases))
        if "status" in result:
            show(result)
        results.append(result)
    table(results)
    return results


if __name__ == "__main__":
    main()
