"""Crash safety, gating, hostile config and secrets: a sync killed anywhere loses nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from forksync.config import Config, SecurityConfig, load_config_text, parse_config
from forksync.errors import ConfigError, ExitCode, GateError
from forksync.gate import check as gate_check
from tests.gitutil import git

STAGES = [
    "detect",
    "precheck",
    "fetch",
    "scan",
    "branch",
    "merge",
    "resolve",
    "version",
    "commit",
    "checks",
    "verify",
    "repair",
    "push",
    "pr",
    "notify",
]


def run_cli(
    forksync_bin: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [forksync_bin, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=180,
    )


def _fork_commits(fork: Path) -> set[str]:
    return set(git(fork, "rev-list", "main").split())


@pytest.mark.parametrize("stage", STAGES)
def test_killed_at_any_stage_then_resumed(
    demo: tuple[Path, Path, Path], forksync_bin: str, stage: str
) -> None:
    upstream, remote, fork = demo
    main_before = git(fork, "rev-parse", "main")
    commits_before = _fork_commits(fork)
    killed = run_cli(forksync_bin, "sync", "--repo", str(fork), env={"FORKSYNC_KILL_AT": stage})
    assert killed.returncode == 137, killed.stderr
    assert git(fork, "rev-parse", "main") == main_before  # production branch never written
    assert git(fork, "status", "--porcelain") == ""  # the user's checkout untouched

    status = run_cli(forksync_bin, "status", "--repo", str(fork), "--json")
    last = json.loads(status.stdout)
    assert last["status"] == "running"  # the record shows the run did not finish
    assert [s["name"] for s in last["stages"]] == STAGES[: STAGES.index(stage)]

    resumed = run_cli(forksync_bin, "sync", "--repo", str(fork), "--resume", "--json")
    report = json.loads(resumed.stdout)
    assert report["error"] is None, report["error"]
    assert report["status"] in ("synced", "conflicts-left", "checks-failed")
    assert any("stale lock" in w for w in report["warnings"])
    assert git(fork, "rev-parse", "main") == main_before
    assert commits_before <= _fork_commits(fork)  # no commit of the fork lost
    merge = git(remote, "rev-parse", "refs/heads/upstream-sync/v1.1.0")
    assert git(fork, "merge-base", "--is-ancestor", main_before, merge) == ""
    assert (
        git(fork, "merge-base", "--is-ancestor", git(upstream, "rev-parse", "v1.1.0^{commit}"), merge) == ""
    )
    # Exactly one merge of the release on the branch, exactly one PR.
    merges = git(remote, "rev-list", "--merges", f"{main_before}..{merge}").split()
    assert len(merges) == 1
    assert len(list((fork.parent / "outbox").glob("*.json"))) == 1
    assert "forksync-wt-" not in git(fork, "worktree", "list")


def test_resume_without_interrupted_run_is_a_normal_sync(
    demo: tuple[Path, Path, Path], forksync_bin: str
) -> None:
    _, _, fork = demo
    res = run_cli(forksync_bin, "sync", "--repo", str(fork), "--resume", "--json")
    report = json.loads(res.stdout)
    assert any("nothing to resume" in w for w in report["warnings"]) and report["merge_commit"]


def _event(tmp_path: Path, payload: dict[str, object]) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return str(path)


def test_gates(tmp_path: Path) -> None:
    sec = SecurityConfig(allowed_actors=["alice"], allowed_branches=["main"], required_label="sync-ok")
    gate_check(sec, {"GITHUB_EVENT_NAME": "schedule"})  # scheduled runs always pass
    gate_check(sec, {})  # outside Actions
    gate_check(
        sec, {"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_ACTOR": "alice", "GITHUB_REF_NAME": "main"}
    )
    with pytest.raises(GateError, match="mallory"):
        gate_check(sec, {"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_ACTOR": "mallory"})
    with pytest.raises(GateError, match="branch"):
        gate_check(
            sec,
            {
                "GITHUB_EVENT_NAME": "workflow_dispatch",
                "GITHUB_ACTOR": "alice",
                "GITHUB_REF_NAME": "feature/x",
            },
        )
    fork_pr = {
        "pull_request": {
            "head": {"repo": {"full_name": "evil/fork", "fork": True}},
            "base": {"repo": {"full_name": "acme/proxy"}},
            "labels": [{"name": "sync-ok"}],
        }
    }
    with pytest.raises(GateError, match="forks' pull requests"):
        gate_check(
            SecurityConfig(),
            {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": _event(tmp_path, fork_pr)},
        )
    own_pr = {
        "pull_request": {
            "head": {"repo": {"full_name": "acme/proxy"}},
            "base": {"repo": {"full_name": "acme/proxy"}},
            "labels": [],
        }
    }
    with pytest.raises(GateError, match="label"):
        gate_check(
            SecurityConfig(required_label="sync-ok", allowed_events=["pull_request"]),
            {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": _event(tmp_path, own_pr)},
        )


def test_gate_is_enforced_by_the_cli(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, _, fork = demo
    with (fork / ".forksync.toml").open("a") as fh:
        fh.write('[security]\nallowed-actors = ["alice"]\n')
    git(fork, "commit", "-qam", "gate")
    res = run_cli(
        forksync_bin,
        "sync",
        "--repo",
        str(fork),
        env={"GITHUB_EVENT_NAME": "workflow_dispatch", "GITHUB_ACTOR": "mallory"},
    )
    assert res.returncode == ExitCode.GATED and "not allowed" in res.stderr
    assert git(fork, "branch", "--list", "upstream-sync/*") == ""


def test_upstream_that_comes_back_is_retried(demo: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """A remote refusing connections for a moment (a restart, a blip) costs a retry, not the run."""
    import threading
    import time

    from forksync.commands.sync import execute
    from tests.conftest import GitDaemon, _free_port, copy_bare

    upstream, _, fork = demo
    served = tmp_path / "served"
    served.mkdir()
    copy_bare(upstream, served / "upstream.git")
    port = _free_port()
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config.replace('url = "../upstream"', f'url = "git://127.0.0.1:{port}/upstream.git"')
    )
    git(fork, "commit", "-qam", "flaky upstream")
    daemons: list[GitDaemon] = []
    starter = threading.Timer(0.15, lambda: daemons.append(GitDaemon(served, port)))
    started = time.monotonic()
    starter.start()
    try:
        report = execute(fork, None, quiet=True)
    finally:
        starter.join()
        for d in daemons:
            d.stop()
    assert report.error is None, report.error
    assert report.release is not None and report.release.tag == "v1.1.0" and report.merge_commit
    assert time.monotonic() - started < 60


def test_unreachable_upstream_fails_after_bounded_retries(
    demo: tuple[Path, Path, Path], forksync_bin: str
) -> None:
    import time

    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config.replace('url = "../upstream"', 'url = "git://127.0.0.1:9/x.git"')
    )
    git(fork, "commit", "-qam", "dead upstream")
    started = time.monotonic()
    res = run_cli(forksync_bin, "sync", "--repo", str(fork), env={"FORKSYNC_GIT_ATTEMPTS": "3"})
    assert res.returncode == ExitCode.UPSTREAM and "cannot reach upstream" in res.stderr
    assert time.monotonic() - started < 30  # bounded


# -- hostile configuration ----------------------------------------------------------------

_keys = st.sampled_from(
    [
        "upstream",
        "fork",
        "checks",
        "resolve",
        "forge",
        "url",
        "branch",
        "release-tags",
        "on-conflict",
        "policies",
        "path",
        "policy",
        "timeout",
        "commands",
        "x",
        "agent",
        "max-cost-usd",
        "min-confidence",
        "sync-branch",
    ]
)
_scalars = st.one_of(st.text(max_size=20), st.integers(-5, 10**6), st.floats(allow_nan=False), st.booleans())
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(_keys, inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_keys, _values, max_size=5))
def test_config_fuzz_only_ever_raises_config_error(data: dict[str, object]) -> None:
    try:
        cfg = parse_config(data, "fuzz.toml")
    except ConfigError as exc:
        assert str(exc).startswith("fuzz.toml: ") and "\n" not in str(exc)
    else:
        assert isinstance(cfg, Config)


@pytest.mark.parametrize(
    "text",
    [
        '[upstream]\nrelease-tags = "re:(a+)+$' + "x" * 600 + '"\n',
        "[fork]\nsync-branch = 'no-placeholder'\n",
        "[resolve]\nmin-confidence = 3\n",
        "[upstream]\nrelease-tags = 're:^(a+)+$'\n",
        "[version]\nfile = '../../etc/passwd'\n",
        "[version]\nfile = '/etc/passwd'\n",
        "[verify]\nmanifest = '../outside.toml'\n",
        "[version]\nscheme = '{upstream}-{evil.__class__}'\n",
        "not toml at all [",
        "[forge]\nkind = 'bitbucket'\n",
        '[[resolve.policies]]\npath = "x"\npolicy = "guess"\n',
    ],
)
def test_bad_configs_are_rejected_with_one_line(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(text, ".forksync.toml")
    assert "\n" not in str(info.value) and str(info.value).startswith(".forksync.toml")


def test_unknown_key_suggests_the_nearest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'sync-branch'"):
        load_config_text("[fork]\nsync_brunch = 'x/{version}'\n", "c.toml")


# -- secrets ------------------------------------------------------------------------------


def test_canary_secrets_never_reach_any_output(demo: tuple[Path, Path, Path], forksync_bin: str) -> None:
    _, _, fork = demo
    canaries = {
        "GITHUB_TOKEN": "ghp_" + "CanaryGitHubToken0123456789",
        "ANTHROPIC_API_KEY": "sk-ant-" + "canary-anthropic-0123456789",
        "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/canary0123456789",
        "MY_SERVICE_PASSWORD": "hunter2-canary-password",
    }
    # Plant the canaries in the repository content and commit messages too.
    (fork / "LEAK.md").write_text(f"token: {canaries['GITHUB_TOKEN']}\n")
    git(fork, "add", "LEAK.md")
    git(fork, "commit", "-qm", f"oops {canaries['MY_SERVICE_PASSWORD']}")
    res = run_cli(forksync_bin, "sync", "--repo", str(fork), "--json", env=canaries)
    outputs = [res.stdout, res.stderr]
    for path in (fork / ".git" / "forksync").rglob("*.json"):
        outputs.append(path.read_text())
    for path in (fork.parent / "outbox").glob("*"):
        outputs.append(path.read_text())
    blob = "\n".join(outputs)
    for value in canaries.values():
        assert value not in blob
