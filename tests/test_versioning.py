"""The version bump edits one value and nothing else."""

from __future__ import annotations

import difflib
from pathlib import Path

from packaging.version import Version

from forksync.versioning import new_version, read_version_text, write_version

PYPROJECT = """\
# The fork's project file — comments matter
[build-system]
requires = ["hatchling"]

[project]
name   = "thing"          # odd spacing kept
version = "1.2.0"  # bumped by forksync
dependencies = [
  "httpx>=0.27",  # pinned for a reason
]
"""


def test_write_version_changes_one_line(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    assert write_version(path, "1.3.0") == "1.2.0"
    after = path.read_text()
    diff = [
        d
        for d in difflib.unified_diff(PYPROJECT.splitlines(), after.splitlines(), lineterm="", n=0)
        if d.startswith(("+", "-")) and not d.startswith(("+++", "---"))
    ]
    assert diff == ['-version = "1.2.0"  # bumped by forksync', '+version = "1.3.0"  # bumped by forksync']
    assert read_version_text(after, "pyproject.toml") == "1.3.0"


def test_poetry_layout(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[tool.poetry]\nname = "x"\nversion = "0.1.0"\n')
    write_version(path, "0.2.0")
    assert read_version_text(path.read_text(), "pyproject.toml") == "0.2.0"


def test_schemes() -> None:
    assert new_version("{upstream}", Version("1.4.2"), "1.4.1") == "1.4.2"
    assert new_version("{upstream}+fork.{n}", Version("1.4.2"), None) == "1.4.2+fork.1"
    assert Version(new_version("{upstream}+fork.{n}", Version("1.4.2"), None)) > Version("1.4.2")
