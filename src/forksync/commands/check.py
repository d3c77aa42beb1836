"""`forksync check`: is a newer upstream stable release waiting? (0 = up to date, 10 = sync due)."""

from __future__ import annotations

import json
from pathlib import Path

from ..config import load_fork_config
from ..errors import ExitCode
from ..pipeline import Sync, SyncOptions
from ..ui import Progress


def run(repo: Path, config_path: Path | None, as_json: bool) -> int:
    from ..git import Git

    top = Git(repo).run("rev-parse", "--show-toplevel", check=False)
    root = Path(top.out.strip()) if top.returncode == 0 else repo
    config, _ = load_fork_config(root, config_path)
    # dry_run: `check` reads history only, so a dirty checkout does not matter to it
    sync = Sync(repo, config, SyncOptions(dry_run=True), Progress(quiet=True))
    target = sync.detect()
    r = sync.report
    due = target is not None
    commits = None
    if target is not None:
        sync.target = target
        if sync.git.has_object(target.commit):
            sync.measure(target.commit)  # counts and "also includes" from the merge base, no fetch
        else:
            sync.fetch()  # just the tag, into forksync's namespace
        commits = r.upstream_commits
    data = {
        "fork_version": r.fork_version,
        "fork_version_source": r.fork_version_source,
        "newest_release": r.release.tag if r.release else None,
        "newest_version": r.release.version if r.release else None,
        "sync_needed": due,
        "upstream_commits": commits,
        "skipped_releases": [s.tag for s in r.skipped_releases],
        "compare_url": r.compare_url or None,
        "warnings": r.warnings,
    }
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        print(f"fork version:   {r.fork_version or 'unknown'} ({r.fork_version_source})")
        print(f"newest release: {data['newest_release']}")
        if due:
            print(f"sync needed:    yes — {commits} upstream commits to merge")
            if r.skipped_releases:
                print("also includes:  " + ", ".join(s.tag for s in r.skipped_releases))
            if r.compare_url:
                print(f"compare:        {r.compare_url}")
        else:
            print("sync needed:    no, up to date")
        for w in r.warnings:
            print(f"warning: {w}")
    return ExitCode.SYNC_DUE if due else ExitCode.OK
