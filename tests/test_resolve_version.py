"""version: both sides set a different version number on one version field; the higher wins."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_engine import conflict_repo, resolve, unmerged


def _rules(output: str) -> list[str]:
    return [h["rule"] for f in json.loads(output)["files"] for h in f["hunks"]] or [
        f["rule"] for f in json.loads(output)["files"]
    ]


def test_python_version_line_keeps_the_higher(tmp_path: Path) -> None:
    base = '"""pkg."""\n__version__ = "1.81.6"\nNAME = "pkg"\n'
    fork = '"""pkg."""\n__version__ = "1.81.3"\nNAME = "pkg"\n'
    up = '"""pkg."""\n__version__ = "1.81.9"\nNAME = "pkg"\n'
    repo = conflict_repo(
        tmp_path, {"pkg/__init__.py": base}, {"pkg/__init__.py": fork}, {"pkg/__init__.py": up}
    )
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert _rules(result.output) == ["version:higher"]
    assert repo.read("pkg/__init__.py") == up
    assert not unmerged(repo)
    assert "kept the higher, 1.81.9 (upstream)" in result.output


def test_a_fork_ahead_on_its_own_scheme_keeps_its_version(tmp_path: Path) -> None:
    base = "name: chart\nappVersion: 1.2.0\n"
    fork = "name: chart\nappVersion: 1.4.0+fork.1\n"
    up = "name: chart\nappVersion: 1.3.0\n"
    repo = conflict_repo(tmp_path, {"Chart.txt": base}, {"Chart.txt": fork}, {"Chart.txt": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert repo.read("Chart.txt") == fork


def test_a_dependency_pin_is_not_a_version_bump(tmp_path: Path) -> None:
    base = 'deps = {\n    "ruff": "0.1.0",\n}\n'
    fork = 'deps = {\n    "ruff": "0.1.5",\n}\n'
    up = 'deps = {\n    "ruff": "0.2.1",\n}\n'
    repo = conflict_repo(tmp_path, {"d.py": base}, {"d.py": fork}, {"d.py": up})
    assert resolve(repo).exit_code == 1
    assert "<<<<<<<" in repo.read("d.py")


def test_pyproject_without_a_release_keeps_the_higher_version(tmp_path: Path) -> None:
    def doc(version: str, ruff: str) -> str:
        return f'[project]\nname = "x"\nversion = "{version}"\n\n[tool.deps]\nruff = "{ruff}"\n'

    repo = conflict_repo(
        tmp_path,
        {"pyproject.toml": doc("1.81.6", "0.1.0")},
        {"pyproject.toml": doc("1.81.3", "0.1.0")},
        {"pyproject.toml": doc("1.81.9", "0.2.1")},
    )
    result = resolve(repo, "--json")
    assert result.exit_code == 0, result.output
    assert repo.read("pyproject.toml") == doc("1.81.9", "0.2.1")
    assert "kept the higher" in result.output
