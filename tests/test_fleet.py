"""A fleet of 20 local forks end to end: `fleet plan`, each matrix entry run as its own process
(`fleet config` then `forksync sync` against the loopback GitHub stand-in), `fleet report`
(summary, dashboard issues, HTML page, history); then a second night in which one upstream
releases again: only its forks are due, and their dashboard issues are updated in place."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from forksync.commands.fleet import config as fleet_config
from tests.gitutil import Repo, git
from tests.standins.github_api import GitHubStandIn

TOKEN = "ghs_" + "Fl33tToken" * 3
FORKSYNC = str(Path(sys.executable).parent / "forksync")
BEHIND = [f"fork{i:02d}" for i in range(10)]  # fork03 conflicts with its upstream
CURRENT = [f"fork{i:02d}" for i in range(10, 15)]  # already merged v1.1.0
MIRRORS = [f"fork{i:02d}" for i in range(15, 18)]  # the branch is upstream's v1.1.0 itself
BROKEN, MISCONFIGURED = "fork18", "fork19"


def _upstream(path: Path, n: int) -> Repo:
    up = Repo(path)
    up.commit(
        {"pyproject.toml": '[project]\nname = "p"\nversion = "1.0.0"\n', "app.py": "A = 1\nB = 2\n"}, "v1.0.0"
    )
    up.tag("v1.0.0")
    up.commit(
        {"pyproject.toml": '[project]\nname = "p"\nversion = "1.1.0"\n', "app.py": f"A = 1\nB = {n + 3}\n"},
        "v1.1.0",
    )
    up.tag("v1.1.0", message="release 1.1.0")  # annotated: the plan must peel it
    return up


def _templates(root: Path, up: Repo) -> dict[str, Path]:
    """Working repositories the forks are bare clones of: behind, conflicting, current, mirror."""
    behind = Repo(root / "behind")
    behind.git("fetch", "-q", str(up.path), "refs/tags/*:refs/tags/*")
    behind.git("reset", "-q", "--hard", "v1.0.0")
    behind.commit(
        {"fork.py": "FORK = True\n", ".forksync.toml": '[checks]\ncommands = [["git", "--version"]]\n'},
        "the fork's own feature",
    )
    conflict = Repo(root / "conflict")
    conflict.git("fetch", "-q", str(behind.path), "main", "refs/tags/*:refs/tags/*")
    conflict.git("reset", "-q", "--hard", "FETCH_HEAD")
    conflict.commit({"app.py": "A = 1\nB = 100  # the fork's value\n"}, "fork: B")
    current = Repo(root / "current")
    current.git("fetch", "-q", str(behind.path), "main", "refs/tags/*:refs/tags/*")
    current.git("reset", "-q", "--hard", "FETCH_HEAD")
    current.git("merge", "-q", "--no-edit", "v1.1.0")
    mirror = Repo(root / "mirror")
    mirror.git("fetch", "-q", str(up.path), "refs/tags/*:refs/tags/*")
    mirror.git("reset", "-q", "--hard", "v1.1.0")
    return {"behind": behind.path, "conflict": conflict.path, "current": current.path, "mirror": mirror.path}


def _fleet(tmp: Path, gh: GitHubStandIn) -> Path:
    ups = [_upstream(tmp / "up" / f"up{n}", n) for n in range(3)]
    templates = [_templates(tmp / "tpl" / f"t{n}", up) for n, up in enumerate(ups)]
    lines = [
        "[fleet]",
        "max-parallel = 4",
        "[defaults.upstream]",
        "release-tags = 're:^v(\\d+\\.\\d+\\.\\d+)$'",
        "[defaults.forge]",
        'kind = "github"',
        f'api-url = "{gh.url}"',
        'token-env = "FLEET_TOKEN"',
    ]
    for i in range(20):
        name = f"fork{i:02d}"
        n = i % 3
        kind = (
            "conflict"
            if name == "fork03"
            else "behind"
            if name in BEHIND
            else "current"
            if name in CURRENT
            else "mirror"
        )
        bare = tmp / "forks" / f"{name}.git"
        git(tmp, "clone", "-q", "--bare", str(templates[n][kind]), str(bare))
        repo = gh.add_repo(f"fleet/{name}")
        repo.refs.update({"upstream-sync/v1.1.0": "0" * 40, "upstream-sync/v1.2.0": "0" * 40})
        upstream = tmp / "nowhere" if name == BROKEN else ups[n].path
        lines += ["[[forks]]", f'name = "{name}"', f'repository = "fleet/{name}"', f'url = "{bare}"']
        lines += ["[forks.upstream]", f'url = "{upstream}"']
        if name == MISCONFIGURED:
            lines += ["[forks.checks]", 'comands = ["make test"]']
    path = tmp / "control" / "fleet.toml"
    path.parent.mkdir(parents=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _forksync(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GITHUB_STEP_SUMMARY", "GITHUB_API_URL", "GITHUB_REPOSITORY")
    }
    env.update({"FLEET_TOKEN": TOKEN, "FORKSYNC_GIT_ATTEMPTS": "1"})
    return subprocess.run([FORKSYNC, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def _job(tmp: Path, fleet: Path, entry: dict[str, str], out: Path) -> tuple[str, int, str]:
    """One matrix job, as the workflow runs it: check out the fork, write its config, sync."""
    name = entry["name"]
    work = tmp / "work" / f"{name}-{out.name}"
    git(tmp, "clone", "-q", str(tmp / "forks" / f"{name}.git"), str(work))
    folder = out / f"forksync-report-{name}"
    # The job's config, written in this process (the CLI's own run is in test_fleet_units.py).
    with contextlib.redirect_stdout(io.StringIO()):
        assert fleet_config(fleet, name, work, folder) == 0
    res = _forksync(
        "sync",
        "--repo",
        str(work),
        "--config",
        str(folder / "forksync.toml"),
        "--report",
        str(folder / "report.json"),
        cwd=tmp,
    )
    return name, res.returncode, res.stderr


def _plan(tmp: Path, fleet: Path, *extra: str) -> dict[str, Any]:
    res = _forksync(
        "fleet", "plan", "--file", str(fleet), "--jobs", "4", "--out", str(tmp / "plan.json"), *extra, cwd=tmp
    )
    assert res.returncode == 0, res.stderr
    plan: dict[str, Any] = json.loads(res.stdout)
    assert all(line.startswith("forksync: fleet: ") for line in res.stderr.splitlines())
    return plan


def _run_all(tmp: Path, fleet: Path, plan: dict[str, Any], out: Path) -> dict[str, int]:
    entries = [e for m in plan["matrices"] for e in m["include"]]
    with ThreadPoolExecutor(max_workers=2) as pool:  # a small pool of processes, like max-parallel
        results = list(pool.map(lambda e: _job(tmp, fleet, e, out), entries))
    return {name: code for name, code, _ in results}


def _report(tmp: Path, fleet: Path, out: Path) -> dict[str, Any]:
    res = _forksync(
        "fleet", "report", "--file", str(fleet), "--reports", str(out), "--state", str(tmp / "fleet-state.json"),
        "--plan", str(tmp / "plan.json"), "--summary", str(tmp / "summary.md"), "--html", str(tmp / "site" / "index.html"),
        "--dashboard", "--json", cwd=tmp,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    data: dict[str, Any] = json.loads(res.stdout)
    return data


class _Rows(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}  # fork -> class

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "tr" and a.get("data-fork"):
            self.rows[str(a["data-fork"])] = str(a.get("class"))


def _dashboards(gh: GitHubStandIn, name: str) -> list[dict[str, Any]]:
    issues = gh.repos[f"fleet/{name}"].issues.values()
    return [i for i in issues if any(lbl["name"] == "forksync-dashboard" for lbl in i["labels"])]


def test_a_fleet_of_twenty_forks_planned_synced_and_reported(tmp_path: Path) -> None:
    with GitHubStandIn({TOKEN: "write"}) as gh:
        fleet = _fleet(tmp_path, gh)

        plan = _plan(tmp_path, fleet)
        due = [e["name"] for e in plan["matrices"][0]["include"]]
        assert sorted(due) == sorted(BEHIND + CURRENT)  # no history yet: every fork with a release
        assert {s["name"] for s in plan["settled"]} == set(MIRRORS)
        assert len(plan["problems"]) == 2
        assert plan["problems"][0].startswith(f"{BROKEN}: cannot list upstream tags")
        assert (
            plan["problems"][1].startswith(MISCONFIGURED)
            and "did you mean 'commands'?" in plan["problems"][1]
        )
        assert all(e["release"] == "v1.1.0" for e in plan["matrices"][0]["include"])

        codes = _run_all(tmp_path, fleet, plan, tmp_path / "night1")
        assert codes == {**{n: 0 for n in BEHIND + CURRENT}, "fork03": 6}

        data = _report(tmp_path, fleet, tmp_path / "night1")
        status = {f["name"]: f["status"] for f in data["forks"]}
        assert {n for n, s in status.items() if s == "synced"} == set(BEHIND) - {"fork03"}
        assert status["fork03"] == "conflicts-left"
        assert {n for n, s in status.items() if s == "up-to-date"} == set(CURRENT)
        assert status[BROKEN] == status[MISCONFIGURED] == "problem"
        assert all(status[n] == "no report" for n in MIRRORS)
        assert sorted(d["fork"] for d in data["dashboards"] if d["action"] == "created") == sorted(
            BEHIND + CURRENT
        )

        pulls = [p for p in gh.repos["fleet/fork00"].pulls.values() if p["state"] == "open"]
        (issue,) = _dashboards(gh, "fork00")
        assert pulls and pulls[0]["html_url"] in issue["body"] and "v1.1.0" in issue["body"]
        assert "checks.commands: fork" in issue["body"] and "upstream.url: fleet" in issue["body"]
        # the pull request says it too (`fleet config` writes [sources]; the sync renders them)
        assert "`checks.commands`: fork" in pulls[0]["body"] and "`upstream.url`: fleet" in pulls[0]["body"]
        (conflicted,) = _dashboards(gh, "fork03")
        assert "### Open conflicts" in conflicted["body"] and "app.py" in conflicted["body"]
        assert not _dashboards(gh, MIRRORS[0])  # nothing ran there: no issue

        summary = (tmp_path / "summary.md").read_text()
        for i in range(20):
            assert f"fork{i:02d}" in summary
        assert "### Problems" in summary and "nowhere" in summary and TOKEN not in summary
        page = _Rows()
        page.feed((tmp_path / "site" / "index.html").read_text())
        assert sorted(page.rows) == [f"fork{i:02d}" for i in range(20)]
        assert page.rows["fork00"] == "ok" and page.rows["fork03"] == "warn" and page.rows[BROKEN] == "bad"

        # Night 2: nothing changed but upstream 0, which releases v1.2.0; fork00's dashboard was closed.
        up0 = Repo.__new__(Repo)
        up0.path = tmp_path / "up" / "up0"
        up0.commit(
            {"pyproject.toml": '[project]\nname = "p"\nversion = "1.2.0"\n', "new.py": "N = 1\n"}, "v1.2.0"
        )
        up0.tag("v1.2.0")
        gh.repos["fleet/fork00"].issues[issue["number"]]["state"] = "closed"
        plan = _plan(tmp_path, fleet, "--state", str(tmp_path / "fleet-state.json"))
        due = sorted(e["name"] for e in plan["matrices"][0]["include"])
        assert due == sorted(n for n in BEHIND + CURRENT + MIRRORS if int(n[4:]) % 3 == 0)
        assert all(e["release"] == "v1.2.0" for e in plan["matrices"][0]["include"])
        assert {s["name"] for s in plan["settled"]} == set(BEHIND + CURRENT + MIRRORS) - set(due)

        codes = _run_all(tmp_path, fleet, plan, tmp_path / "night2")
        data = _report(tmp_path, fleet, tmp_path / "night2")
        actions = {d["fork"]: d["action"] for d in data["dashboards"]}
        assert actions == {n: "created" if n in MIRRORS else "updated" for n in due}
        assert all(code in (0, 6) for code in codes.values())
        for name in BEHIND + CURRENT:
            assert len(_dashboards(gh, name)) == 1  # in place, never a second one
        (issue,) = _dashboards(gh, "fork00")
        assert issue["state"] == "open" and "v1.2.0" in issue["body"]
        (untouched,) = _dashboards(gh, "fork01")
        assert "v1.1.0" in untouched["body"]
        state = json.loads((tmp_path / "fleet-state.json").read_text())
        assert len(state["forks"]["fork00"]["runs"]) == 2 and len(state["forks"]["fork01"]["runs"]) == 1
