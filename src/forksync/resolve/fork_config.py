"""The fork's own forksync configuration survives every merge, whatever upstream does to it.

Upstream content is untrusted (LESSONS 20): a release that adds or edits `.forksync.toml`, or
`[tool.forksync]` in `pyproject.toml`, must not configure the next run (a `regenerate`
command would execute). Git merges such a change cleanly when the fork never touched the file,
so this is checked after the merge, not only on conflicts: the merged tree gets the fork's
copy back and the change is reported as a reason for review.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import CONFIG_FILE, config_section
from .conflicts import has_markers

GUARDED = (CONFIG_FILE, "pyproject.toml")


@dataclass(frozen=True)
class Kept:
    """What to commit for a guarded file: `content` (None: the file is absent) and why."""

    content: bytes | None
    reason: str


def _changed(name: str, base: bytes | None, upstream: bytes | None) -> bool:
    if name == CONFIG_FILE:
        return base != upstream
    return config_section(name, base) != config_section(name, upstream)


def keep_fork_config(
    name: str, base: bytes | None, fork: bytes | None, upstream: bytes | None, merged: bytes | None
) -> Kept | None:
    """None when upstream left the fork's config alone; otherwise the merged file with the
    fork's config restored, and the reason a reviewer must see."""
    if name not in GUARDED or not _changed(name, base, upstream):
        return None
    why = f"upstream changed {'`[tool.forksync]` in ' if name != CONFIG_FILE else ''}`{name}`"
    if name == CONFIG_FILE:
        return Kept(fork, f"{why}; the fork's copy is kept (upstream never configures the fork)")
    if merged is None or has_markers(merged):
        # Still conflicted: the marker check holds the PR; the config is read from the fork's commit.
        return Kept(merged, f"{why}; the file is left for review and the fork's config still applies")
    restored = _with_fork_section(merged, fork)
    if restored is None:
        return Kept(merged, f"{why}; could not restore the fork's section automatically: review it")
    return Kept(restored, f"{why}; the fork's `[tool.forksync]` is kept (upstream never configures the fork)")


def _with_fork_section(merged: bytes, fork: bytes | None) -> bytes | None:
    """`merged` with its `[tool.forksync]` replaced by the fork's (removed if the fork has none)."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(merged.decode("utf-8"))
        fork_doc = tomlkit.parse(fork.decode("utf-8")) if fork is not None else tomlkit.document()
    except (TOMLKitError, UnicodeDecodeError):
        return None
    fork_tool = fork_doc.get("tool")
    fork_section = fork_tool.get("forksync") if isinstance(fork_tool, dict) else None
    tool = doc.get("tool")
    if fork_section is None:
        if isinstance(tool, dict) and "forksync" in tool:
            del tool["forksync"]
            if not tool:
                del doc["tool"]
    elif isinstance(tool, dict):
        tool["forksync"] = fork_section
    else:
        new_tool = tomlkit.table(is_super_table=True)
        new_tool["forksync"] = fork_section
        doc["tool"] = new_tool
    return tomlkit.dumps(doc).encode("utf-8")
