"""The facts a sync states (versions, "also includes", the compare link, counts) are true of
the merge it makes: each test builds the small history that once made a real sync lie."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from forksync.commands.sync import execute
from forksync.errors import ExitCode
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


def _release_pair(
    tmp_path: Path,
    files: dict[str, str | bytes | None],
    fork_files: dict[str, str | bytes | None],
    new: dict[str, str | bytes | None],
) -> tuple[Repo, Repo]:
    """upstream v1.0.0 (``files``) → v1.1.0 (``new``); the fork merged v1.0.0, then ``fork_files``."""
    up = Repo(tmp_path / "up")
    up.commit({"a.txt": "a\n", **files}, "init")
    up.tag("v1.0.0")
    fork = Repo(tmp_path / "fork")
    fork.git("fetch", "-q", str(up.path), "v1.0.0")
    fork.git("reset", "-q", "--hard", "FETCH_HEAD")
    fork.commit({**fork_files, ".forksync.toml": f'[upstream]\nurl = "{up.path}"\n'}, "fork's own work")
    Repo(tmp_path / "origin.git", bare=True)
    fork.git("remote", "add", "origin", str(tmp_path / "origin.git"))
    up.commit({"a.txt": "a\nb\n", **new}, "release 1.1.0")
    up.tag("v1.1.0")
    return up, fork


def test_a_fork_version_ahead_of_the_release_is_never_lowered(tmp_path: Path) -> None:
    """CARTO's litellm: pyproject said 1.81.6 (the fork's own numbering), the sync of v1.81.3
    committed 1.81.3 and the body said "1.81.0 → 1.81.3"."""
    _, fork = _release_pair(
        tmp_path,
        {"pyproject.toml": PYPROJECT.format("1.0.0")},
        {"pyproject.toml": PYPROJECT.format("1.2.6")},
        {"pyproject.toml": PYPROJECT.format("1.1.0")},
    )
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.fork_version == "1.0.0"  # the last merged release; the file says more
    merged = fork.git("show", f"{report.merge_commit}:pyproject.toml")
    assert 'version = "1.2.6"' in merged
    v = report.version_update
    assert v is not None and (v.old, v.new) == ("1.2.6", "1.2.6") and "never lowered" in v.note
    assert any("kept the fork's 1.2.6" in w for w in report.warnings)
    assert "`pyproject.toml`: **1.2.6** (unchanged) (kept the fork's 1.2.6" in report.pr_body
    assert "1.0.0 → 1.1.0" not in report.pr_body


def test_the_version_row_shows_the_file_s_own_old_value(tmp_path: Path) -> None:
    _, fork = _release_pair(
        tmp_path,
        {"pyproject.toml": PYPROJECT.format("1.0.0")},
        {"pyproject.toml": PYPROJECT.format("1.0.0.post3")},  # the fork's own bump, below the release
        {"pyproject.toml": PYPROJECT.format("1.1.0")},
    )
    report = execute(fork.path, None, no_push=True, quiet=True)
    v = report.version_update
    assert v is not None and (v.old, v.new, v.note) == ("1.0.0.post3", "1.1.0", "")
    assert 'version = "1.1.0"' in fork.git("show", f"{report.merge_commit}:pyproject.toml")
    assert "`pyproject.toml`: 1.0.0.post3 → **1.1.0**" in report.pr_body


SCM = '[build-system]\nrequires = ["setuptools", "setuptools-scm"]\n[project]\nname = "x"\ndynamic = ["version"]\n'
HATCH = (
    '[build-system]\nrequires = ["hatchling"]\n[project]\nname = "x"\ndynamic = ["version"]\n'
    '[tool.hatch.version]\npath = "src/x/__about__.py"\n'
)


def test_a_version_from_the_git_tag_is_said_up_front_and_nothing_is_bumped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from forksync.commands import check

    _, fork = _release_pair(tmp_path, {"pyproject.toml": SCM}, {"fork.txt": "x\n"}, {"b.txt": "b\n"})
    assert check.run(fork.path, None, as_json=False) == ExitCode.SYNC_DUE
    out = capsys.readouterr().out
    assert "dynamic (setuptools-scm): it comes from the git tag" in out and "update = false" in out
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.exit_code == ExitCode.OK, report.error  # was: exit 3 after the merge
    v = report.version_update
    assert v is not None and v.new == "" and "comes from the git tag" in v.note
    assert fork.git("show", f"{report.merge_commit}:pyproject.toml") == SCM.strip()
    assert "comes from the git tag" in report.pr_body


def test_a_dynamic_version_read_from_a_file_is_bumped_there(tmp_path: Path) -> None:
    about = '"""About."""\n\n__version__ = "1.0.0"  # set by the release\n'
    _, fork = _release_pair(
        tmp_path,
        {"pyproject.toml": HATCH, "src/x/__about__.py": about},
        {"fork.txt": "x\n"},
        {"src/x/__about__.py": about.replace("1.0.0", "1.1.0")},
    )
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.exit_code == ExitCode.OK, report.error
    v = report.version_update
    assert v is not None and (v.file, v.old, v.new) == ("src/x/__about__.py", "1.0.0", "1.1.0")
    assert any("set in src/x/__about__.py" in w for w in report.warnings)
    assert (
        fork.git("show", f"{report.merge_commit}:src/x/__about__.py")
        == about.replace("1.0.0", "1.1.0").strip()
    )


def test_init_points_version_at_where_it_lives(tmp_path: Path, forksync_bin: str) -> None:
    from forksync.config import load_config

    for name, files, expected in [
        ("scm", {"pyproject.toml": SCM}, ("pyproject.toml", False)),
        (
            "hatch",
            {"pyproject.toml": HATCH, "src/x/__about__.py": '__version__ = "1.0"\n'},
            ("src/x/__about__.py", True),
        ),
        ("static", {"pyproject.toml": PYPROJECT.format("1.0")}, ("pyproject.toml", True)),
    ]:
        repo = Repo(tmp_path / name)
        repo.commit(dict(files), "init")
        res = subprocess.run(
            [
                forksync_bin,
                "init",
                "--repo",
                str(repo.path),
                "--upstream",
                "https://example.com/u.git",
                "--action",
                "example/forksync@" + "a" * 40,
            ],
            capture_output=True, text=True, check=False, timeout=60,
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
        config, _ = load_config(repo.path)
        assert (config.version.file, config.version.update) == expected, name
        text = (repo.path / ".forksync.toml").read_text()
        assert ("version is dynamic" in text) == (name != "static")
        assert ("note: pyproject.toml: the version is dynamic" in res.stdout) == (name != "static")
