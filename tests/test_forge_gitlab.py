"""The GitLab forge against a GitLab REST v4 stand-in on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forksync.config import parse_config
from forksync.errors import ConfigError, ForgeError
from forksync.forges.base import PullRequestSpec
from forksync.forges.gitlab import GitLabForge
from forksync.forges.http import RetryPolicy
from forksync.forges.upstream import upstream_releases
from tests.gitutil import Repo
from tests.standins.gitlab_api import GitLabStandIn

TOKEN = "glpat-" + "Q1w2E3r4T5y6" * 2
JOB = "job-token-value-1234567890"
HEAD = "upstream-sync/3.0.0"


@pytest.fixture
def gl(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitLabStandIn]:
    for name in ("GITLAB_TOKEN", "CI_JOB_TOKEN", "CI_API_V4_URL", "CI_PROJECT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    with GitLabStandIn({TOKEN}, {JOB}) as server:
        project = server.add_project("acme/platform/fork")
        project.branches[HEAD] = "d" * 40
        server.add_user("alice")
        yield server


def make(gl: GitLabStandIn, tmp_path: Path, **forge: Any) -> GitLabForge:
    config = parse_config(
        {"forge": {"kind": "gitlab", "repo": "acme/platform/fork", "api-url": f"{gl.url}/api/v4", **forge}},
        "t",
    )
    return GitLabForge.from_config(config, tmp_path, retry=RetryPolicy(sleep=lambda s: None))


def spec(**kw: Any) -> PullRequestSpec:
    base: dict[str, Any] = {
        "title": "Sync upstream 3.0.0",
        "body": "## Summary\n\nmerged\n",
        "head": HEAD,
        "base": "main",
        "labels": ("automated-sync", "needs-review"),
        "version": "3.0.0",
    }
    return PullRequestSpec(**{**base, **kw})


def opened(gl: GitLabStandIn) -> list[dict[str, Any]]:
    return [m for m in gl.projects["acme/platform/fork"].mrs.values() if m["state"] == "opened"]


def test_create_merge_request_with_draft_labels_and_reviewers(gl: GitLabStandIn, tmp_path: Path) -> None:
    result = make(gl, tmp_path).publish(
        spec(draft=True, reviewers=("alice", "ghost"), team_reviewers=("core",))
    )
    assert result.action == "created"
    [mr] = opened(gl)
    assert mr["title"] == "Draft: Sync upstream 3.0.0" and result.pull_request.draft
    assert mr["labels"] == ["automated-sync", "needs-review"]
    assert [u["username"] for u in mr["reviewers"]] == ["alice"]
    labels = gl.projects["acme/platform/fork"].labels
    assert labels["automated-sync"]["color"] == "#1d76db" and labels["needs-review"]["color"] == "#d93f0b"
    assert any("ghost" in w for w in result.warnings) and any("team" in w for w in result.warnings)
    # The project travels URL-encoded, as GitLab requires.
    assert (
        gl.calls("POST", "/merge_requests$")[0].path
        == "/api/v4/projects/acme%2Fplatform%2Ffork/merge_requests"
    )
    assert result.pull_request.url == mr["web_url"]


def test_update_follows_the_draft_state_swaps_labels_and_adds_a_note(
    gl: GitLabStandIn, tmp_path: Path
) -> None:
    forge = make(gl, tmp_path)
    forge.publish(spec(draft=True))
    result = forge.publish(
        spec(
            title="Sync upstream 3.0.0 (fixed)",
            labels=("automated-sync", "ready"),
            comment="Agent fixed 2 failing tests",
        )
    )
    assert result.action == "updated"
    [mr] = opened(gl)
    assert mr["title"] == "Sync upstream 3.0.0 (fixed)"  # no conflicts left: ready for review
    assert mr["labels"] == ["automated-sync", "ready"]
    assert [n["body"] for n in gl.projects["acme/platform/fork"].notes[mr["iid"]]] == [
        "Agent fixed 2 failing tests"
    ]
    assert len(gl.calls("POST", "/merge_requests$")) == 1
    assert forge.publish(
        spec(title="Sync upstream 3.0.0 (fixed)", labels=("automated-sync", "ready"))
    ).action == ("unchanged")


def test_supersede_closes_the_older_sync_mr(gl: GitLabStandIn, tmp_path: Path) -> None:
    old = gl.open_mr("acme/platform/fork", "upstream-sync/2.9.0", ["automated-sync"])
    result = make(gl, tmp_path).publish(spec())
    assert [p.number for p in result.superseded] == [old["iid"]] and old["state"] == "closed"
    assert [m["source_branch"] for m in opened(gl)] == [HEAD]
    [note] = gl.projects["acme/platform/fork"].notes[old["iid"]]
    assert result.pull_request.url in note["body"]


def test_stack_targets_the_older_branch(gl: GitLabStandIn, tmp_path: Path) -> None:
    gl.open_mr("acme/platform/fork", "upstream-sync/2.9.0", ["automated-sync"])
    result = make(gl, tmp_path, **{"on-newer-release": "stack"}).publish(spec())
    assert result.pull_request.base == "upstream-sync/2.9.0" and len(opened(gl)) == 2


def test_job_token_header_and_project_from_remote(
    gl: GitLabStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    monkeypatch.setenv("CI_JOB_TOKEN", JOB)
    monkeypatch.setenv("CI_API_V4_URL", f"{gl.url}/api/v4")
    repo = Repo(tmp_path / "fork")
    repo.commit({"a": "a\n"}, "init")
    repo.git("remote", "add", "origin", "https://gitlab.example.com/acme/platform/fork.git")
    forge = GitLabForge.from_config(parse_config({"forge": {"kind": "gitlab"}}, "t"), repo.path)
    assert forge.project == "acme/platform/fork"
    forge.publish(spec())
    request = gl.calls("POST", "/merge_requests$")[0]
    assert request.headers["job-token"] == JOB and "private-token" not in request.headers


def test_bad_token_and_conflict_errors(
    gl: GitLabStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITLAB_TOKEN", "glpat-wrongwrongwrongwrong")
    with pytest.raises(ForgeError, match=r"401.*check the token in GITLAB_TOKEN") as err:
        make(gl, tmp_path).publish(spec())
    assert "wrongwrong" not in str(err.value)
    monkeypatch.setenv("GITLAB_TOKEN", TOKEN)
    with pytest.raises(ForgeError, match=r"\(422\): Source branch is invalid"):
        make(gl, tmp_path).publish(spec(head="upstream-sync/not-pushed"))


def test_no_token_is_a_config_error(
    gl: GitLabStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITLAB_TOKEN")
    with pytest.raises(ConfigError, match="no GitLab token"):
        make(gl, tmp_path)


def test_releases_branch_head_and_pagination(gl: GitLabStandIn, tmp_path: Path) -> None:
    for i in range(45):
        gl.add_release("acme/platform/fork", f"v3.{i}.0", upcoming=i == 44)
    for i in range(130):
        gl.open_mr("acme/platform/fork", f"feature/{i}", ["automated-sync"] if i % 3 == 0 else [])
    forge = make(gl, tmp_path)
    releases = forge.releases()
    assert [r.tag for r in releases][:2] == ["v3.44.0", "v3.43.0"] and len(releases) == 45
    assert releases[0].prerelease and not releases[1].prerelease
    assert len(forge.find_open_sync_prs("automated-sync")) == 44
    assert len(gl.calls("GET", "/merge_requests$")) == 2  # 100 per page
    assert forge.branch_head(HEAD) == "d" * 40 and forge.branch_head("nope") is None


def test_upstream_releases_on_the_configured_gitlab(gl: GitLabStandIn, tmp_path: Path) -> None:
    gl.add_project("octo/upstream")
    gl.add_release("octo/upstream", "v1.0.0")
    config = parse_config({"forge": {"kind": "gitlab", "api-url": f"{gl.url}/api/v4"}}, "t")
    found = upstream_releases(
        config, "https://127.0.0.1/octo/upstream.git", retry=RetryPolicy(sleep=lambda s: None)
    )
    assert [(r.tag, r.body) for r in found] == [("v1.0.0", "notes for v1.0.0")]


def test_sync_mr_into_another_branch_is_not_superseded(gl: GitLabStandIn, tmp_path: Path) -> None:
    gl.projects["acme/platform/fork"].branches["release-2.x"] = "e" * 40
    other = gl.open_mr("acme/platform/fork", "upstream-sync/2.8.9", ["automated-sync"], target="release-2.x")
    result = make(gl, tmp_path).publish(spec())
    assert result.superseded == [] and other["state"] == "opened"
