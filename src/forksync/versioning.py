"""The fork's version: read it, compute the new one, and write it without disturbing layout.

Only the version value changes (tomlkit keeps comments and formatting), so the diff of the
version bump is one line.
"""

from __future__ import annotations

import re
from pathlib import Path

from packaging.version import Version

from .config import Config
from .errors import ConfigError, GitError

_KEYS = (("project", "version"), ("tool", "poetry", "version"))


def read_version_text(text: str, path: str) -> str | None:
    """The version in a pyproject-like TOML text (or a plain VERSION file)."""
    if not path.endswith(".toml"):
        stripped = text.strip()
        return stripped or None
    import tomlkit

    try:
        doc = tomlkit.parse(text)
    except Exception as exc:
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
