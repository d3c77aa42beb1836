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
