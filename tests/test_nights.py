"""Several nights of `forksync sync` against the GitHub stand-in: re-runs that respect people.

Night 1 opens a draft PR with an open conflict; a person pushes a resolution; night 2 verifies
it from the branch tip and marks the PR ready (or, when the resolution dropped the fork's
`audit()` call, lists the lost change); main moves; night 3 merges main into the branch without
touching the person's commit; a newer release supersedes the PR, and its branch is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from forksync.commands.sync import execute
from forksync.errors import ExitCode
from forksync.report import Report
from tests.gitutil import Repo, git
from tests.standins.github_api import GitHubStandIn

TOKEN = "ghp_" + "N1ghtly" * 5
REPO = "acme/fork"
BRANCH = "upstream-sync/v1.1.0"
PERSON = "Pat Person <pat@acme.example>"

BASE = '"""Handle requests."""\n\nfrom app.core import respond, validate\n\n\ndef handle(request):\n'
BASE_BODY = "    validate(request)\n    return respond(request)\n"
FORK_BODY = "    validate(request)\n    audit(request)\n    return respond(request)\n"
UPSTREAM_BODY = "    validate(request)\n    log_request(request)\n    return respond(request)\n"
RESOLVED = (
    '"""Handle requests."""\n\nfrom app.audit import audit\nfrom app.core import log_request, respond, validate\n'
    "\n\ndef handle(request):\n    validate(request)\n    audit(request)\n    log_request(request)\n"
    "    return respond(request)\n"
)
CORE = "def validate(request):\n    return request\n\n\ndef respond(request):\n    return request\n"
ENGINE_OFF = (
    '["history", "toml", "python-syntax", "fork-markers", "finer", "trivial", "learned", "json", '
    '"yaml", "lineset", "version"]'
)


@dataclass
class World:
    gh: GitHubStandIn
    upstream: Repo
    fork: Repo
    remote: Path
    tmp: Path

    def night(self, **kwargs: Any) -> Report:
        report = execute(self.fork.path, None, quiet=True, **kwargs)
        self.announce()
        return report

    def announce(self) -> None:
        """The stand-in speaks REST, not git: tell it the branch heads the bare remote has."""
        refs = git(self.remote, "for-each-ref", "--format=%(refname:short) %(objectname)", "refs/heads")
        for line in refs.splitlines():
            name, sha = line.split()
            self.gh.repos[REPO].refs[name] = sha

    def pull(self, head: str = BRANCH) -> dict[str, Any]:
        [pull] = [p for p in self.gh.repos[REPO].pulls.values() if p["head"]["ref"] == head]
        return pull

    def person_pushes(self, content: str, message: str) -> str:
        clone = self.tmp / "person"
        if not clone.exists():
            git(self.tmp, "clone", "-q", str(self.remote), str(clone))
        git(clone, "fetch", "-q", "origin")
        git(clone, "checkout", "-q", "-B", BRANCH, f"origin/{BRANCH}")
        (clone / "app" / "handler.py").write_text(content)
        name, _, email = PERSON.partition(" <")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email.rstrip(">")}
        git(clone, "commit", "-qam", message, env=env)
        git(clone, "push", "-q", "origin", BRANCH)
        self.announce()
        return git(clone, "rev-parse", "HEAD")

    def main_moves(self) -> str:
        sha = self.fork.commit({"docs/NOTES.md": "ACME operations notes\n"}, "ACME: operations notes")
        self.fork.git("push", "-q", "origin", "main")
        self.announce()
        return sha


def labels(pull: dict[str, Any]) -> set[str]:
    return {x["name"] for x in pull["labels"]}


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name in ("GITHUB_API_URL", "GITHUB_REPOSITORY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    upstream = Repo(tmp_path / "upstream")
    upstream.commit(
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.0.0"\n',
            "app/__init__.py": "",
            "app/core.py": CORE,
            "app/handler.py": BASE + BASE_BODY,
        },
        "app 1.0.0",
    )
    upstream.tag("v1.0.0")
    remote = tmp_path / "fork-remote.git"
    Repo(remote, bare=True)
    fork = Repo(tmp_path / "fork")
    fork.git("remote", "add", "upstream", str(upstream.path))
    fork.git("fetch", "-q", "upstream", "main", "--tags")
    fork.git("reset", "-q", "--hard", "upstream/main")
    fork.git("remote", "add", "origin", str(remote))
    config = (
        f'[upstream]\nurl = "{upstream.path}"\n[fork]\nbranch = "main"\n'
        f'[checks]\ncommands = [["{sys.executable}", "-m", "py_compile", "app/handler.py"]]\ntimeout = 60\n'
        f"[resolve]\ndisable = {ENGINE_OFF}\n"
        f'[forge]\nkind = "github"\nrepo = "{REPO}"\n'
    )
    fork.commit(
        {
            "app/audit.py": "def audit(request):\n    print('audit', request)\n",
            "app/handler.py": BASE.replace("from app.core", "from app.audit import audit\nfrom app.core")
            + FORK_BODY,
            ".forksync.toml": config,
        },
        "ACME: audit every request",
        author="Fork Dev <dev@acme.example>",
    )
    fork.git("push", "-q", "origin", "main")
    upstream.commit(
        {
            "pyproject.toml": '[project]\nname = "app"\nversion = "1.1.0"\n',
            "app/core.py": CORE + "\n\ndef log_request(request):\n    return request\n",
            "app/handler.py": BASE.replace("respond, validate", "log_request, respond, validate")
            + UPSTREAM_BODY,
        },
        "log every request",
    )
    upstream.tag("v1.1.0")
    with GitHubStandIn({TOKEN: "write"}) as gh:
        gh.add_repo(REPO)
        # Pushed during the run, before the PR is opened: GitHub would know them by then.
        gh.repos[REPO].refs.update({BRANCH: "0" * 40, "upstream-sync/v1.2.0": "0" * 40})
        fork.commit({".forksync.toml": config + f'api-url = "{gh.url}"\n'}, "forksync through GitHub")
        fork.git("push", "-q", "origin", "main")
        w = World(gh, upstream, fork, remote, tmp_path)
        w.announce()
        yield w


def night_one(w: World) -> Report:
    report = w.night()
    assert report.exit_code == ExitCode.CONFLICTS_LEFT, report.error
    assert [c.path for c in report.unresolved] == ["app/handler.py"]
    pull = w.pull()
    assert pull["draft"] and labels(pull) == {"automated-sync", "needs-review"}
    assert pull["body"].startswith("## ⚠️ 1 conflicted file(s) left for review")
    assert "<<<<<<< fork (main)" in git(w.remote, "show", f"{BRANCH}:app/handler.py")
    return report


def test_a_persons_resolution_is_verified_and_the_pr_becomes_ready(world: World) -> None:
    w = world
    first = night_one(w)
    resolution = w.person_pushes(RESOLVED, "Resolve handler.py: audit and log every request")

    second = w.night()
    assert second.exit_code == ExitCode.OK and second.error is None, second.error
    assert second.unresolved == [] and second.findings == [] and all(c.passed for c in second.checks)
    assert second.recommendation == "ready", second.reasons
    # The merge commit is still forksync's merge, not the person's commit; theirs is the tip.
    assert second.merge_commit == first.merge_commit
    assert git(w.remote, "rev-parse", BRANCH) == resolution
    [record] = second.conflicts
    assert record.rule == "person" and "Pat Person" in record.reason
    pull = w.pull()
    assert not pull["draft"] and labels(pull) == {"automated-sync", "ready"}
    assert "conflicted file(s) left" not in pull["body"] and "Pat Person" in pull["body"]
    assert not pull["title"].startswith("[needs review]")

    # Night 3 on the same release, nothing moved: the same verdict, recomputed (not 2, 0, 0).
    third = w.night()
    assert third.exit_code == ExitCode.OK and third.recommendation == "ready" and third.findings == []
    assert git(w.remote, "rev-parse", BRANCH) == resolution

    # Markers pushed back (a bad rebase of someone's local copy): open again, and a draft again.
    w.person_pushes(git(w.remote, "show", f"{first.merge_commit}:app/handler.py"), "oops")
    fourth = w.night()
    assert fourth.exit_code == ExitCode.CONFLICTS_LEFT and [c.path for c in fourth.unresolved] == [
        "app/handler.py"
    ]
    pull = w.pull()
    assert pull["draft"] and labels(pull) == {"automated-sync", "needs-review"}


def test_a_resolution_that_drops_a_fork_change_is_listed(world: World) -> None:
    w = world
    night_one(w)
    dropped = RESOLVED.replace("    audit(request)\n", "").replace("from app.audit import audit\n", "")
    w.person_pushes(dropped, "Resolve handler.py")

    reports = [w.night(), w.night()]
    for report in reports:  # each run recomputes the same findings from the tip
        assert report.unresolved == [] and report.recommendation == "needs-review"
        kinds = {f.kind for f in report.findings}
        assert "lost-fork-change" in kinds, report.findings
        assert any("audit(request)" in f.message for f in report.findings)
    assert [len(r.findings) for r in reports] == [len(reports[0].findings)] * 2
    pull = w.pull()
    assert labels(pull) == {"automated-sync", "needs-review"}
    assert "verification finding" in pull["body"] and "audit(request)" in pull["body"]


def test_main_moves_then_a_newer_release_supersedes(world: World) -> None:
    w = world
    night_one(w)
    resolution = w.person_pushes(RESOLVED, "Resolve handler.py")
    new_main = w.main_moves()

    third = w.night()
    assert third.exit_code == ExitCode.OK, third.error
    tip = git(w.remote, "rev-parse", BRANCH)
    parents = git(w.remote, "rev-list", "--parents", "-n", "1", tip).split()[1:]
    assert parents == [resolution, new_main]  # main merged in; the person's commit untouched
    assert "main merged into it" in third.lifecycle
    assert third.fork_commit == new_main and f"`{new_main[:10]}`" in w.pull()["body"]
    assert third.recommendation == "ready" and third.findings == []

    w.upstream.commit(
        {"README.md": "app\n", "pyproject.toml": '[project]\nname = "app"\nversion = "1.2.0"\n'}, "1.2.0"
    )
    w.upstream.tag("v1.2.0")
    fourth = w.night()
    assert fourth.release is not None and fourth.release.tag == "v1.2.0"
    old, new = w.pull(), w.pull("upstream-sync/v1.2.0")
    assert old["state"] == "closed" and new["state"] == "open"
    assert fourth.pull_request is not None and fourth.pull_request.superseded == [old["html_url"]]
    comments = w.gh.repos[REPO].comments[old["number"]]
    assert "Superseded by" in comments[-1]["body"]
    # The person's work is not dropped: the old branch is kept, and the new one starts from it, so
    # their resolution carries over and v1.2.0 (a README change) merges cleanly on top.
    assert git(w.remote, "merge-base", "--is-ancestor", resolution, BRANCH) == ""
    new_tip = git(w.remote, "rev-parse", "upstream-sync/v1.2.0")
    assert git(w.remote, "merge-base", "--is-ancestor", tip, new_tip) == ""
    assert "started from upstream-sync/v1.1.0" in fourth.lifecycle
    assert fourth.unresolved == [] and fourth.recommendation == "ready", fourth.reasons
    assert not new["draft"] and labels(new) == {"automated-sync", "ready"}


def test_a_branch_of_forksyncs_own_commits_is_rebuilt_when_main_moves(world: World) -> None:
    w = world
    first = night_one(w)
    again = w.night()  # nothing moved: the same verdict, recomputed from the tip
    assert again.merge_commit == first.merge_commit and "re-verified" in again.lifecycle
    assert [c.path for c in again.unresolved] == ["app/handler.py"] and again.exit_code == first.exit_code
    assert [(f.kind, f.path) for f in again.findings] == [(f.kind, f.path) for f in first.findings]
    assert [c.passed for c in again.checks] == [c.passed for c in first.checks] == [False]
    new_main = w.main_moves()
    second = w.night()
    assert second.exit_code == ExitCode.CONFLICTS_LEFT, second.error
    assert "rebuilt" in second.lifecycle
    tip = git(w.remote, "rev-parse", BRANCH)
    assert git(w.remote, "rev-list", "--parents", "-n", "1", tip).split()[1] == new_main
    assert first.merge_commit not in git(w.remote, "rev-list", tip).split()  # replaced, with a lease
    assert w.pull()["draft"] and len(w.gh.repos[REPO].pulls) == 1
    # A stale local copy of forksync's own old branch (another machine rebuilt it) follows the remote.
    w.fork.git("update-ref", f"refs/heads/{BRANCH}", first.merge_commit)
    third = w.night()
    assert third.exit_code == ExitCode.CONFLICTS_LEFT, third.error
    assert git(w.remote, "rev-parse", BRANCH) == tip == w.fork.git("rev-parse", BRANCH)


def test_a_closed_pull_request_is_not_reopened_or_recreated(world: World) -> None:
    w = world
    night_one(w)
    w.pull()["state"] = "closed"
    tip = git(w.remote, "rev-parse", BRANCH)
    report = w.night()
    assert report.status == "stopped" and report.exit_code == ExitCode.OK
    assert any("closed without merging" in x for x in report.warnings)
    assert len(w.gh.repos[REPO].pulls) == 1 and w.pull()["state"] == "closed"
    assert git(w.remote, "rev-parse", BRANCH) == tip


def test_verify_checks_a_persons_fix_up_commit_against_the_fork_and_the_release(world: World) -> None:
    import json

    from click.testing import CliRunner

    from forksync.cli import main

    w = world
    first = night_one(w)
    dropped = RESOLVED.replace("    audit(request)\n", "")
    w.person_pushes(dropped, "Resolve handler.py")
    clone = w.tmp / "person"
    # The working tree's config is not what verify reads: the fork's committed one is.
    (clone / ".forksync.toml").write_text("<<<<<<< fork (main)\n[fork\n")
    result = CliRunner().invoke(main, ["verify", "--repo", str(clone), "--json"])
    assert result.exit_code == ExitCode.VERIFY_FAILED, result.output
    data = json.loads(result.stdout)
    assert data["merge"] == first.merge_commit and data["fork"] == first.merge_parents[0]
    assert "lost-fork-change" in {f["kind"] for f in data["findings"]}
    git(clone, "checkout", "-q", ".forksync.toml")
    w.person_pushes(RESOLVED, "Keep the audit call")
    assert CliRunner().invoke(main, ["verify", "--repo", str(clone)]).exit_code == ExitCode.OK


def test_a_missing_token_is_found_before_anything_is_pushed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = world
    monkeypatch.delenv("GITHUB_TOKEN")
    report = w.night()
    assert report.exit_code == ExitCode.CONFIG and report.error is not None
    assert "no GitHub token" in report.error["message"]
    assert [s.name for s in report.stages] == ["detect", "precheck"] and report.stages[-1].status == "failed"
    assert git(w.remote, "branch", "--list", "upstream-sync/*") == "" and not w.gh.repos[REPO].pulls


def test_a_moved_release_tag_rebuilds_a_branch_of_forksyncs_own_commits(world: World) -> None:
    w = world
    first = night_one(w)
    retagged = w.upstream.commit({"CHANGELOG.md": "1.1.0: retagged with a fix\n"}, "fix the release")
    w.upstream.git("tag", "-f", "v1.1.0")
    second = w.night()
    assert second.exit_code == ExitCode.CONFLICTS_LEFT, second.error
    tip = git(w.remote, "rev-parse", BRANCH)
    assert second.merge_commit == tip and second.merge_parents == [first.merge_parents[0], retagged]
    assert "merged afresh" in second.lifecycle and len(w.gh.repos[REPO].pulls) == 1


def test_a_newer_release_starts_from_main_when_the_older_branch_is_forksyncs_own(world: World) -> None:
    w = world
    first = night_one(w)  # open conflicts, no person's commit: nothing to carry over
    w.upstream.commit({"pyproject.toml": '[project]\nname = "app"\nversion = "1.2.0"\n'}, "1.2.0")
    w.upstream.tag("v1.2.0")
    newer = w.night()
    assert "a new merge from the production branch" in newer.lifecycle
    assert newer.merge_parents[0] == first.merge_parents[0]  # main, not the older sync branch
    assert w.pull()["state"] == "closed" and w.pull("upstream-sync/v1.2.0")["draft"]
