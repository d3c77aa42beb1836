"""The GitHub Actions workflow `forksync init` writes: which forksync action it uses, pinned
by commit, and how the publishing job gets its token.

forksync is not on PyPI (a `pip install forksync` would install whoever claims the name), so the
workflow runs forksync's own action, pinned by commit. Where that action lives is known from
`--action OWNER/REPO@REF`, or from how this forksync was installed: pip records the repository
and the commit of a VCS install in `direct_url.json` (PEP 610).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata, resources
from typing import Any

from .errors import ConfigError

# Third-party actions, pinned by commit (the tag they stand for in the comment); each sha was
# read from the action's own repository.
PINNED: dict[str, tuple[str, str]] = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/cache": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "actions/create-github-app-token": ("1b10c78c7865c340bc4f6099eb2f838309f1e8c3", "v3.1.1"),
}
TOKEN_CHOICES = ("app", "pat", "github-token")
_SHA = re.compile(r"^[0-9a-f]{40}$")
_ACTION = re.compile(
    r"^(?P<repo>[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+)@(?P<ref>[A-Za-z0-9][A-Za-z0-9._/-]*)$"
)
_GITHUB_URL = re.compile(
    r"^(?:git\+)?(?:https://|ssh://git@|git@)github\.com[/:](?P<repo>[^/]+/[^/]+?)(?:\.git)?/?$"
)


@dataclass(frozen=True)
class ActionRef:
    repo: str  # OWNER/REPO
    ref: str  # a 40-hex commit, or a tag when it could not be pinned offline
    label: str = ""  # the tag the commit stands for

    @property
    def pinned(self) -> bool:
        return bool(_SHA.match(self.ref))

    def uses(self) -> str:
        if self.pinned:
            return f"{self.repo}@{self.ref}" + (f" # {self.label}" if self.label else "")
        return (
            f"{self.repo}@{self.ref} # NOT PINNED: replace {self.ref} with its commit, from "
            f"`git ls-remote https://github.com/{self.repo} refs/tags/{self.ref}`"
        )


def from_direct_url(data: dict[str, Any]) -> ActionRef | None:
    """The repository and commit pip recorded for a git install from GitHub (PEP 610), else None."""
    vcs = data.get("vcs_info")
    url = data.get("url")
    if not isinstance(vcs, dict) or vcs.get("vcs") != "git" or not isinstance(url, str):
        return None
    m = _GITHUB_URL.match(url)
    commit = vcs.get("commit_id")
    if not m or not isinstance(commit, str) or not _SHA.match(commit):
        return None
    label = vcs.get("requested_revision")
    return ActionRef(
        m.group("repo"), commit, label if isinstance(label, str) and not _SHA.match(label) else ""
    )


def installed_action() -> ActionRef | None:
    """Where the running forksync was installed from, if pip installed it from GitHub."""
    try:
        text = metadata.distribution("forksync").read_text("direct_url.json")
        return from_direct_url(json.loads(text)) if text else None
    except (metadata.PackageNotFoundError, ValueError):
        return None


def resolve_action(option: str | None, installed: ActionRef | None) -> ActionRef:
    """The action to write: ``--action OWNER/REPO@REF`` (a tag is pinned when the installed
    forksync came from that very tag), else the installed one; otherwise a one-line error."""
    if not option:
        if installed is None:
            raise ConfigError(
                "cannot tell which forksync action to pin: this forksync was not installed from GitHub",
                hint="pass --action OWNER/REPO@<commit>: the repository that holds forksync's action.yml",
            )
        return installed
    m = _ACTION.match(option.strip())
    if not m or ".." in m.group("ref"):
        raise ConfigError(
            f"--action {option!r} is not OWNER/REPO@REF", hint="e.g. acme/forksync@<commit sha>"
        )
    repo, ref = m.group("repo"), m.group("ref")
    if (
        installed is not None
        and installed.repo.lower() == repo.lower()
        and ref in (installed.label, installed.ref)
    ):
        return ActionRef(repo, installed.ref, installed.label if ref == installed.ref else ref)
    return ActionRef(repo, ref, "")


def cache_version(action: ActionRef) -> str:
    """The forksync part of the cache key: the package version and the action's commit or tag."""
    try:
        version = metadata.version("forksync")
    except metadata.PackageNotFoundError:
        version = "0"
    return f"{version}-{re.sub(r'[^A-Za-z0-9._-]', '-', action.ref)[:12]}"


def _pinned(name: str) -> str:
    sha, tag = PINNED[name]
    return f"{name}@{sha} # {tag}"


def _token_parts(token: str) -> tuple[str, str, str]:
    """(publish job permissions, steps before the checkout, the GITHUB_TOKEN expression)."""
    if token == "app":
        step = (
            "      # A GitHub App's installation token: it can push workflow changes (releases often\n"
            "      # carry some), and pull requests it opens run the fork's CI. Needs the App installed\n"
            "      # on this repository, vars.FORKSYNC_APP_CLIENT_ID and secrets.FORKSYNC_APP_PRIVATE_KEY.\n"
            "      - id: app-token\n"
            f"        uses: {_pinned('actions/create-github-app-token')}\n"
            "        with:\n"
            "          client-id: ${{ vars.FORKSYNC_APP_CLIENT_ID }}\n"
            "          private-key: ${{ secrets.FORKSYNC_APP_PRIVATE_KEY }}\n"
            "          permission-contents: write\n"
            "          permission-pull-requests: write\n"
            "          permission-workflows: write\n"
        )
        perms = "    permissions:\n      contents: read                    # the checkout; the App's token does the rest"
        return perms, step, "${{ steps.app-token.outputs.token }}"
    if token == "pat":
        perms = (
            "    # secrets.FORKSYNC_TOKEN: a fine-grained personal access token for this repository with\n"
            "    # Contents, Pull requests and Workflows: read and write. It can push workflow changes, and\n"
            "    # pull requests it opens run the fork's CI; it acts as the person who made it.\n"
            "    permissions:\n      contents: read                    # the checkout; the token does the rest"
        )
        return perms, "", "${{ secrets.FORKSYNC_TOKEN }}"
    if token == "github-token":
        perms = (
            "    # The built-in GITHUB_TOKEN works, with two limits: it cannot push a sync branch whose\n"
            "    # merge changes .github/workflows/* (upstream releases often do: the push is refused), and\n"
            "    # pull requests it opens do not trigger the fork's CI (re-run it by hand, or use an App).\n"
            "    permissions:\n      contents: write\n      pull-requests: write"
        )
        return perms, "", "${{ secrets.GITHUB_TOKEN }}"
    raise ConfigError(f"--token {token!r}: choose one of {', '.join(TOKEN_CHOICES)}")


def render_workflow(action: ActionRef, branch: str, token: str) -> str:
    """The two-job workflow for ``token`` (app | pat | github-token)."""
    perms, step, expr = _token_parts(token)
    text = resources.files("forksync").joinpath("templates", "workflow.yml").read_text(encoding="utf-8")
    for marker, value in (
        ("@@PUBLISH_PERMISSIONS@@", perms),
        ("@@TOKEN_STEP@@", step),
        ("@@TOKEN@@", expr),
        ("@@CHECKOUT@@", _pinned("actions/checkout")),
        ("@@CACHE@@", _pinned("actions/cache")),
        ("@@UPLOAD@@", _pinned("actions/upload-artifact")),
        ("@@DOWNLOAD@@", _pinned("actions/download-artifact")),
        ("@@ACTION@@", action.uses()),
        ("@@CACHE_VERSION@@", cache_version(action)),
        ("@@BRANCH@@", json.dumps(branch)),
    ):
        text = text.replace(marker, value)
    return text
