"""The version bump edits one value and nothing else."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest
from packaging.version import Version

from forksync.versioning import (
    keep_or_set,
    new_version,
    plan_version,
    read_version_text,
    version_source,
    write_version,
)

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


def test_a_version_is_never_lowered() -> None:
    value, why = keep_or_set("1.81.6", "1.81.3")
    assert value == "1.81.6" and "never lowered" in why and "[version] scheme" in why
    assert keep_or_set("1.81.3+fork.2", "1.81.3+fork.1")[0] == "1.81.3+fork.2"
    assert keep_or_set("1.81.0", "1.81.3") == ("1.81.3", "")
    assert keep_or_set(None, "1.81.3") == ("1.81.3", "")
    assert keep_or_set("1.81.3", "1.81.3+fork.1") == ("1.81.3+fork.1", "")
    assert keep_or_set("not a version", "1.0.0") == ("1.0.0", "")


@pytest.mark.parametrize(
    ("text", "kind", "tool", "files"),
    [
        ('[project]\nversion = "1.0"\n', "static", "", ()),
        ('[tool.poetry]\nversion = "1.0"\n', "static", "", ()),
        ('[project]\nname = "x"\n', "none", "", ()),
        ('[project]\ndynamic = ["version"]\n[tool.setuptools_scm]\n', "vcs", "setuptools-scm", ()),
        ('[build-system]\nrequires = ["hatchling", "hatch-vcs"]\n[project]\ndynamic = ["version"]\n'
         '[tool.hatch.version]\nsource = "vcs"\n', "vcs", "hatch-vcs", ()),
        ('[project]\ndynamic = ["version"]\n[tool.hatch.version]\npath = "x/about.py"\n', "file", "hatch", ("x/about.py",)),
        ('[project]\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = {file = "VERSION"}\n',
         "file", "setuptools", ("VERSION",)),
        ('[project]\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = {attr = "pkg.__version__"}\n',
         "file", "setuptools", ("pkg/__init__.py", "pkg.py", "src/pkg/__init__.py", "src/pkg.py")),
        ('[project]\ndynamic = ["version"]\n[tool.pdm.version]\nsource = "scm"\n', "vcs", "pdm", ()),
        ('[build-system]\nbuild-backend = "mesonpy"\n[project]\ndynamic = ["version"]\n', "unknown", "mesonpy", ()),
        ("not toml [", "none", "", ()),
    ],
)  # fmt: skip
def test_version_source(text: str, kind: str, tool: str, files: tuple[str, ...]) -> None:
    src = version_source(text)
    assert (src.kind, src.tool, src.files) == (kind, tool, files)


def test_plan_follows_a_dynamic_pyproject() -> None:
    tree = {
        "pyproject.toml": '[project]\ndynamic = ["version"]\n[tool.setuptools.dynamic]\nversion = {attr = "pkg.__version__"}\n',
        "src/pkg/__init__.py": '__version__ = "2.0"\n',
    }
    plan = plan_version("pyproject.toml", True, tree.get)
    assert plan.file == "src/pkg/__init__.py" and "dynamic (setuptools)" in plan.note
    assert plan_version("pyproject.toml", False, tree.get).file is None
    assert plan_version("VERSION", True, tree.get).file == "VERSION"  # a configured file is used as is
    tree["src/pkg/__init__.py"] = "from ._v import get\n__version__ = get()\n"  # no literal to set
    assert plan_version("pyproject.toml", True, tree.get).file is None
    del tree["src/pkg/__init__.py"]
    gone = plan_version("pyproject.toml", True, tree.get)
    assert gone.file is None and "none of" in gone.note
    outside = '[project]\ndynamic = ["version"]\n[tool.hatch.version]\npath = "../outside.py"\n'
    everywhere = {"pyproject.toml": outside, "../outside.py": '__version__ = "1"\n'}
    assert plan_version("pyproject.toml", True, everywhere.get).file is None  # never outside the repo


def test_python_module_version_changes_one_value(tmp_path: Path) -> None:
    path = tmp_path / "__about__.py"
    text = '"""About."""\nversion_info = (1, 2)\n__version__: str = \'1.2.0\'  # keep\n'
    path.write_text(text)
    assert read_version_text(text, "x/__about__.py") == "1.2.0"
    assert write_version(path, "1.3.0") == "1.2.0"
    assert path.read_text() == text.replace("1.2.0", "1.3.0")
