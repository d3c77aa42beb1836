"""Manifest loading: config and file combined; bad input is a one-line ConfigError."""

from __future__ import annotations

from pathlib import Path

import pytest

from forksync.config import Config, Feature
from forksync.errors import ConfigError
from forksync.git import Git
from forksync.verify.manifest import load_features, parse_manifest
from forksync.verify.trees import WORKTREE, Tree
from tests.gitutil import Repo


def test_config_and_manifest_features_are_combined(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(
        {
            ".forksync/features.toml": '[[features]]\nname = "audit"\nfiles = ["a.py"]\n'
            'pull-requests = [7]\n\n[[features]]\nname = "limits"\ndefines = ["x:y"]\n'
        },
        "manifest",
    )
    config = Config(features=[Feature(name="audit", files=["b.py"], tests=["t.py::test_a"])])
    features = {f.name: f for f in load_features(config, Tree(Git(repo.path), "HEAD"))}
    assert features["audit"].files == ["b.py", "a.py"]
    assert features["audit"].tests == ["t.py::test_a"] and features["audit"].pull_requests == [7]
    assert features["limits"].defines == ["x:y"]
    assert load_features(Config(), Tree(Git(repo.path), "HEAD~0"))[0].name == "audit"
    assert load_features(Config(), Tree(Git(repo.path), WORKTREE))[1].name == "limits"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[features]\n", "not valid TOML"),
        ('features = "x"\n', "array of tables"),
        ('[[features]]\nname = "a"\nfles = ["x"]\n', "features[0].fles"),
        ("[[features]]\ndescription = 'no name'\n", "features[0].name"),
    ],
)
def test_bad_manifest_is_one_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_manifest(text, "features.toml")
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_bad_pattern_is_a_config_error(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"a.py": "x = 1\n"}, "one")
    config = Config(features=[Feature(name="f", patterns=["(unclosed"])])
    with pytest.raises(ConfigError, match="feature 'f': invalid pattern"):
        load_features(config, Tree(Git(repo.path), "HEAD"))


def test_reads_list_the_tree_once_and_read_blobs_by_id(tmp_path: Path) -> None:
    """Blobs are read by id from one tree listing, shared between trees; contents must match
    and a path the revision lacks must read as absent, in a large read as in a small one."""
    from forksync.git import Git
    from forksync.verify.trees import Tree
    from tests.gitutil import Repo

    repo = Repo(tmp_path / "wide")
    files = {f"pkg/m{i}.py": f"VALUE = {i}\n" for i in range(120)}
    rev = repo.commit(files, "wide folder")
    tree = Tree(Git(repo.path), rev)
    tree.prefetch([*files, "pkg/absent.py"])
    assert all(tree.text(p) == text for p, text in files.items())
    assert tree.read("pkg/absent.py") is None
    small = Tree(Git(repo.path), rev)
    small.prefetch(["pkg/m3.py", "pkg/absent.py"])
    assert small.text("pkg/m3.py") == "VALUE = 3\n" and small.read("pkg/absent.py") is None
    blobs: dict[str, bytes] = {}
    later = repo.commit({"pkg/m3.py": "VALUE = -3\n"}, "one file changes")
    first, second = Tree(Git(repo.path), rev, blobs), Tree(Git(repo.path), later, blobs)
    first.prefetch(files)
    known = len(blobs)
    second.prefetch(files)
    assert len(blobs) == known + 1  # the second tree read only the blob the first lacked
    assert second.text("pkg/m3.py") == "VALUE = -3\n" and first.text("pkg/m3.py") == "VALUE = 3\n"
    assert first.oid("pkg/m4.py") == second.oid("pkg/m4.py") and first.oid("pkg/absent.py") is None
