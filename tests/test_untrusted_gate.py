"""The gate fails closed, and a release-tags regex cannot make upstream's tags stall the run."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path

import pytest

from forksync.config import SecurityConfig, compile_pattern, load_config_text
from forksync.errors import ConfigError, GateError
from forksync.gate import check


def _env(
    tmp_path: Path, event: str, payload: Mapping[str, object] | None = None, **extra: str
) -> dict[str, str]:
    env = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": event, "GITHUB_REPOSITORY": "acme/proxy", **extra}
    if payload is not None:
        path = tmp_path / "event.json"
        path.write_text(json.dumps(payload))
        env["GITHUB_EVENT_PATH"] = str(path)
    return env


OWN = {"repository": {"full_name": "acme/proxy"}}
FORK_PR = {
    "pull_request": {
        "head": {"repo": {"full_name": "evil/proxy", "fork": True}},
        "base": {"repo": {"full_name": "acme/proxy"}},
    },
    **OWN,
}
COMMENT_ON_PR = {"issue": {"number": 7, "pull_request": {"url": "https://x/pulls/7"}}, **OWN}


def test_default_allows_only_the_repositorys_own_schedule_and_dispatch(tmp_path: Path) -> None:
    sec = SecurityConfig()
    check(sec, _env(tmp_path, "schedule", OWN))
    check(sec, _env(tmp_path, "workflow_dispatch", OWN))
    check(sec, {})  # a person running it outside Actions
    for event in ("push", "issue_comment", "repository_dispatch"):
        with pytest.raises(GateError, match="may not trigger"):
            check(sec, _env(tmp_path, event, OWN))


def test_unknown_or_missing_events_are_refused_whatever_the_config(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="not one forksync knows"):
        check(SecurityConfig(), _env(tmp_path, "merge_group", OWN))
    with pytest.raises(GateError, match="without GITHUB_EVENT_NAME"):
        check(SecurityConfig(), {"GITHUB_ACTIONS": "true"})
    with pytest.raises(ConfigError, match="unknown event"):
        load_config_text('[security]\nallowed-events = ["merge_group"]\n', "c.toml")


def test_fork_prs_are_refused_on_every_event(tmp_path: Path) -> None:
    wide = SecurityConfig(allowed_events=["pull_request", "pull_request_target", "issue_comment"])
    for event, payload in (
        ("pull_request_target", FORK_PR),
        ("pull_request", FORK_PR),
        ("issue_comment", COMMENT_ON_PR),  # a comment on any PR: its head cannot be checked
        ("pull_request", OWN),  # a PR event without its PR
    ):
        with pytest.raises(GateError, match="forks' pull requests"):
            check(wide, _env(tmp_path, event, payload))
    same_repo_pr = {
        "pull_request": {
            "head": {"repo": {"full_name": "acme/proxy"}},
            "base": {"repo": {"full_name": "acme/proxy"}},
        },
        **OWN,
    }
    check(wide, _env(tmp_path, "pull_request", same_repo_pr))  # widened on purpose: allowed
    check(wide, _env(tmp_path, "issue_comment", {"issue": {"number": 3}, **OWN}))  # an issue, not a PR


def test_a_payload_from_another_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GateError, match="comes from 'evil/proxy'"):
        check(
            SecurityConfig(), _env(tmp_path, "workflow_dispatch", {"repository": {"full_name": "evil/proxy"}})
        )


@pytest.mark.parametrize("regex", [r"((a+))+", r"(\d|\d\d)*", r"(a+)+$", r"(?:a*)*", r"\d*\d*\d*\d*\d*x"])
def test_backtracking_regexes_are_refused(regex: str) -> None:
    with pytest.raises(ValueError):
        compile_pattern("re:" + regex)
    with pytest.raises(ConfigError, match="release-tags"):
        load_config_text(f"[upstream]\nrelease-tags = 're:{regex}'\n", "c.toml")


def test_accepted_patterns_stay_fast_on_hostile_tags() -> None:
    default = compile_pattern(r"re:^v(\d+\.\d+\.\d+)(-stable)?$")
    found = default.match("v1.2.3-stable")
    assert found is not None and found.group(1) == "1.2.3"
    flags = compile_pattern(r"re:(?i)^V(\d+)$").match("v12")
    assert flags is not None and flags.group(1) == "12"
    worst = compile_pattern(r"re:^\d*\d*\d*\d*x$")  # the most repeats allowed
    start = time.monotonic()
    assert worst.match("1" * 100_000) is None  # longer than any tag: refused at once
    assert worst.match("1" * 128) is None
    assert compile_pattern("release-*").match("release-" + "1" * 200) is None
    assert time.monotonic() - start < 1.0
