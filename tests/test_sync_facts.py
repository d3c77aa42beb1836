"""The facts a sync states (versions, "also includes", the compare link, counts) are true of
the merge it makes: each test builds the small history that once made a real sync lie."""

from __future__ import annotations

from pathlib import Path

from forksync.commands.sync import execute
from tests.gitutil import Repo

UPSTREAM_URL = "https://github.com/acme/project.git"
PYPROJECT = '[project]\nname = "x"\nversion = "{}"\n'


def _upstream(tmp_path: Path) -> Repo:
    """main: v1.0.0 → v1.0.8 → v1.1.0; a release branch off v1.0.0 tags v1.0.9-stable, which
    sorts between them but is no ancestor of v1.1.0 (litellm's stable tags, on release branches)."""
    up = Repo(tmp_path / "up")
    up.commit({"a.txt": "a\n", "pyproject.toml": PYPROJECT.format("1.0.0")}, "init")
    up.tag("v1.0.0")
    up.git("checkout", "-q", "-b", "release-1.0")
    up.commit({"hotfix.txt": "fix\n"}, "backport")
    up.tag("v1.0.9-stable")
    up.git("checkout", "-q", "main")
    up.commit({"a.txt": "a\nb\n"}, "feature b")
    up.commit({"pyproject.toml": PYPROJECT.format("1.0.8")}, "release 1.0.8")
    up.tag("v1.0.8")
    up.commit({"a.txt": "a\nb\nc\n"}, "feature c")
    up.commit({"pyproject.toml": PYPROJECT.format("1.1.0")}, "release 1.1.0")
    up.tag("v1.1.0")
    return up


def _fork(tmp_path: Path, up: Repo, start: str) -> Repo:
    """A fork cloned at ``start``; the upstream URL is a web address that git maps to the local
    repository (`insteadOf`), so the compare link is built as for github.com and nothing leaves
    the machine."""
    fork = Repo(tmp_path / "fork")
    fork.git("config", f"url.{up.path}.insteadOf", UPSTREAM_URL)
    fork.git("fetch", "-q", str(up.path), start)
    fork.git("reset", "-q", "--hard", "FETCH_HEAD")
    fork.commit(
        {"fork.txt": "ours\n", ".forksync.toml": f'[upstream]\nurl = "{UPSTREAM_URL}"\n'}, "fork's own work"
    )
    return fork


def test_also_includes_only_releases_in_the_release_history(tmp_path: Path) -> None:
    up = _upstream(tmp_path)
    fork = _fork(tmp_path, up, "v1.0.0")
    report = execute(fork.path, None, dry_run=True, quiet=True)
    assert report.release is not None and report.release.tag == "v1.1.0"
    assert report.fork_version == "1.0.0"
    # v1.0.9-stable sorts between 1.0.0 and 1.1.0 but the merge does not bring it.
    assert [r.tag for r in report.skipped_releases] == ["v1.0.8"]
    assert "`v1.0.9-stable`" not in report.pr_body and "| Also includes | `v1.0.8` |" in report.pr_body


def test_compare_link_and_count_come_from_the_merge_base(tmp_path: Path) -> None:
    up = _upstream(tmp_path)
    fork = _fork(tmp_path, up, "v1.0.0")
    report = execute(fork.path, None, dry_run=True, quiet=True)
    # The previous release's tag IS the merge base: the link may name it.
    assert report.compare_url == "https://github.com/acme/project/compare/v1.0.0...v1.1.0"
    assert report.upstream_commits == 4

    # The fork has since merged upstream's main past v1.0.8 (not a release): the merge brings 1
    # commit, where a link from v1.0.8 (its last merged release) would show 2.
    feature_c = up.git("rev-parse", "v1.1.0~1")
    fork.git("fetch", "-q", str(up.path), feature_c)
    fork.git("merge", "-q", "--no-edit", "FETCH_HEAD")
    report = execute(fork.path, None, dry_run=True, quiet=True)
    assert report.fork_version == "1.0.8"
    assert report.upstream_commits == 1
    assert report.compare_from == feature_c
    assert report.compare_url == f"https://github.com/acme/project/compare/{feature_c}...v1.1.0"
    assert f"[{feature_c[:10]}...v1.1.0]({report.compare_url})" in report.pr_body
