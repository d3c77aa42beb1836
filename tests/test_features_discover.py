"""`forksync features discover` on real histories: the fork's own commits become features."""

from __future__ import annotations

import tomllib
from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from forksync.cli import main
from forksync.config import Config, Feature
from forksync.errors import UpstreamError
from forksync.git import Git
from forksync.verify import verify
from forksync.verify.discover import discover, render_toml
from forksync.verify.manifest import parse_manifest
from tests.gitutil import Repo
from tests.test_verify_scenarios import CLEAN, MERGED_SETTINGS, UPSTREAM_API, build, merge


def fork_with_pull_requests(tmp_path: Path) -> tuple[Repo, dict[str, str]]:
    repo = Repo(tmp_path / "fork")
    repo.commit({"app/core.py": "def run():\n    return 1\n", "README.md": "x\n"}, "upstream: initial")
    repo.commit({"app/core.py": "def run():\n    return 2\n"}, "upstream: two")
    repo.git("update-ref", "refs/remotes/upstream/main", "HEAD")
    shas = {
        "squash": repo.commit(
            {
                "app/audit.py": "def record(event):\n    return event\n",
                "app/core.py": "from app.audit import record\n\n\ndef run():\n    record('run')\n    return 2\n",
            },
            "Audit every run (#12)",
        )
    }
    repo.git("checkout", "-q", "-b", "topic")
    shas["topic1"] = repo.commit(
        {"app/limits.py": "class Limiter:\n    def allow(self):\n        return True\n"}, "Add a limiter"
    )
    shas["topic2"] = repo.commit(
        {
            "tests/test_limits.py": "from app.limits import Limiter\n\n\n"
            "def test_allow():\n    assert Limiter().allow()\n"
        },
        "Test the limiter",
    )
    repo.git("checkout", "-q", "main")
    repo.git(
        "merge", "--no-ff", "-q", "topic", "-m", "Merge pull request #15 from someone/limits\n\nRate limits"
    )
    shas["plain"] = repo.commit(
        {"app/core.py": repo.read("app/core.py") + "\n\ndef extra():\n    return 3\n"}, "Extra entry point"
    )
    return repo, shas


def test_groups_by_pull_request_and_file(tmp_path: Path) -> None:
    repo, shas = fork_with_pull_requests(tmp_path)
    proposals = {p.name: p for p in discover(Git(repo.path), Config())}
    assert sorted(proposals) == ["app-core-py", "pr-12", "pr-15"]
    pr12, pr15, plain = proposals["pr-12"], proposals["pr-15"], proposals["app-core-py"]
    assert pr12.pull_requests == [12] and pr12.commits == [shas["squash"][:12]]
    assert pr12.description == "Audit every run"
    assert sorted(pr12.defines) == ["app.audit:record", "app.core:run"]
    assert pr12.called == ["app.audit:record"]  # new and called from elsewhere
    assert pr15.description == "Rate limits" and pr15.commits == [shas["topic1"][:12], shas["topic2"][:12]]
    assert pr15.defines == ["app.limits:Limiter.allow"] and pr15.tests == ["tests/test_limits.py::test_allow"]
    assert plain.defines == ["app.core:extra"] and plain.commits == [shas["plain"][:12]]
    assert all("upstream" not in p.description for p in proposals.values())


def test_rendered_toml_is_a_valid_manifest(tmp_path: Path) -> None:
    repo, _ = fork_with_pull_requests(tmp_path)
    text = render_toml(discover(Git(repo.path), Config()))
    features = parse_manifest(text, "proposal")
    assert {f.name for f in features} == {"app-core-py", "pr-12", "pr-15"}
    assert next(f for f in features if f.name == "pr-15").pull_requests == [15]
    assert tomllib.loads(text)["features"][0]["name"]


def test_without_upstream_refs_or_tags_it_says_so(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"a.py": "x = 1\n"}, "one")
    with pytest.raises(UpstreamError, match="cannot tell the fork's commits"):
        discover(Git(repo.path), Config())


def test_discovered_manifest_guards_the_feature(tmp_path: Path) -> None:
    """Proposed from release tags alone, the manifest catches the orphaned helper's lost call."""
    sync = build(tmp_path / "a")
    features = [
        msgspec.convert(t, Feature)
        for t in tomllib.loads(render_toml(discover(Git(sync.repo.path), Config())))["features"]
    ]
    shout = next(f for f in features if f.name == "pr-12")
    assert "pkg.text:shout" in shout.called
    config = Config(features=features)
    merge(sync, CLEAN)
    assert (
        verify(sync.repo.path, config, fork_before=sync.fork, upstream=sync.upstream, run_tests=False) == []
    )
    bad = build(tmp_path / "b")
    merge(bad, {"pkg/api.py": UPSTREAM_API, "pkg/settings.py": MERGED_SETTINGS})
    found = verify(bad.repo.path, config, fork_before=bad.fork, upstream=bad.upstream, run_tests=False)
    assert any(f.kind == "manifest" and "pkg.text:shout is no longer called" in f.message for f in found)


def test_cli_write_never_overwrites(tmp_path: Path) -> None:
    repo, _ = fork_with_pull_requests(tmp_path)
    manifest = repo.path / ".forksync" / "features.toml"
    manifest.parent.mkdir()
    manifest.write_text(
        '[[features]]\nname = "pr-12"\ndescription = "mine, hand-written"\n', encoding="utf-8"
    )
    runner = CliRunner()
    result = runner.invoke(main, ["features", "discover", "--repo", str(repo.path), "--write"])
    assert result.exit_code == 0, result.output
    assert "nothing was overwritten" in result.output
    names = [f.name for f in parse_manifest(manifest.read_text(encoding="utf-8"), "m")]
    assert names == ["pr-12", "app-core-py", "pr-15"] or names == ["pr-12", "pr-15", "app-core-py"]
    assert "mine, hand-written" in manifest.read_text(encoding="utf-8")
    again = runner.invoke(main, ["features", "discover", "--repo", str(repo.path), "--write"])
    assert again.exit_code == 0 and "left unchanged" in again.output
    printed = runner.invoke(main, ["features", "discover", "--repo", str(repo.path)])
    assert printed.exit_code == 0 and "[[features]]" in printed.output
