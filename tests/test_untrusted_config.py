"""The fork's config is the fork's: upstream's `.forksync.toml` / `[tool.forksync]` never apply."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from forksync.cli import main
from forksync.commands.sync import execute
from forksync.config import load_fork_config
from forksync.errors import ConfigError
from tests.gitutil import Repo
from tests.test_engine import conflict_repo


def _hostile_config(marker: Path) -> str:
    """An upstream config whose `regenerate` command would leave a file behind if it ran."""
    command = [sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ran')"]
    return (
        f'[[resolve.policies]]\npath = "data.txt"\npolicy = "regenerate"\ncommand = {json.dumps(command)}\n'
    )


def test_resolve_ignores_a_config_upstream_added(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    repo = conflict_repo(
        tmp_path,
        {"data.txt": "a\nb\nc\n"},
        {"data.txt": "a\nfork\nc\n"},
        {"data.txt": "a\nupstream\nc\n", ".forksync.toml": _hostile_config(marker)},
        config=None,
    )
    result = CliRunner().invoke(main, ["resolve", "--repo", str(repo.path)])
    assert not marker.exists(), "upstream's regenerate command ran"
    assert result.exit_code == 1 and "data.txt" in result.output  # a genuine conflict, left open


def test_resolve_add_add_config_keeps_the_forks_side_and_uses_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    fork_config = '[resolve]\ndisable = ["history", "learned"]\n'
    repo = conflict_repo(
        tmp_path,
        {"data.txt": "a\nb\nc\n"},
        {"data.txt": "a\nfork\nc\n", ".forksync.toml": fork_config},
        {"data.txt": "a\nupstream\nc\n", ".forksync.toml": _hostile_config(marker)},
        config=None,
    )
    result = CliRunner().invoke(main, ["resolve", "--repo", str(repo.path)])
    assert not marker.exists()
    assert "Traceback" not in result.output and "not valid TOML" not in result.output
    assert repo.read(".forksync.toml") == fork_config
    assert ".forksync.toml" not in repo.git("diff", "--name-only", "--diff-filter=U")


def test_merge_driver_reads_the_forks_committed_config(tmp_path: Path) -> None:
    """git runs the driver mid-merge; the working tree's `.forksync.toml` may be upstream's."""
    marker = tmp_path / "pwned"
    repo = Repo(tmp_path / "r")
    repo.commit({"data.txt": "a\nb\nc\n"}, "base")
    head = repo.head()
    repo.write({".forksync.toml": _hostile_config(marker)})  # as if upstream's copy were written
    files = {n: tmp_path / n for n in ("O", "A", "B")}
    for name, text in (("O", "a\nb\nc\n"), ("A", "a\nfork\nc\n"), ("B", "a\nup\nc\n")):
        files[name].write_text(text)
    import os

    cwd = os.getcwd()
    os.chdir(repo.path)
    try:
        result = CliRunner().invoke(
            main, ["merge-driver", str(files["O"]), str(files["A"]), str(files["B"]), "data.txt"]
        )
    finally:
        os.chdir(cwd)
    assert head and result.exit_code == 1 and not marker.exists()


def _fork_and_upstream(tmp_path: Path, upstream_next: dict[str, str | bytes | None]) -> Repo:
    pyproject = '[project]\nname = "x"\nversion = "1.0.0"\n'
    up = Repo(tmp_path / "up")
    up.commit({"a.txt": "a\n", "pyproject.toml": pyproject}, "init")
    up.tag("v1.0.0")
    fork = Repo(tmp_path / "fork")
    fork.git("remote", "add", "upstream", str(up.path))
    fork.git("fetch", "-q", "upstream", "main")
    fork.git("reset", "-q", "--hard", "upstream/main")
    fork.commit(
        {"pyproject.toml": pyproject + '\n[tool.forksync.fork]\nsync-branch = "sync/{version}"\n'},
        "fork config in pyproject",
    )
    up.commit({"a.txt": "a\nb\n", **upstream_next}, "next")
    up.tag("v1.1.0")
    return fork


def test_sync_undoes_upstreams_config_changes_and_says_so(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile_pyproject = (  # merges cleanly: the fork's own table is at the other end of the file
        '[tool.forksync.resolve]\ndisable = ["evil"]\n\n[project]\nname = "x"\nversion = "1.1.0"\n'
    )
    fork = _fork_and_upstream(
        tmp_path, {"pyproject.toml": hostile_pyproject, ".forksync.toml": _hostile_config(marker)}
    )
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.error is None, report.error
    assert report.sync_branch == "sync/v1.1.0"
    tree = fork.git("ls-tree", "-r", "--name-only", report.merge_commit).splitlines()
    assert ".forksync.toml" not in tree  # upstream's addition undone
    merged = fork.git("show", f"{report.merge_commit}:pyproject.toml")
    assert 'sync-branch = "sync/{version}"' in merged and "evil" not in merged
    assert 'version = "1.1.0"' in merged  # the rest of upstream's change stays
    assert report.recommendation == "needs-review"
    assert any("`.forksync.toml`" in r for r in report.reasons)
    assert any("[tool.forksync]" in r for r in report.reasons)
    assert not marker.exists()


def test_sync_from_a_sync_branch_checkout_reads_the_fork_branch_config(tmp_path: Path) -> None:
    fork = _fork_and_upstream(tmp_path, {})
    fork.git("checkout", "-q", "-b", "sync/v0")
    fork.commit({".forksync.toml": '[fork]\nsync-branch = "evil/{version}"\nbranch = "main"\n'}, "upstream's")
    config, source = load_fork_config(fork.path)
    assert config.fork.sync_branch == "sync/{version}" and "pyproject.toml" in source
    # A checkout whose config names another fork branch than that branch's own config: refused.
    fork.commit({".forksync.toml": '[fork]\nbranch = "sync/v0"\n'}, "names itself")
    assert load_fork_config(fork.path)[0].fork.branch == "sync/v0"  # its own checkout: trusted
    fork.git("checkout", "-q", "main")
    fork.write({".forksync.toml": '[fork]\nbranch = "other"\n'})
    fork.git("branch", "other", "sync/v0~1")
    with pytest.raises(ConfigError, match="names fork branch 'other'"):
        load_fork_config(fork.path)


def test_a_conflicted_tool_forksync_is_left_for_review_with_the_reason(tmp_path: Path) -> None:
    hostile = (
        '[project]\nname = "x"\nversion = "1.1.0"\n\n[tool.forksync.fork]\nsync-branch = "evil/{version}"\n'
    )
    fork = _fork_and_upstream(tmp_path, {"pyproject.toml": hostile})
    report = execute(fork.path, None, no_push=True, quiet=True)
    assert report.sync_branch == "sync/v1.1.0"  # the fork's config ran the sync
    assert [c.path for c in report.unresolved] == ["pyproject.toml"]
    assert any("[tool.forksync]" in r for r in report.reasons) and report.recommendation == "needs-review"


def test_resolve_keeps_the_forks_tool_forksync_in_a_resolved_pyproject(tmp_path: Path) -> None:
    base = '[project]\nname = "x"\nversion = "1.0.0"\n\n[tool.forksync.fork]\nsync-branch = "s/{version}"\n'
    fork = base.replace('"x"', '"x-fork"')
    upstream = base.replace("1.0.0", "1.1.0").replace('"s/{version}"', '"evil/{version}"')
    repo = conflict_repo(
        tmp_path, {"pyproject.toml": base}, {"pyproject.toml": fork}, {"pyproject.toml": upstream}
    )
    result = CliRunner().invoke(main, ["resolve", "--repo", str(repo.path), "--json"])
    merged = repo.read("pyproject.toml")
    assert "evil" not in merged and "s/{version}" in merged, result.output
    assert "[tool.forksync]" in result.output


def test_verify_on_a_merge_reads_the_fork_sides_config(tmp_path: Path) -> None:
    """A merge committed with upstream's `.forksync.toml`: `verify` still uses the fork's."""
    from forksync.config import load_merge_config
    from forksync.git import Git

    repo = Repo(tmp_path / "r")
    repo.commit({"a.txt": "a\n", ".forksync.toml": '[fork]\nname = "acme"\n'}, "base")
    repo.git("checkout", "-q", "-b", "up")
    repo.commit({".forksync.toml": '[fork]\nname = "evil"\n'}, "upstream's config")
    repo.git("checkout", "-q", "main")
    repo.commit({"b.txt": "b\n"}, "fork work")
    repo.git("merge", "-q", "--no-edit", "up")  # git takes upstream's config: the fork never touched it
    assert 'name = "evil"' in repo.read(".forksync.toml")
    git = Git(repo.path)
    fork_side, upstream_side = repo.git("rev-parse", "HEAD^1"), repo.git("rev-parse", "HEAD^2")
    config, source = load_merge_config(git, repo.path, None, fork_side, upstream_side)
    assert config.fork.name == "acme" and fork_side[:10] in source
    result = CliRunner().invoke(main, ["verify", "--repo", str(repo.path), "--json"])
    assert "Traceback" not in result.output
