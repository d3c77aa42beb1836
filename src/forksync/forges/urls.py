"""Web links derived from a git URL (github.com, GitLab, Enterprise hosts alike).

A link never carries the URL's credentials (`https://user:token@host/…` → `https://host/…`), and
tag names (upstream's) are percent-encoded: a tag cannot end a Markdown link or add a query.
"""

from __future__ import annotations

import re
from urllib.parse import quote

_SCP = re.compile(r"^(?:[\w.-]+@)?([\w.-]+):(?!//)(.+?)(?:\.git)?/?$")
_URL = re.compile(r"^(?:https?|ssh|git)://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+?)(?:\.git)?/?$")


def web_base(git_url: str) -> str | None:
    """https://host/owner/project for a remote URL, or None for local paths."""
    m = _URL.match(git_url) or _SCP.match(git_url)
    if not m or git_url.startswith(("/", ".", "file:")):
        return None
    return f"https://{m.group(1)}/{m.group(2)}"


def compare_url(git_url: str, old: str, new: str) -> str:
    base = web_base(git_url)
    if base is None:
        return ""
    sep = "/-/compare/" if "gitlab" in base else "/compare/"
    return f"{base}{sep}{_ref(old)}...{_ref(new)}"


def release_url(git_url: str, tag: str) -> str:
    base = web_base(git_url)
    if base is None:
        return ""
    return f"{base}/-/releases/{_ref(tag)}" if "gitlab" in base else f"{base}/releases/tag/{_ref(tag)}"


def _ref(name: str) -> str:
    return quote(name, safe="/")
