"""The fork's version: read it, compute the new one, and write it without disturbing layout.

Only the version value changes (tomlkit keeps comments and formatting), so the diff of the
version bump is one line. A version is never lowered: a fork whose own numbering is ahead of
the release keeps its number. A pyproject whose version is dynamic (`dynamic = ["version"]`)
is recognised before anything is merged: the version then comes from the git tag
(setuptools-scm, hatch-vcs: nothing to bump) or from the file the build backend names.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from packaging.version import Version

from .config import Config
from .errors import ConfigError, GitError

_KEYS = (("project", "version"), ("tool", "poetry", "version"))
# `__version__ = "1.2.3"` (also `VERSION`, `version`, an annotated `__version__: str = ...`).
_PY_VERSION = re.compile(
    r"""^(?P<head>(?:__version__|VERSION|version)\s*(?::\s*str\s*)?=\s*)(?P<q>["'])(?P<ver>[^"'\n]+)(?P=q)""",
    re.M,
)
# Build plug-ins that take the version from git tags.
_VCS_PLUGINS = (
    "setuptools_scm",
    "setuptools-scm",
    "hatch-vcs",
    "versioningit",
    "dunamai",
    "dynamic-versioning",
)


def read_version_text(text: str, path: str) -> str | None:
    """The version in a pyproject-like TOML text, a Python module (`__version__ = "…"`) or a
    plain VERSION file."""
    if path.endswith(".py"):
        m = _PY_VERSION.search(text)
        return m.group("ver") if m else None
    if not path.endswith(".toml"):
        stripped = text.strip()
        return stripped or None
    try:  # reading needs no layout: the standard library's parser is ~15x faster than tomlkit's
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot parse TOML to read the version: {exc}") from None
    for keys in _KEYS:
        node: object = doc
        for key in keys:
            if not hasattr(node, "get"):
                node = None
                break
            node = node.get(key)
        if isinstance(node, str):
            return str(node)
    return None


def new_version(scheme: str, upstream: Version, current: str | None) -> str:
    """Apply the version scheme: `{upstream}`, or e.g. `{upstream}+fork.{n}` / `{upstream}.post{n}`."""
    n = 1
    local = ""
    if current:
        m = re.search(r"\+([A-Za-z]+)[.-]?(\d+)$", current)
        if m:
            local = m.group(1)
    value = scheme.format(upstream=str(upstream), n=n, local=local or "fork")
    return value


def write_version(path: Path, version: str) -> str | None:
    """Set the version in place; return the old one. Raise when there is no version to set."""
    if not path.is_file():
        raise GitError(f"version file {path.name} not found in the fork", hint="set [version] file")
    text = path.read_text(encoding="utf-8")
    if path.name.endswith(".py"):
        m = _PY_VERSION.search(text)
        if m is None:
            raise ConfigError(f'{path.name} has no __version__ = "…" to update', hint="set [version] file")
        path.write_text(text[: m.start("ver")] + version + text[m.end("ver") :], encoding="utf-8")
        return m.group("ver")
    if not path.name.endswith(".toml"):
        old = text.strip() or None
        path.write_text(version + ("\n" if text.endswith("\n") or not text else ""), encoding="utf-8")
        return old
    import tomlkit

    doc = tomlkit.parse(text)
    for keys in _KEYS:
        node = doc
        ok = True
        for key in keys[:-1]:
            nxt = node.get(key)
            if nxt is None or not hasattr(nxt, "get"):
                ok = False
                break
            node = nxt
        if ok and isinstance(node.get(keys[-1]), str):
            old = str(node.get(keys[-1]))
            node[keys[-1]] = version
            path.write_text(tomlkit.dumps(doc), encoding="utf-8")
            return old
    raise ConfigError(
        f"{path.name} has no [project] version to update", hint="add one, or set [version] update = false"
    )


def fork_version(root: Path, config: Config) -> str | None:
    path = root / config.version.file
    if not path.is_file():
        return None
    return read_version_text(path.read_text(encoding="utf-8"), config.version.file)


def is_lower(value: str, than: str) -> bool:
    """True when version ``value`` sorts below ``than`` (PEP 440, else the leading numbers)."""
    from .releases import loose_version, parse_version

    a = parse_version(value) or loose_version(value)
    b = parse_version(than) or loose_version(than)
    return a is not None and b is not None and a < b


def keep_or_set(fork_value: str | None, new: str) -> tuple[str, str]:
    """The version to commit and, when it is not ``new``, why: a version is never lowered, so a
    fork whose own numbering is ahead of the release (1.81.6 against 1.81.3) keeps it."""
    if fork_value is not None and is_lower(new, fork_value):
        return fork_value, (
            f"kept the fork's {fork_value}: the release's {new} is lower and a version is never lowered; "
            "[version] scheme applies again once a release sorts above it"
        )
    return new, ""


# -- where the version lives: static, dynamic from git tags, or dynamic from a file -------------


@dataclass(frozen=True)
class VersionSource:
    kind: str  # static | vcs (from git tags) | file (a file the backend reads) | unknown | none
    tool: str = ""
    files: tuple[str, ...] = ()  # kind "file": candidate paths, most likely first


def _table(node: object, *keys: str) -> dict[str, object]:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _attr_files(attr: str) -> tuple[str, ...]:
    """Candidate files for setuptools' `attr = "pkg.mod.__version__"`."""
    module = attr.rpartition(".")[0].replace(".", "/")
    if not module:
        return ()
    return tuple(f"{root}{module}{tail}" for root in ("", "src/") for tail in ("/__init__.py", ".py"))


def version_source(pyproject: str) -> VersionSource:
    """Where a pyproject's version comes from, read from its text alone."""
    try:
        doc = tomllib.loads(pyproject)
    except tomllib.TOMLDecodeError:
        return VersionSource("none")
    project = _table(doc, "project")
    if isinstance(project.get("version"), str) or isinstance(
        _table(doc, "tool", "poetry").get("version"), str
    ):
        return VersionSource("static")
    dynamic = project.get("dynamic")
    if not (isinstance(dynamic, list) and "version" in dynamic):
        return VersionSource("none")
    hatch = _table(doc, "tool", "hatch", "version")
    if hatch.get("source") == "vcs":
        return VersionSource("vcs", "hatch-vcs")
    if isinstance(hatch.get("path"), str):
        return VersionSource("file", "hatch", (str(hatch["path"]),))
    pdm = _table(doc, "tool", "pdm", "version")
    if pdm.get("source") == "scm":
        return VersionSource("vcs", "pdm")
    if pdm.get("source") == "file" and isinstance(pdm.get("path"), str):
        return VersionSource("file", "pdm", (str(pdm["path"]),))
    st = _table(doc, "tool", "setuptools", "dynamic", "version")
    if isinstance(st.get("attr"), str):
        return VersionSource("file", "setuptools", _attr_files(str(st["attr"])))
    file = st.get("file")
    if isinstance(file, list) and file:
        file = file[0]
    if isinstance(file, str):
        return VersionSource("file", "setuptools", (file,))
    tools = _table(doc, "tool")
    reqs = _table(doc, "build-system").get("requires")
    requires = " ".join(str(r) for r in reqs) if isinstance(reqs, list) else ""
    for name in (*tools, requires):
        for plugin in _VCS_PLUGINS:
            if plugin in name.lower():
                return VersionSource("vcs", plugin.replace("_", "-"))
    if "flit" in requires and isinstance(project.get("name"), str):
        module = str(project["name"]).replace("-", "_")
        return VersionSource("file", "flit", _attr_files(f"{module}.__version__"))
    return VersionSource("unknown", str(_table(doc, "build-system").get("build-backend", "")))


@dataclass(frozen=True)
class VersionPlan:
    file: str | None  # the file whose version the sync sets; None: nothing to write
    note: str = ""  # what was found, for the report (empty when the configured file is used as is)
    hint: str = ""  # what to put in [version]


def _readable(path: str, read: Callable[[str], str | None]) -> bool:
    """A repository file (never outside it) from which a version can be read."""
    if Path(path).is_absolute() or ".." in Path(path).parts:
        return False
    text = read(path)
    return text is not None and read_version_text(text, path) is not None


def plan_version(configured: str, update: bool, read: Callable[[str], str | None]) -> VersionPlan:
    """Which file holds the fork's version; ``read(path)`` gives a file's text (None: absent).

    A configured pyproject.toml whose version is dynamic is followed to the file its backend
    reads, or, when the version comes from git tags, there is nothing to bump."""
    if not update:
        return VersionPlan(None)
    text = read(configured) if Path(configured).name == "pyproject.toml" else None
    src = version_source(text) if text is not None else VersionSource("none")
    if src.kind == "vcs":
        return VersionPlan(
            None,
            f"{configured}: the version is dynamic ({src.tool}): it comes from the git tag; nothing to bump",
            "update = false",
        )
    if src.kind == "file":
        found = next((f for f in src.files if _readable(f, read)), None)
        if found is not None:
            return VersionPlan(
                found,
                f"{configured}: the version is dynamic ({src.tool}): set in {found}",
                f'file = "{found}"',
            )
        return VersionPlan(
            None,
            f"{configured}: the version is dynamic ({src.tool}) and none of {', '.join(src.files)} exists; "
            "nothing bumped",
            'file = "<the file that holds __version__>"',
        )
    if src.kind == "unknown":
        return VersionPlan(
            None,
            f"{configured}: the version is dynamic ({src.tool or 'unknown backend'}); nothing bumped",
            'file = "<the file that holds the version>" or update = false',
        )
    return VersionPlan(configured)


def init_version_lines(config_text: str, root: Path) -> tuple[str, str]:
    """`forksync init`: point `[version]` at where the fork's version really lives (a comment
    says why) when its pyproject's version is dynamic; the text, and a note for the user."""

    def read(path: str) -> str | None:
        target = root / path
        return target.read_text(encoding="utf-8", errors="replace") if target.is_file() else None

    plan = plan_version("pyproject.toml", True, read)
    if not plan.note:
        return config_text, ""
    why = "  # " + plan.note.removeprefix("pyproject.toml: ")
    if plan.file is not None:
        line = f'file = "{plan.file}"'
        text = re.sub(r'(?m)^file = "pyproject.toml".*$', lambda _: line + why, config_text, count=1)
        return text, f"{plan.note}: wrote [version] {line}"
    text = re.sub(r"(?m)^update = true.*$", lambda _: "update = false" + why, config_text, count=1)
    return text, f"{plan.note}: wrote [version] update = false"
