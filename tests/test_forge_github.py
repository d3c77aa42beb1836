"""The GitHub forge against a stateful GitHub REST stand-in on loopback."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forksync.config import parse_config
from forksync.errors import ConfigError, ForgeError
from forksync.forges.base import PullRequestSpec
from forksync.forges.common import fit_body
from forksync.forges.github import BODY_LIMIT, GitHubForge
from forksync.forges.http import RetryPolicy
from forksync.forges.upstream import upstream_releases
from tests.gitutil import Repo
from tests.standins.github_api import GitHubStandIn

TOKEN = "ghp_" + "A1b2C3d4E5" * 4
READ_TOKEN = "ghp_" + "R0r0R0r0R0" * 4
HEAD = "upstream-sync/1.2.0"


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubStandIn]:
    for name in ("GITHUB_TOKEN", "GH_TOKEN", "GITHUB_API_URL", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    with GitHubStandIn({TOKEN: "write", READ_TOKEN: "read"}) as server:
        server.add_repo("acme/fork", collaborators={"alice", "bob"})
        server.repos["acme/fork"].refs[HEAD] = "c" * 40
        yield server


def fast() -> RetryPolicy:
    return RetryPolicy(sleep=lambda s: None, jitter=lambda: 0.0)


def make(gh: GitHubStandIn, tmp_path: Path, **forge: Any) -> GitHubForge:
    config = parse_config({"forge": {"kind": "github", "repo": "acme/fork", "api-url": gh.url, **forge}}, "t")
    return GitHubForge.from_config(config, tmp_path, retry=fast())


def spec(**kw: Any) -> PullRequestSpec:
    base: dict[str, Any] = {
        "title": "Sync upstream 1.2.0",
        "body": "## Summary\n\nmerged v1.2.0\n",
        "head": HEAD,
        "base": "main",
        "labels": ("automated-sync", "needs-review"),
        "version": "1.2.0",
    }
    return PullRequestSpec(**{**base, **kw})


def open_pulls(gh: GitHubStandIn) -> list[dict[str, Any]]:
    return [p for p in gh.repos["acme/fork"].pulls.values() if p["state"] == "open"]


def test_create_sets_labels_draft_reviewers_and_assignees(gh: GitHubStandIn, tmp_path: Path) -> None:
    forge = make(gh, tmp_path)
    result = forge.publish(
        spec(draft=True, reviewers=("alice",), team_reviewers=("core",), assignees=("bob",))
    )
    assert result.action == "created"
    [pull] = open_pulls(gh)
    assert result.pull_request.number == pull["number"] and result.pull_request.url == pull["html_url"]
    assert pull["draft"] is True and pull["head"]["ref"] == HEAD and pull["base"]["ref"] == "main"
    assert [x["name"] for x in pull["labels"]] == ["automated-sync", "needs-review"]
    # Missing labels were created with forksync's colours, not GitHub's default grey.
    labels = gh.repos["acme/fork"].labels
    assert (labels["automated-sync"]["color"], labels["needs-review"]["color"]) == ("1d76db", "d93f0b")
    assert [u["login"] for u in pull["requested_reviewers"]] == ["alice"]
    assert [t["slug"] for t in pull["requested_teams"]] == ["core"]
    assert [u["login"] for u in pull["assignees"]] == ["bob"]
    assert gh.calls("POST", "/pulls$")[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert result.warnings == []


def test_update_in_place_swaps_readiness_label_and_comments(gh: GitHubStandIn, tmp_path: Path) -> None:
    forge = make(gh, tmp_path)
    first = forge.publish(spec())
    gh.repos["acme/fork"].pulls[first.pull_request.number or 0]["labels"].append(
        {"name": "keep-me-human", "color": "ffffff"}
    )
    second = forge.publish(
        spec(
            body="## Summary\n\nchecks re-run\n",
            labels=("automated-sync", "ready"),
            comment="Checks re-run: 3/3",
        )
    )
    assert second.action == "updated"
    assert second.pull_request.number == first.pull_request.number
    assert len(gh.calls("POST", r"/pulls$")) == 1  # no duplicate
    [pull] = open_pulls(gh)
    assert pull["body"] == "## Summary\n\nchecks re-run\n"
    assert sorted(x["name"] for x in pull["labels"]) == ["automated-sync", "keep-me-human", "ready"]
    comments = gh.repos["acme/fork"].comments[pull["number"]]
    assert [c["body"] for c in comments] == ["Checks re-run: 3/3"]


def test_same_spec_again_is_unchanged(gh: GitHubStandIn, tmp_path: Path) -> None:
    forge = make(gh, tmp_path)
    forge.publish(spec())
    again = forge.publish(spec())
    assert again.action == "unchanged"
    assert gh.calls("PATCH") == [] and gh.calls("DELETE") == []


def test_newer_release_supersedes_older_sync_pr(gh: GitHubStandIn, tmp_path: Path) -> None:
    old = gh.open_pull("acme/fork", "upstream-sync/1.1.0", labels=("automated-sync", "needs-review"))
    other = gh.open_pull("acme/fork", "feature/x", labels=("enhancement",))
    result = make(gh, tmp_path).publish(spec())
    assert result.action == "created"
    assert [p.number for p in result.superseded] == [old["number"]]
    assert result.superseded[0].state == "closed"
    assert {p["number"] for p in open_pulls(gh)} == {result.pull_request.number, other["number"]}
    [note] = gh.repos["acme/fork"].comments[old["number"]]
    assert result.pull_request.url in note["body"] and "1.2.0" in note["body"]
    # The new PR was open before the old one was closed: never a moment with none.
    posts = [i for i, r in enumerate(gh.requests) if r.method == "POST" and r.path.endswith("/pulls")]
    closes = [i for i, r in enumerate(gh.requests) if r.method == "PATCH"]
    assert posts[0] < closes[0]


def test_stack_bases_the_new_pr_on_the_older_branch(gh: GitHubStandIn, tmp_path: Path) -> None:
    old = gh.open_pull("acme/fork", "upstream-sync/1.1.0", labels=("automated-sync",))
    result = make(gh, tmp_path, **{"on-newer-release": "stack"}).publish(spec())
    assert result.pull_request.base == "upstream-sync/1.1.0"
    assert result.stacked_on is not None and result.stacked_on.number == old["number"]
    assert result.superseded == [] and old["state"] == "open"
    [note] = gh.repos["acme/fork"].comments[old["number"]]
    assert "merge this pull request first" in note["body"]


def test_reviewer_refused_is_a_warning_not_a_lost_pr(gh: GitHubStandIn, tmp_path: Path) -> None:
    result = make(gh, tmp_path).publish(spec(reviewers=("mallory",)))
    assert result.action == "created" and len(open_pulls(gh)) == 1
    assert len(result.warnings) == 1 and "not a collaborator" in result.warnings[0]


def test_draft_unsupported_falls_back_to_a_normal_pr(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.repos["acme/fork"].drafts_supported = False
    result = make(gh, tmp_path).publish(spec(draft=True))
    assert (
        result.pull_request.draft is False and "Draft pull requests are not supported" in result.warnings[0]
    )


def test_bad_token_401_names_the_env_var_and_hides_the_token(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = "ghp_" + "Zz9" * 12
    monkeypatch.setenv("GITHUB_TOKEN", bad)
    with pytest.raises(ForgeError) as err:
        make(gh, tmp_path).publish(spec())
    message = str(err.value)
    assert "401" in message and "GITHUB_TOKEN" in message and "Bad credentials" in message
    assert bad not in message and "\n" not in message


def test_read_only_token_403_names_the_permission(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", READ_TOKEN)
    with pytest.raises(ForgeError, match=r"403 forbidden.*needs issues=write"):
        make(gh, tmp_path).publish(spec())


def test_rate_limit_403_waits_until_reset_then_succeeds(gh: GitHubStandIn, tmp_path: Path) -> None:
    reset = int(time.time()) + 30
    gh.fail(
        "GET",
        r"/pulls$",
        403,
        {"message": "API rate limit exceeded for user ID 1."},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset), "x-ratelimit-limit": "5000"},
    )
    forge = make(gh, tmp_path)
    assert forge.publish(spec()).action == "created"
    [wait] = forge.client.retry.waits
    assert 28 <= wait <= 33  # until the reset time, plus a second of margin
    assert len(gh.calls("GET", r"/pulls$")) == 2


def test_rate_limit_reset_beyond_cap_fails_with_reset_time(gh: GitHubStandIn, tmp_path: Path) -> None:
    reset = int(time.time()) + 3600
    gh.fail(
        "GET",
        r"/labels$",
        403,
        {"message": "API rate limit exceeded"},
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(
        ForgeError, match=r"rate limit exhausted \(403\); it resets at .* UTC \(in 36\d\d s\)"
    ):
        make(gh, tmp_path).publish(spec())


def test_secondary_rate_limit_429_honours_retry_after(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.fail("POST", r"/pulls$", 429, {"message": "secondary rate limit"}, {"retry-after": "7"})
    forge = make(gh, tmp_path)
    forge.publish(spec())
    assert forge.client.retry.waits == [7.0] and len(open_pulls(gh)) == 1


def test_validation_422_quotes_the_api(gh: GitHubStandIn, tmp_path: Path) -> None:
    with pytest.raises(ForgeError, match=r"\(422\): Validation Failed; PullRequest head invalid"):
        make(gh, tmp_path).publish(spec(head="upstream-sync/never-pushed"))


def test_5xx_then_success(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.fail("GET", r"/labels$", 502, "<html>Bad gateway</html>", times=2)
    gh.fail("POST", r"/pulls$", 503, {"message": "Service unavailable"})
    forge = make(gh, tmp_path)
    assert forge.publish(spec()).action == "created"
    assert forge.client.retry.waits == [1.0 * 0.5, 2.0 * 0.5, 1.0 * 0.5]  # exponential, jitter pinned at 0
    assert len(open_pulls(gh)) == 1


def test_500_on_create_is_not_retried_so_no_duplicate(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.fail("POST", r"/pulls$", 500, {"message": "Server Error"})
    with pytest.raises(ForgeError, match=r"GitHub failed POST /repos/acme/fork/pulls \(500\)"):
        make(gh, tmp_path).publish(spec())
    assert len(gh.calls("POST", r"/pulls$")) == 1


def test_persistent_5xx_gives_up_after_bounded_tries(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.fail("GET", r"/labels$", 500, {"message": "down"}, times=10)
    with pytest.raises(ForgeError, match=r"\(500\) after 4 tries"):
        make(gh, tmp_path).publish(spec())
    assert len(gh.calls("GET", r"/labels$")) == 4


def test_api_message_echoing_a_token_is_redacted(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.fail("GET", r"/labels$", 404, {"message": f"no such thing for token {TOKEN}"})
    with pytest.raises(ForgeError) as err:
        make(gh, tmp_path).publish(spec())
    assert TOKEN not in str(err.value) and "404" in str(err.value)


def test_releases_and_pulls_are_paginated(gh: GitHubStandIn, tmp_path: Path) -> None:
    for i in range(230):
        gh.add_release("acme/fork", f"v1.{i}.0", draft=i == 3, prerelease=i == 5)
    for i in range(130):
        gh.open_pull("acme/fork", f"upstream-sync/0.{i}.0", labels=("automated-sync",) if i % 2 else ())
    forge = make(gh, tmp_path)
    releases = forge.releases()
    assert [r.tag for r in releases] == [f"v1.{i}.0" for i in reversed(range(230))]
    assert {r.tag for r in releases if r.draft} == {"v1.3.0"} and {
        r.tag for r in releases if r.prerelease
    } == {"v1.5.0"}
    assert len(gh.calls("GET", r"/releases$")) == 3
    found = forge.find_open_sync_prs("automated-sync")
    assert len(found) == 65 and all("automated-sync" in p.labels for p in found)
    assert len(gh.calls("GET", r"/pulls$")) == 2


def test_body_over_the_limit_is_folded_and_accepted(gh: GitHubStandIn, tmp_path: Path) -> None:
    body = "## Summary\n\nshort and kept\n\n## Conflicts\n\n" + "".join(
        f"- `src/file_{i}.py`: resolved by rule keep-fork\n" for i in range(3000)
    )
    body += "\n## Checks\n\n```\n" + "x" * 90_000 + "\n```\n"
    assert len(body) > 2 * BODY_LIMIT
    make(gh, tmp_path).publish(spec(body=body))
    [pull] = open_pulls(gh)
    sent = pull["body"]
    assert len(sent) <= BODY_LIMIT
    assert sent.startswith("## Summary\n\nshort and kept\n") and "<details><summary>Shortened:" in sent
    assert "report artifact" in sent and sent.count("```") % 2 == 0


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.text(min_size=0, max_size=20), st.integers(0, 3000)), max_size=8),
    st.integers(200, 4000),
)
def test_fit_body_always_fits(sections: list[tuple[str, int]], limit: int) -> None:
    body = "".join(f"## {title}\n" + ("line of text\n" * (size // 13)) for title, size in sections)
    fitted = fit_body(body, limit)
    assert len(fitted) <= limit
    if len(body) <= limit:
        assert fitted == body


def test_branch_head(gh: GitHubStandIn, tmp_path: Path) -> None:
    forge = make(gh, tmp_path)
    assert forge.branch_head(HEAD) == "c" * 40
    assert forge.branch_head("upstream-sync/9.9.9") is None


def test_repo_from_fork_remote_and_enterprise_api_url(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = Repo(tmp_path / "fork")
    repo.commit({"a.txt": "a\n"}, "init")
    repo.git("remote", "add", "origin", "git@github.example.com:acme/fork.git")
    monkeypatch.setenv("GITHUB_API_URL", gh.url)
    forge = GitHubForge.from_config(parse_config({"forge": {"kind": "github"}}, "t"), repo.path, retry=fast())
    assert forge.repo == "acme/fork" and forge.client.base_url == gh.url
    assert forge.publish(spec()).action == "created"


def test_no_token_is_a_config_error(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(ConfigError, match="no GitHub token: set GITHUB_TOKEN or GH_TOKEN"):
        make(gh, tmp_path)
    with pytest.raises(ConfigError, match="token-env names MY_TOKEN, which is not set"):
        make(gh, tmp_path, **{"token-env": "MY_TOKEN"})


def test_github_app_installation_token(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    gh.add_app("4242", public, "acme/fork")
    monkeypatch.setenv("APP_KEY", private.replace("\n", "\\n"))  # one-line PEM, as CI secrets often are
    forge = make(gh, tmp_path, **{"app-id": "4242", "app-private-key-env": "APP_KEY"})
    assert forge.publish(spec()).action == "created"
    used = gh.calls("POST", r"/pulls$")[0].headers["authorization"]
    assert used.startswith("Bearer ghs_") and used.removeprefix("Bearer ") != TOKEN
    assert len(gh.calls("POST", r"/access_tokens$")) == 1


def test_upstream_releases_from_the_upstream_repo(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.add_repo("octo/upstream")
    gh.add_release("octo/upstream", "v2.0.0")
    gh.add_release("octo/upstream", "v2.1.0-rc1", prerelease=True)
    gh.add_release("octo/upstream", "v2.1.0", draft=True, body="notes")
    config = parse_config({"forge": {"kind": "github", "repo": "acme/fork", "api-url": gh.url}}, "t")
    found = upstream_releases(config, "https://127.0.0.1/octo/upstream.git", retry=fast())
    assert [(r.tag, r.draft, r.prerelease) for r in found] == [
        ("v2.1.0", True, False),
        ("v2.1.0-rc1", False, True),
        ("v2.0.0", False, False),
    ]
    assert found[0].body == "notes" and found[0].url.endswith("/octo/upstream/releases/tag/v2.1.0")


def test_stand_in_and_client_follow_githubs_openapi_description(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every request the client sent and every answer the stand-in gave, checked against the
    official description (trimmed by tests/data/github_openapi/trim.py)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tests.standins.github_api import OpenAPI

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    gh.add_app("77", public, "acme/fork")
    monkeypatch.setenv("APP_KEY", pem)
    old = gh.open_pull("acme/fork", "upstream-sync/1.1.0", labels=("automated-sync",))
    gh.add_release("acme/fork", "v1.0.0", body="notes")
    gh.add_release("acme/fork", "v1.1.0", draft=True)
    forge = make(gh, tmp_path, **{"app-id": "77", "app-private-key-env": "APP_KEY"})
    forge.publish(spec(draft=True, reviewers=("alice",), team_reviewers=("core",), assignees=("bob",)))
    forge.publish(spec(labels=("automated-sync", "ready"), comment="re-ran checks"))
    forge.releases()
    forge.branch_head(HEAD)
    forge.branch_head("nope")
    with pytest.raises(ForgeError):
        forge.publish(spec(head="upstream-sync/never-pushed"))
    assert old["state"] == "closed"

    api = OpenAPI()
    errors: list[str] = []
    seen = set()
    for request, reply in gh.exchanges:
        if request.path == "/graphql":  # draft state: GraphQL, not part of the REST description
            continue
        seen.add((request.method, reply.status))
        errors += api.request_errors(request.method, request.path, request.body)
        errors += api.response_errors(request.method, request.path, reply.status, reply.body)
    assert not errors, "\n".join(dict.fromkeys(re.sub(r"\d{3,}", "N", e) for e in errors))
    # The scenario exercised reads, writes, a 404 and a 422, each checked.
    assert {("GET", 200), ("POST", 201), ("PATCH", 200), ("DELETE", 200), ("GET", 404), ("POST", 422)} <= seen
    assert len(gh.exchanges) >= 25


def test_openapi_checker_catches_wrong_shapes() -> None:
    from tests.standins.github_api import OpenAPI

    api = OpenAPI()
    assert any(
        "missing required 'head'" in e for e in api.response_errors("GET", "/repos/a/b/pulls", 200, [{}])
    )
    wrong = api.response_errors(
        "GET", "/repos/a/b/git/ref/heads/x/y", 200, {"ref": 1, "node_id": "n", "url": "u"}
    )
    assert "GET /repos/a/b/git/ref/heads/x/y 200.ref: expected string, got int" in wrong
    assert api.request_errors("POST", "/repos/a/b/pulls", {"head": "h", "base": "b", "labels": ["x"]}) == [
        "POST /repos/a/b/pulls request: unknown field 'labels'"
    ]
    assert api.request_errors("PUT", "/repos/a/b/pulls", {}) == [
        "PUT /repos/a/b/pulls: not an operation of the GitHub API"
    ]


def test_sync_pr_into_another_branch_is_not_superseded(gh: GitHubStandIn, tmp_path: Path) -> None:
    gh.repos["acme/fork"].refs["release-1.x"] = "e" * 40
    other_line = gh.open_pull(
        "acme/fork", "upstream-sync/1.9.9", base="release-1.x", labels=("automated-sync",)
    )
    chain_a = gh.open_pull("acme/fork", "upstream-sync/1.0.0", labels=("automated-sync",))
    chain_b = gh.open_pull(
        "acme/fork", "upstream-sync/1.1.0", base="upstream-sync/1.0.0", labels=("automated-sync",)
    )
    result = make(gh, tmp_path).publish(spec())
    assert sorted(p.number for p in result.superseded) == sorted([chain_a["number"], chain_b["number"]])
    assert other_line["state"] == "open"


def test_make_forge_dispatches_and_secrets_never_reach_the_forge(
    gh: GitHubStandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from forksync.forges import make_forge

    canary = "canary-" + "9f8e7d6c5b4a"
    monkeypatch.setenv("DEPLOY_SECRET", canary)
    config = parse_config({"forge": {"kind": "github", "repo": "acme/fork", "api-url": gh.url}}, "t")
    forge = make_forge(config, tmp_path)
    assert isinstance(forge, GitHubForge)
    forge.publish(spec(title=f"Sync {canary}", body=f"log: {canary} and {TOKEN}", comment=f"again {canary}"))
    forge.publish(spec(body="second", comment=f"again {canary}"))
    sent = b"".join(r.raw for r in gh.requests)
    assert canary.encode() not in sent and TOKEN.encode() not in sent and b"[REDACTED]" in sent


def test_fit_body_folds_the_largest_subsection_and_keeps_the_merge_advice() -> None:
    body = (
        "## Upstream sync: v2.0.0\n\n**Recommendation: needs-review**\n\n### Conflict resolution\n\n"
        + "| a | b |\n" * 200
        + "\n### Skipped releases\n\n#### v1.9.0\n\n"
        + "note line\n" * 9000
        + "\n### How to merge\n\nUse a merge commit, never squash.\n"
    )
    fitted = fit_body(body, BODY_LIMIT)
    assert len(body) > BODY_LIMIT >= len(fitted)
    assert fitted.endswith("### How to merge\n\nUse a merge commit, never squash.\n")
    assert "| a | b |\n" * 200 in fitted  # the smaller table is untouched
    assert "#### v1.9.0\n\n<details><summary>Shortened:" in fitted
