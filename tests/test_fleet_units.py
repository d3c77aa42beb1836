"""The fleet's pieces alone: the fleet file's validation and merge order, the plan's decision and
chunking, escaping of untrusted report values, the dashboard's upsert, the CLI's one-line errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forksync.config import parse_config
from forksync.errors import ConfigError
from forksync.fleet.aggregate import ForkRow, build_rows, load_state
from forksync.fleet.model import effective, parse_fleet
from forksync.fleet.plan import Entry, Plan, decide, github_output
from forksync.fleet.render import MARKER, dashboard_body, md, summary
from forksync.forges.github import GitHubForge
from forksync.forges.http import Auth, HttpClient
from forksync.releases import stable_releases
from forksync.report import ConflictRecord, Finding, PullRequestRecord, ReleaseInfo, Report
from tests.standins.github_api import GitHubStandIn

FORKSYNC = str(Path(sys.executable).parent / "forksync")


def _fleet(**fork: object) -> dict[str, object]:
    return {
        "defaults": {
            "upstream": {"url": "https://example.com/up.git"},
            "checks": {"commands": ["make test"]},
        },
        "forks": [{"repository": "acme/one", **fork}, {"repository": "acme/two"}],
    }


def test_a_fleet_wide_mistake_stops_with_the_nearest_key() -> None:
    with pytest.raises(ConfigError, match="unknown key 'default'; did you mean 'defaults'"):
        parse_fleet({"default": {}})
    with pytest.raises(ConfigError, match=r"unknown key 'fleet\.max-paralel'; did you mean 'max-parallel'"):
        parse_fleet({"fleet": {"max-paralel": 3}})
    with pytest.raises(ConfigError, match=r"\[defaults\]: unknown key 'upstream.relase-tags'"):
        parse_fleet({"defaults": {"upstream": {"relase-tags": "v*"}}})


def test_a_broken_fork_entry_is_that_fork_s_problem_only() -> None:
    fleet = parse_fleet(
        {
            "forks": [
                {"repository": "acme/one", "chceks": {}},
                {"repository": "acme/two", "forge": {"kind": "gitlub"}},
                {"repository": "not a repo"},
                {"repository": "acme/ok"},
                {"repository": "other/ok"},
            ]
        }
    )
    problems = [f.problem for f in fleet.forks]
    assert "unknown key 'chceks'; did you mean 'checks'?" in problems[0]
    assert "forge.kind" in problems[1] and "gitlub" in problems[1]
    assert "'repository' must be owner/name" in problems[2]
    assert problems[3] == "" and "used twice" in problems[4]


def test_effective_config_merges_fleet_then_fork_and_says_where_each_key_came_from() -> None:
    fleet = parse_fleet(_fleet(checks={"timeout": 60}, forge={"reviewers": ["alice"]}))
    fork_file = {"checks": {"commands": ["tox"]}, "forge": {"repo": "evil/elsewhere", "draft": True}}
    result = effective(fleet, fleet.forks[0], fork_file)
    assert result.config.checks.commands == ["tox"] and result.config.checks.timeout == 60
    assert result.config.forge.repo == "acme/one"  # identity stays the fleet's
    assert result.config.forge.reviewers == ["alice"] and result.config.forge.draft
    assert result.provenance == {
        "checks.commands": "fork",
        "checks.timeout": "fleet",
        "forge.draft": "fork",
        "forge.repo": "fleet",
        "forge.reviewers": "fleet",
        "upstream.url": "fleet",
    }
    with pytest.raises(ConfigError, match=r"checks\.comands"):
        effective(fleet, fleet.forks[0], {"checks": {"comands": []}})


def test_the_plan_decides_on_what_ls_remote_showed_and_the_last_run() -> None:
    config = parse_config({}, "t")
    releases = stable_releases({"v1.0.0": "a" * 40, "v1.1.0": "b" * 40, "v1.2.0rc1": "c" * 40}, config)
    last = {"release_commit": "b" * 40, "fork_commit": "f" * 40, "status": "synced"}
    assert decide(releases, "b" * 40, None) == (False, "the fork's branch is v1.1.0 itself")
    assert decide(releases, "f" * 40, None)[0]
    assert decide(releases, "f" * 40, last) == (False, "unchanged since the last run (synced, v1.1.0)")
    assert decide(releases, "e" * 40, last) == (True, "v1.1.0: the fork's branch moved since the last run")
    assert decide(releases, "f" * 40, {**last, "status": "failed"})[0]  # a failure is retried
    assert (
        decide(releases, "f" * 40, {**last, "release_commit": "a" * 40})[1]
        == "v1.1.0: a new upstream release"
    )


def test_more_than_256_due_forks_are_chunked_and_overflow_is_a_problem() -> None:
    plan = Plan(due=[Entry(f"f{i}", f"o/f{i}", "o", f"f{i}", "v1", "r") for i in range(600)])
    sizes = [len(m["include"]) for m in plan.matrices()]
    assert sizes == [256, 256, 88]
    lines = github_output(plan, chunks=2).splitlines()
    assert lines[0] == "due=600" and [x.split("=")[0] for x in lines[1:]] == ["matrix-0", "matrix-1"]
    assert plan.problems == [
        "88 due fork(s) beyond the workflow's 2 matrix job(s) of 256: run `forksync init --fleet --force` "
        "again to add matrix jobs"
    ]
    assert github_output(Plan(), chunks=1).splitlines()[1] == 'matrix-0={"include":[]}'


HOSTILE = "<script>alert(1)</script> | @acme/admins [x](javascript:alert(1)) `code`"


def _report(**kwargs: object) -> Report:
    report = Report("r1", "2026-12-01T00:00:00Z", "/r", "main", "u", finished_at="2026-12-01T00:05:00Z")
    report.status = "conflicts-left"
    report.release = ReleaseInfo("v2.0.0", "2.0.0", "c" * 40)
    report.conflicts = [ConflictRecord(HOSTILE, "content", "unresolved", "", "")]
    report.findings = [Finding("markers", HOSTILE)]
    report.pull_request = PullRequestRecord("javascript:alert(1)", 7, "created")
    for key, value in kwargs.items():
        setattr(report, key, value)
    return report


def test_untrusted_report_values_are_inert_markdown() -> None:
    escaped = md(HOSTILE)
    assert "<" not in escaped.replace("\\<", "") and "|" not in escaped.replace("\\|", "")
    assert "@\u200bacme" in escaped and "](" not in escaped
    row = ForkRow("one", "acme/one", "conflicts-left", report=_report(), provenance={"a": "fleet"})
    body = dashboard_body(row, "dash")
    assert body.startswith(MARKER) and "<script>" not in body and "| Pull request | \\#7 |" in body
    assert re.findall(r"(?<!\\)\]\(", body) == []  # no link but escaped text (the PR's URL is no http URL)
    table = summary([row], [HOSTILE])
    assert all(
        line.count("|") - line.count("\\|") == 9 for line in table.splitlines() if line.startswith("| one")
    )


def test_a_missing_or_damaged_history_only_loses_the_history(tmp_path: Path) -> None:
    path = tmp_path / "fleet-state.json"
    path.write_text("{not json")
    assert load_state(path) == {"version": 1, "forks": {}}
    fleet = parse_fleet(_fleet())
    from datetime import UTC, datetime

    state = load_state(None)
    rows = build_rows(fleet, {"one": (_report(), {})}, state, {}, datetime(2026, 12, 5, tzinfo=UTC))
    assert rows[0].behind_releases == 1 and rows[0].behind_days == 3 and rows[1].status == "no report"
    assert state["forks"]["one"]["last"]["release_commit"] == "c" * 40


def test_the_dashboard_is_found_again_never_duplicated() -> None:
    from forksync.fleet.dashboard import upsert

    with GitHubStandIn({"t": "write"}) as gh:
        gh.add_repo("acme/one")
        client = HttpClient(gh.url, service="GitHub", auth=Auth({"Authorization": "Bearer t"}, "t"))
        forge = GitHubForge(client, "acme/one")
        gh.open_pull("acme/one", "upstream-sync/v1.0.0", labels=("forksync-dashboard",), title=MARKER)
        limited = {"message": "You have exceeded a secondary rate limit."}
        gh.fail("POST", r"/repos/acme/one/issues$", 403, limited, {"retry-after": "0"})
        assert upsert(forge, "forksync-dashboard", "dash", f"{MARKER}\nv1")[0] == "created"
        assert len(gh.calls("POST", r"/issues$")) == 2  # waited as told, then created once
        assert upsert(forge, "forksync-dashboard", "dash", f"{MARKER}\nv1")[0] == "unchanged"
        action, issue = upsert(forge, "forksync-dashboard", "dash", f"{MARKER}\nv2")
        assert action == "updated" and issue.body.endswith("v2")
        assert len(gh.repos["acme/one"].issues) == 1  # the pull request carrying the label is no dashboard
        assert not gh.calls("PATCH", "/pulls/")
        client.close()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FORKSYNC, *args], cwd=cwd, capture_output=True, text=True, env=dict(os.environ), timeout=60
    )


def test_cli_errors_are_one_line(tmp_path: Path) -> None:
    res = _cli("fleet", "plan", "--file", "missing.toml", cwd=tmp_path)
    assert res.returncode == 3 and res.stderr.count("\n") == 1 and "not found" in res.stderr
    (tmp_path / "fleet.toml").write_text('[[forks]]\nrepository = "acme/tinyproxy"\n')
    res = _cli("fleet", "config", "--fork", "tinyprox", "--out", "o", cwd=tmp_path)
    assert res.returncode == 3 and "did you mean 'tinyproxy'?" in res.stderr and res.stderr.count("\n") == 1
    res = _cli("fleet", "report", "--reports", "nowhere", cwd=tmp_path)
    assert res.returncode == 3 and "not a folder" in res.stderr


def test_plan_lines_for_forks_it_cannot_decide_alone(tmp_path: Path) -> None:
    from forksync.fleet.plan import make_plan
    from tests.gitutil import Repo

    up = Repo(tmp_path / "up")
    up.commit({"a": "1"}, "one")
    up.tag("v1.0.0")
    fork = Repo(tmp_path / "fork")
    fork.commit({"a": "0"}, "zero")
    fleet = parse_fleet(
        {
            "defaults": {"upstream": {"url": str(up.path)}},
            "forks": [
                {"repository": "acme/rel", "url": str(fork.path), "upstream": {"release-source": "releases"}},
                {"repository": "acme/nobranch", "url": str(fork.path), "fork": {"branch": "prod"}},
                {"repository": "acme/gone", "url": str(tmp_path / "gone")},
                {"repository": "acme/notags", "url": str(fork.path), "upstream": {"url": str(fork.path)}},
            ],
        }
    )
    plan = make_plan(fleet, jobs=2)
    assert [e.name for e in plan.due] == ["rel"] and plan.due[0].reason.endswith("its job decides")
    assert plan.problems[0] == f"nobranch: the fork has no branch 'prod' ({fork.path})"
    assert plan.problems[1].startswith("gone: cannot reach the fork")
    assert plan.problems[2].startswith("notags: no stable release among 0 upstream tags")
    assert plan.git_calls == 6  # two upstreams listed once each, four forks


def test_fleet_config_writes_the_effective_config_from_the_fork_s_branch(tmp_path: Path) -> None:
    from tests.gitutil import Repo

    fork = Repo(tmp_path / "fork")
    fork.commit({".forksync.toml": '[checks]\ncommands = ["tox"]\n'}, "fork config")
    fork.git("checkout", "-q", "-b", "work")
    fork.commit({".forksync.toml": '[checks]\ncommands = ["rm -rf /"]\n'}, "not on the production branch")
    (tmp_path / "fleet.toml").write_text(
        '[defaults.upstream]\nurl = "https://example.com/u.git"\n[[forks]]\nrepository = "acme/tinyproxy"\n'
    )
    res = _cli("fleet", "config", "--fork", "tinyproxy", "--repo", "fork", "--out", "out", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    from forksync.config import load_config

    config, _ = load_config(tmp_path, tmp_path / "out" / "forksync.toml")
    assert config.checks.commands == ["tox"] and config.forge.repo == "acme/tinyproxy"
    entry = (tmp_path / "out" / "fleet-entry.json").read_text()
    assert '"checks.commands": "fork"' in entry and '"upstream.url": "fleet"' in entry
    assert config.sources["checks.commands"] == "fork" and config.sources["upstream.url"] == "fleet"


def test_a_fork_configured_in_pyproject_counts_as_the_fork_s_file(tmp_path: Path) -> None:
    from forksync.commands.fleet import _fork_file
    from tests.gitutil import Repo

    fork = Repo(tmp_path / "fork")
    fork.commit(
        {"pyproject.toml": '[project]\nname = "x"\n[tool.forksync.checks]\ncommands = ["tox"]\n'}, "c"
    )
    assert _fork_file(fork.path, "main", "origin") == {"checks": {"commands": ["tox"]}}
    fork.commit({"pyproject.toml": '[tool.forksync.checks]\ncomands = ["tox"]\n'}, "typo")
    with pytest.raises(ConfigError, match="did you mean 'commands'"):
        _fork_file(fork.path, "main", "origin")
